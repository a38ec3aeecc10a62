"""Where the tap forwards to, and with whose credentials: the upstream kubeconfig, parsed here.

The tap is a debugging tool that must work against any cluster kubectl can reach, so it reads
the kubeconfig the way client-go does (current or named context, embedded `*-data` or file
references relative to the kubeconfig, `insecure-skip-tls-verify`, `tls-server-name`) and
turns it into one TLS client context plus the `Authorization` header to put on every forwarded
request.  Credential plugins (`exec`, `auth-provider`) are refused with a clear message rather
than silently forwarding unauthenticated requests.

`check_version` is the start-up probe: a GET of `/version` with a deadline, so a wrong address
or rejected credentials end the command with one line instead of 502s later.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson
import yaml

__all__ = ["TapError", "Upstream", "check_version", "keylog_file", "load_upstream"]


class TapError(Exception):
    """A problem the user can fix (arguments, kubeconfig, upstream); the message is one line."""


@dataclass(frozen=True)
class Upstream:
    """The API server behind the tap: address, TLS settings and the credential header."""

    url: str
    host: str
    port: int
    server_hostname: str | None
    path_prefix: str
    ssl_context: ssl.SSLContext | None
    authorization: str | None
    identity: str = ""  # who the tap is upstream, in words (the status line tells the user)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.ssl_context is not None else 80
        return host if self.port == default else f"{host}:{self.port}"


def keylog_file() -> str | None:
    """`SSLKEYLOGFILE`, the convention curl, browsers and Go's tools share for NSS key logs."""
    return os.environ.get("SSLKEYLOGFILE") or None


def load_upstream(path: Path, *, context: str | None) -> Upstream:
    """Parse `path` and return the upstream of `context` (default: current-context)."""
    config = _read_yaml(path)
    ctx_name = context or config.get("current-context") or ""
    if not ctx_name:
        raise TapError(f"{path}: no current-context set; pass --context")
    ctx = _named(config, "contexts", ctx_name, path, what="context")
    cluster = _named(config, "clusters", str(ctx.get("cluster", "")), path, what="cluster")
    user_name = str(ctx.get("user", ""))
    user = _named(config, "users", user_name, path, what="user") if user_name else {}
    base = path.parent
    server = str(cluster.get("server") or "")
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TapError(f"{path}: cluster server {server!r} is not an http(s) URL")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise TapError(f"{path}: cluster server {server!r} has a bad port") from None
    return Upstream(
        url=server,
        host=parts.hostname,
        port=port,
        server_hostname=(cluster.get("tls-server-name") or parts.hostname) if tls else None,
        path_prefix=parts.path.rstrip("/"),
        ssl_context=_client_context(cluster, user, base) if tls else None,
        authorization=(authorization := _authorization(user, base, user_name)),
        identity=_identity(user, base, user_name, authorization),
    )


def _identity(
    user: dict[str, Any], base: Path, name: str, authorization: str | None
) -> str:
    """What the tap presents upstream: every client of the tap acts as this identity."""
    if authorization is not None:
        kind = "a bearer token" if authorization.startswith("Bearer ") else "basic auth"
        return f'{kind} (kubeconfig user "{name}")'
    cert = _file_or_data(user, "client-certificate", base)
    if cert is None:
        return "no credentials"
    from cryptography import x509

    try:
        subject = x509.load_pem_x509_certificate(cert).subject.rfc4514_string()
    except ValueError:
        subject = "unreadable subject"
    return f'the client certificate {subject} (kubeconfig user "{name}")'



# --------------------------------------------------------------------------- kubeconfig


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TapError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TapError(f"{path} is not valid YAML: {first}") from None
    if not isinstance(config, dict):
        raise TapError(f"{path} is not a kubeconfig (expected a mapping)")
    return config


def _named(
    config: dict[str, Any], section: str, name: str, path: Path, *, what: str
) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise TapError(f'{path}: {what} "{name}" does not exist')


