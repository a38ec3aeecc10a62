"""Read kubeconfig files the way kubectl does, and turn the chosen context into TLS settings.

Precedence follows client-go's `clientcmd` loading rules, so a file that works with kubectl
works here unchanged:

* an explicit path (`--kubeconfig`) is the only file read, and must exist;
* otherwise `KUBECONFIG` (a `:`-separated list) is merged: for every named cluster, user and
  context, and for `current-context`, the first file that sets it wins; missing files are
  skipped;
* otherwise `~/.kube/config`.

Relative file references (`certificate-authority`, `client-certificate`, `client-key`,
`tokenFile`) are relative to the file that names them, as in client-go.  `exec` and
`auth-provider` credential plugins are not supported: such a user gets a clear error.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["ClientConfig", "KubeconfigError", "load_config"]

_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}


class KubeconfigError(Exception):
    """The kubeconfig is missing, malformed, or names something that does not exist."""


@dataclass(frozen=True)
class ClientConfig:
    """Everything needed to reach one API server as one user (a resolved context)."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    context_name: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.server).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.server)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def is_tls(self) -> bool:
        return urlsplit(self.server).scheme != "http"

    @property
    def path_prefix(self) -> str:
        """A server URL may carry a path (`https://host/k8s/clusters/x`); requests go under it."""
        return urlsplit(self.server).path.rstrip("/")

    def bearer_token(self) -> str | None:
        """The token, re-reading `tokenFile` each time: projected tokens rotate on disk."""
        if self.token:
            return self.token
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise KubeconfigError(f"cannot read token file {self.token_file}: {exc}") from exc
        return None

    def authorization(self) -> str | None:
        token = self.bearer_token()
        if token:
            return f"Bearer {token}"
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context; `SSLKEYLOGFILE` is honoured so captures can be decrypted."""
        if not self.is_tls:
            return None
        if self.ca_data is not None and not self.insecure:
            # A kubeconfig CA replaces the system roots (client-go's RootCAs), not adds to them.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        else:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data is not None:
            try:
                ctx.load_verify_locations(cadata=self.ca_data.decode("ascii", "replace"))
            except ssl.SSLError as exc:
                raise KubeconfigError(f"bad certificate authority data: {exc}") from exc
        if self.client_cert_data is not None and self.client_key_data is not None:
            _load_client_pair(ctx, self.client_cert_data, self.client_key_data)
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog:
            ctx.keylog_filename = keylog
        return ctx


def _load_client_pair(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """`ssl` loads client certificates only from files: write them to a private temp dir."""
    with tempfile.TemporaryDirectory(prefix="strom-client-") as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise KubeconfigError(f"bad client certificate or key: {exc}") from exc


def kubeconfig_paths(explicit: str | os.PathLike[str] | None) -> tuple[list[Path], bool]:
    """The files to read, and whether they must exist (only an explicit path must)."""
    if explicit is not None:
        return [Path(explicit).expanduser()], True
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p], False
    return [Path.home() / ".kube" / "config"], False


def load_config(
    kubeconfig: str | os.PathLike[str] | None = None, *, context: str | None = None
) -> ClientConfig:
    """Resolve the (current or named) context of the merged kubeconfig into a ClientConfig."""
    paths, required = kubeconfig_paths(kubeconfig)
    merged = _Merged()
    for path in paths:
        doc = _read(path, required=required)
        if doc is not None:
            merged.add(doc, path.parent)
    if not merged.seen_any:
        where = ", ".join(str(p) for p in paths)
        raise KubeconfigError(f"no kubeconfig found (looked at {where})")
    return merged.resolve(context)


def _read(path: Path, *, required: bool) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        if required:
            raise KubeconfigError(f"kubeconfig {path} does not exist") from exc
        return None
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping")
    return doc


class _Merged:
    """clientcmd's merge: the first file to define a name (or current-context) wins."""

    def __init__(self) -> None:
        self.seen_any = False
        self.current_context = ""
        self.entries: dict[str, dict[str, dict[str, Any]]] = {
            "cluster": {},
            "user": {},
            "context": {},
        }

    def add(self, doc: dict[str, Any], base: Path) -> None:
        self.seen_any = True
        if not self.current_context and isinstance(doc.get("current-context"), str):
            self.current_context = doc["current-context"]
        for kind, table in self.entries.items():
            for item in doc.get(f"{kind}s") or []:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    continue
                body = item.get(kind) or {}
                if item["name"] not in table and isinstance(body, dict):
                    table[item["name"]] = _absolutise(kind, body, base)

    def resolve(self, context: str | None) -> ClientConfig:
        name = context or self.current_context
        if not name:
            raise KubeconfigError("no context chosen: kubeconfig has no current-context")
        ctx = self.entries["context"].get(name)
        if ctx is None:
            raise KubeconfigError(f'context "{name}" does not exist')
        cluster = self.entries["cluster"].get(str(ctx.get("cluster", "")))
        if cluster is None:
            raise KubeconfigError(f'cluster "{ctx.get("cluster")}" of context "{name}" not found')
        user_name = str(ctx.get("user", ""))
        user = self.entries["user"].get(user_name, {})
        if not user and user_name:
            raise KubeconfigError(f'user "{user_name}" of context "{name}" not found')
        return _client_config(name, ctx, cluster, user)


def _absolutise(kind: str, body: dict[str, Any], base: Path) -> dict[str, Any]:
    fixed = dict(body)
    for key in _FILE_FIELDS.get(kind, ()):
        value = fixed.get(key)
        if isinstance(value, str) and value:
            fixed[key] = str(base / Path(value).expanduser())
    return fixed


def _client_config(
    name: str, ctx: dict[str, Any], cluster: dict[str, Any], user: dict[str, Any]
) -> ClientConfig:
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f'cluster of context "{name}" has no server')
    if "exec" in user or "auth-provider" in user:
        raise KubeconfigError(
            f'context "{name}": exec and auth-provider credential plugins are not supported'
        )
    cert = _data_or_file(user, "client-certificate")
    key = _data_or_file(user, "client-key")
    if (cert is None) != (key is None):
        raise KubeconfigError(f'context "{name}": client certificate and key must come together')
    token_file = user.get("tokenFile")
    return ClientConfig(
        server=server.rstrip("/"),
        namespace=str(ctx.get("namespace") or "default"),
        ca_data=_data_or_file(cluster, "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        token=user.get("token") or None,
        token_file=Path(token_file) if token_file else None,
        username=user.get("username"),
        password=user.get("password"),
        client_cert_data=cert,
        client_key_data=key,
        context_name=name,
    )


def _data_or_file(section: dict[str, Any], field: str) -> bytes | None:
    """`<field>-data` (base64, wins, as in client-go) or the file `<field>` names."""
    data = section.get(f"{field}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=False)
        except ValueError as exc:
            raise KubeconfigError(f"{field}-data is not valid base64") from exc
    path = section.get(field)
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"cannot read {field} {path}: {exc}") from exc
    return None
