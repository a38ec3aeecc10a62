"""Where a webhook's `clientConfig` points: a URL, or a Service resolved to an endpoint.

strom runs no kube-proxy, so a Service reference is resolved the way kube-apiserver does with
`--enable-aggregator-routing`: to a ready address of the Service's EndpointSlices (else its
Endpoints) and the endpoint port behind the Service port, while TLS still verifies the
certificate for `<name>.<namespace>.svc`. Both admission and conversion webhooks use it; the
URL names `?timeout=<n>s` as kube's webhook client does.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from strom.cache.state import StateCache
from strom.registry.kinds import BUILTIN

from .webhook_client import Target

__all__ = ["TargetError", "resolve_target"]

_SERVICES = next(t for t in BUILTIN if t.group == "" and t.plural == "services")
_ENDPOINT_SLICES = next(t for t in BUILTIN if t.plural == "endpointslices")
_ENDPOINTS = next(t for t in BUILTIN if t.group == "" and t.plural == "endpoints")


class TargetError(Exception):
    """No address to call (kube's text follows `failed to call webhook: `)."""


def resolve_target(
    cache: StateCache,
    url: str,
    service: Mapping[str, Any] | None,
    ca_bundle: bytes,
    timeout_seconds: int,
) -> Target:
    timeout = f"timeout={timeout_seconds}s"
    if url:
        parts = urllib.parse.urlsplit(url)
        query = f"{parts.query}&{timeout}" if parts.query else timeout
        full = urllib.parse.urlunsplit(parts._replace(query=query))
        host = parts.hostname or ""
        return Target(full, host, parts.port or 443, host, ca_bundle)
    service = service or {}
    namespace, name = str(service.get("namespace") or ""), str(service.get("name") or "")
    port = int(service.get("port") or 443)
    path = str(service.get("path") or "/")
    server_name = f"{name}.{namespace}.svc"
    full = f"https://{server_name}:{port}{path}?{timeout}"
    host, target_port = _endpoint(cache, namespace, name, port, full)
    return Target(full, host, target_port, server_name, ca_bundle)


def _endpoint(
    cache: StateCache, namespace: str, name: str, port: int, url: str
) -> tuple[str, int]:
    services = cache.state(_SERVICES.key_prefix)
    svc = services.get(_SERVICES.key(namespace, name)) if services is not None else None
    if svc is None:
        raise TargetError(f'Post "{url}": service "{namespace}/{name}" not found')
    port_name, target = "", port
    for entry in (svc.obj.get("spec") or {}).get("ports") or ():
        if int(entry.get("port") or 0) == port:
            port_name = str(entry.get("name") or "")
            target_port = entry.get("targetPort", port)
            target = target_port if isinstance(target_port, int) else port
            break
    found = _from_slices(cache, namespace, name, port_name) or _from_endpoints(
        cache, namespace, name, port_name
    )
    if found is None:
        raise TargetError(
            f'Post "{url}": no endpoints available for service "{namespace}/{name}"'
        )
    address, endpoint_port = found
    return address, endpoint_port or target


def _port(ports: Any, port_name: str) -> int:
    for entry in ports or ():
        if (entry.get("name") or "") == port_name:
            return int(entry.get("port") or 0)
    return 0


def _from_slices(
    cache: StateCache, namespace: str, name: str, port_name: str
) -> tuple[str, int] | None:
    state = cache.state(_ENDPOINT_SLICES.key_prefix)
    if state is None:
        return None
    for entry in state.scan(_ENDPOINT_SLICES.prefix_for(namespace)):
        meta = entry.obj.get("metadata") or {}
        if (meta.get("labels") or {}).get("kubernetes.io/service-name") != name:
            continue
        port = _port(entry.obj.get("ports"), port_name)
        for endpoint in entry.obj.get("endpoints") or ():
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or ():
                return str(address), port
    return None


def _from_endpoints(
    cache: StateCache, namespace: str, name: str, port_name: str
) -> tuple[str, int] | None:
    state = cache.state(_ENDPOINTS.key_prefix)
    entry = state.get(_ENDPOINTS.key(namespace, name)) if state is not None else None
    if entry is None:
        return None
    for subset in entry.obj.get("subsets") or ():
        port = _port(subset.get("ports"), port_name)
        for address in subset.get("addresses") or ():
            if address.get("ip"):
                return str(address["ip"]), port
    return None
