"""Write the admin kubeconfig that strom hands to kubectl, client libraries and scripts.

Everything is embedded (`*-data` fields) so the file is self-contained and can be copied
anywhere.  It is written atomically because scripts treat its appearance as "the server is
ready": a reader must never see a partial YAML document.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from strom.pki.certs import atomic_write

__all__ = ["kubeconfig_name", "write_kubeconfig"]

KUBECONFIG_MODE = 0o600


def kubeconfig_name(server: str) -> str:
    """`strom-<port>`: the cluster's and context's name, unique per server on a machine, so
    kubeconfigs of several servers merge (KUBECONFIG=a:b) without one hiding the other."""
    port = server.rsplit(":", 1)[-1].split("/", 1)[0]
    return f"strom-{port}" if port.isdigit() else "strom"



def write_kubeconfig(
    *,
    path: Path,
    server: str,
    ca_pem: bytes,
    token: str,
    client_cert_pem: bytes | None,
    client_key_pem: bytes | None,
    user: str = "admin",
) -> None:
    """Write a kubeconfig: context `strom-<port>` (bearer token, user `<user>@strom-<port>`)
    and, if a cert/key pair is given, context `strom-<port>-cert` (client certificate); the
    token context is current."""
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem must be given together")
    name = kubeconfig_name(server)
    token_user = f"{user}@{name}"
    users: list[dict[str, Any]] = [{"name": token_user, "user": {"token": token}}]
    contexts: list[dict[str, Any]] = [_context(name, token_user, name)]
    if client_cert_pem is not None and client_key_pem is not None:
        cert_user = f"{user}-cert@{name}"
        users.append(
            {
                "name": cert_user,
                "user": {
                    "client-certificate-data": _b64(client_cert_pem),
                    "client-key-data": _b64(client_key_pem),
                },
            }
        )
        contexts.append(_context(f"{name}-cert", cert_user, name))
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": users,
        "contexts": contexts,
        "current-context": name,
        "preferences": {},
    }
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"), mode=KUBECONFIG_MODE)


def _context(name: str, user: str, cluster: str) -> dict[str, Any]:
    return {"name": name, "context": {"cluster": cluster, "user": user}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
