"""GET /api/v1/componentstatuses: the deprecated health view, probed as kube-apiserver probes.

kube-apiserver lists the control-plane processes it knows - kube-controller-manager and
kube-scheduler at their secure ports on 127.0.0.1 (`/healthz`, certificate not verified), and
its storage - and asks each on every request; nothing is stored. strom does the same: the
two probes go where kube's go (strom runs its own controllers in process, but no scheduler,
so a cluster without those processes answers Unhealthy exactly as kube would), and the
storage entry asks strom's store (`etcd-0` on etcd, `sqlite` embedded).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from strom.errors import StatusError
from strom.storage.base import Store

__all__ = ["DEPRECATION_WARNING", "component_status", "component_status_list"]

DEPRECATION_WARNING = "v1 ComponentStatus is deprecated in v1.19+"
_PROBES = {
    "controller-manager": ("127.0.0.1", 10257),
    "scheduler": ("127.0.0.1", 10259),
}
_TIMEOUT = 5.0  # kube waits up to 20 s; a refused connection answers at once either way
_MAX_BODY = 4096


def _condition(healthy: bool, message: str, error: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Healthy", "status": "True" if healthy else "False"}
    if message:
        out["message"] = message
    if error:
        out["error"] = error
    return out


async def _probe_http(name: str) -> dict[str, Any]:
    host, port = _PROBES[name]
    url = f"https://{host}:{port}/healthz"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            try:
                request = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n"
                writer.write(f"{request}Connection: close\r\n\r\n".encode())
                await writer.drain()
                data = await reader.read(_MAX_BODY)
                while len(data) < _MAX_BODY:
                    more = await reader.read(_MAX_BODY - len(data))
                    if not more:
                        break
                    data += more
            finally:
                writer.close()
    except ConnectionRefusedError:
        return _condition(
            False, "", f'Get "{url}": dial tcp {host}:{port}: connect: connection refused'
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return _condition(False, "", f'Get "{url}": {exc}')
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    text = body.decode("utf-8", "replace").strip()
    if len(parts) >= 2 and parts[1] == "200":
        return _condition(True, text, "")
    return _condition(False, "", f"{status_line.partition(' ')[2]}: {text}")


async def _probe_store(store: Store) -> dict[str, Any]:
    try:
        await store.check_health()
    except Exception as exc:  # any failure of the store is its health answer
        return _condition(False, "", str(exc))
    return _condition(True, "ok", "")


def _storage_name(store: Store) -> str:
    return "etcd-0" if store.health_check_name == "etcd" else store.health_check_name


def _item(name: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "conditions": [condition]}


async def component_status(store: Store, name: str) -> dict[str, Any]:
    """One component, probed now; 404 as kube words it for a name it does not know."""
    if name in _PROBES:
        return _item(name, await _probe_http(name))
    if name == _storage_name(store):
        return _item(name, await _probe_store(store))
    raise StatusError.not_found("componentstatus", name)


async def component_status_list(store: Store) -> list[dict[str, Any]]:
    names = sorted([*_PROBES, _storage_name(store)])
    return list(await asyncio.gather(*(component_status(store, n) for n in names)))
