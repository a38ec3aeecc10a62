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

__all__ = ["CERT_CONTEXT", "CLUSTER_NAME", "TOKEN_CONTEXT", "write_kubeconfig"]

CLUSTER_NAME = "strom"
TOKEN_CONTEXT = "strom"
CERT_CONTEXT = "strom-cert"
KUBECONFIG_MODE = 0o600


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
    """Write a kubeconfig: context `strom` (bearer token) and, if a cert/key pair is given,
    context `strom-cert` (client certificate); current-context is `strom`."""
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem must be given together")
    users: list[dict[str, Any]] = [{"name": user, "user": {"token": token}}]
    contexts: list[dict[str, Any]] = [_context(TOKEN_CONTEXT, user)]
    if client_cert_pem is not None and client_key_pem is not None:
        cert_user = f"{user}-cert"
        users.append(
            {
                "name": cert_user,
                "user": {
                    "client-certificate-data": _b64(client_cert_pem),
                    "client-key-data": _b64(client_key_pem),
                },
            }
        )
        contexts.append(_context(CERT_CONTEXT, cert_user))
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": users,
        "contexts": contexts,
        "current-context": TOKEN_CONTEXT,
        "preferences": {},
    }
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"), mode=KUBECONFIG_MODE)


def _context(name: str, user: str) -> dict[str, Any]:
    return {"name": name, "context": {"cluster": CLUSTER_NAME, "user": user}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