def _file_or_data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """`key-data` (base64) wins over `key` (a path relative to the kubeconfig), as client-go."""
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError:
            raise TapError(f"{key}-data is not valid base64") from None
    ref = section.get(key)
    if not ref:
        return None
    file = Path(os.path.expanduser(str(ref)))
    file = file if file.is_absolute() else base / file
    try:
        return file.read_bytes()
    except OSError as exc:
        raise TapError(f"cannot read {key} {file}: {exc.strerror or exc}") from None


def _client_context(cluster: dict[str, Any], user: dict[str, Any], base: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = _file_or_data(cluster, "certificate-authority", base)
        try:
            if ca is None:
                ctx.load_default_certs()
            else:
                ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise TapError(f"certificate-authority is not a usable PEM bundle: {exc}") from None
    cert = _file_or_data(user, "client-certificate", base)
    key = _file_or_data(user, "client-key", base)
    if (cert is None) != (key is None):
        raise TapError("user has client-certificate without client-key (or the reverse)")
    if cert is not None and key is not None:
        _load_cert_chain(ctx, cert, key)
    if (log := keylog_file()) is not None:
        ctx.keylog_filename = log
    return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can only load a chain from files; a private temp dir holds them just long enough.
    with tempfile.TemporaryDirectory(prefix="strom-tap-") as tmp:
        cert_file, key_file = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        cert_file.write_bytes(cert)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            ctx.load_cert_chain(certfile=cert_file, keyfile=key_file)
        except ssl.SSLError as exc:
            raise TapError(f"client certificate/key are not usable: {exc}") from None


def _authorization(user: dict[str, Any], base: Path, name: str) -> str | None:
    for plugin in ("exec", "auth-provider"):
        if user.get(plugin):
            raise TapError(f'user "{name}" uses an {plugin} credential plugin; not supported')
    token = user.get("token")
    if not token:
        raw = _file_or_data({"tokenFile": user.get("tokenFile")}, "tokenFile", base)
        token = raw.decode("utf-8", "replace").strip() if raw else None
    if token:
        return f"Bearer {token}"
    if user.get("username") and user.get("password"):
        pair = f"{user['username']}:{user['password']}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


# --------------------------------------------------------------------------- probe


class _HeadReader:
    """httptools callbacks that keep just what `/version` needs."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False

    def on_body(self, body: bytes) -> None:
        if len(self.body) < 65536:
            self.body += body

    def on_message_complete(self) -> None:
        self.done = True


async def check_version(upstream: Upstream, *, timeout: float) -> str:
    """GET /version within `timeout`; return gitVersion, or raise TapError saying what failed."""
    try:
        return await asyncio.wait_for(_get_version(upstream), timeout)
    except TimeoutError:
        raise TapError(f"upstream {upstream.url} did not answer within {timeout:g}s") from None
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc) or type(exc).__name__
        raise TapError(f"cannot reach upstream {upstream.url}: {reason}") from None


async def _get_version(upstream: Upstream) -> str:
    reader, writer = await asyncio.open_connection(
        upstream.host,
        upstream.port,
        ssl=upstream.ssl_context,
        server_hostname=upstream.server_hostname,
    )
    try:
        head = [
            f"GET {upstream.path_prefix}/version HTTP/1.1",
            f"Host: {upstream.host_header}",
            "User-Agent: strom-tap",
            "Accept: application/json",
            "Connection: close",
        ]
        if upstream.authorization:
            head.append(f"Authorization: {upstream.authorization}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        sink = _HeadReader()
        parser = httptools.HttpResponseParser(sink)
        while not sink.done:
            chunk = await reader.read(65536)
            if not chunk:
                break
            parser.feed_data(chunk)
        status = parser.get_status_code()
    except httptools.HttpParserError:
        raise TapError(f"upstream {upstream.url} does not speak HTTP/1.1") from None
    finally:
        writer.close()
    if status != 200:
        raise TapError(f"upstream {upstream.url} answered /version with HTTP {status}")
    try:
        version = orjson.loads(bytes(sink.body)).get("gitVersion", "")
    except (orjson.JSONDecodeError, AttributeError):
        version = ""
    return str(version)
