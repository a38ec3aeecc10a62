"""A small asyncio HTTP/1.1 client for the Kubernetes API: plain requests and streamed watches.

Why not urllib or the official client: a watch is a response that never ends, read as it
arrives, with a deadline on every wait, and cancellable at any point (Ctrl-C, a timeout, a
reconnect).  asyncio streams plus `httptools` (the parser uvicorn uses) give exactly that in a
few hundred lines.  Idle keep-alive connections are reused for short requests (discovery makes
a few in a row); a stream owns its connection and closes it when done.

Every failure to talk to the server (refused, unresolvable, TLS, timeout, connection lost) is a
`ConnectError` with a one-line message; a non-2xx answer is an `ApiError` carrying the
`Status` the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson

from strom.client.kubeconfig import ClientConfig

__all__ = ["ApiError", "ConnectError", "HttpClient", "Response", "ResponseStream"]

USER_AGENT = "strom-watch/0.1"
_READ_SIZE = 65536
_MAX_IDLE = 4


class ConnectError(Exception):
    """The server could not be reached or the connection broke."""


class ApiError(Exception):
    """The server answered with a non-success status; `status` is the Status object if any."""

    def __init__(self, code: int, status: dict[str, Any] | None, body: bytes = b"") -> None:
        self.code = code
        self.status = status or {}
        self.reason = str(self.status.get("reason", ""))
        message = self.status.get("message") or body.decode("utf-8", "replace").strip()
        self.message = str(message or f"HTTP {code}")
        super().__init__(f"{self.message} ({code} {self.reason})" if self.reason else self.message)

    @classmethod
    def from_response(cls, code: int, body: bytes) -> ApiError:
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        status = parsed if isinstance(parsed, dict) and parsed.get("kind") == "Status" else None
        return cls(code, status, body)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class _Exchange:
    """httptools callbacks for one response; bodies are queued as they are parsed."""

    headers: dict[str, str] = field(default_factory=dict)
    chunks: deque[bytes] = field(default_factory=deque)
    head_done: bool = False
    complete: bool = False
    status: int = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.exchange = _Exchange()
        self.parser: Any = httptools.HttpResponseParser(self.exchange)
        self.bytes_seen = 0

    def reset(self) -> None:
        self.exchange = _Exchange()
        self.parser = httptools.HttpResponseParser(self.exchange)
        self.bytes_seen = 0

    async def feed(self, timeout: float) -> None:
        """Read once from the socket (within `timeout`) and parse what came."""
        try:
            async with asyncio.timeout(timeout):
                data = await self.reader.read(_READ_SIZE)
        except TimeoutError as exc:
            raise ConnectError(f"no data from the server for {timeout:g}s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"connection lost: {_describe(exc)}") from exc
        if not data:
            raise ConnectError("connection closed by the server")
        self.bytes_seen += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise ConnectError(f"malformed HTTP response: {exc}") from exc
        if self.exchange.head_done and not self.exchange.status:
            self.exchange.status = self.parser.get_status_code()

    def reusable(self) -> bool:
        return self.exchange.complete and bool(self.parser.should_keep_alive())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class ResponseStream:
    """A response read as it arrives: `status`, `headers`, then `lines()` or `read_all()`."""

    def __init__(self, conn: _Connection, *, idle_timeout: float) -> None:
        self._conn = conn
        self.idle_timeout = idle_timeout

    @property
    def status(self) -> int:
        return self._conn.exchange.status

    @property
    def headers(self) -> dict[str, str]:
        return self._conn.exchange.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as parsed; each wait for data is bounded by `idle_timeout`."""
        exchange = self._conn.exchange
        while True:
            while exchange.chunks:
                yield exchange.chunks.popleft()
            if exchange.complete:
                return
            await self._conn.feed(self.idle_timeout)

    async def lines(self) -> AsyncIterator[bytes]:
        """Newline-framed records (the JSON watch framing), without the newline."""
        pending = b""
        async for chunk in self.chunks():
            pending += chunk
            *whole, pending = pending.split(b"\n")
            for line in whole:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


class HttpClient:
    """Requests to one API server as one user (a resolved kubeconfig context)."""

    def __init__(
        self, config: ClientConfig, *, connect_timeout: float = 10.0, timeout: float = 30.0
    ) -> None:
        self.config = config
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._ssl = config.ssl_context()
        self._idle: list[_Connection] = []

    async def get(self, path: str, *, accept: str = "application/json") -> Response:
        """GET `path`; raises ApiError for a non-2xx answer."""
        response = await self.request("GET", path, accept=accept)
        if not 200 <= response.status < 300:
            raise ApiError.from_response(response.status, response.body)
        return response

    async def request(self, method: str, path: str, *, accept: str) -> Response:
        """One request on a reused or new connection; the whole body, whatever the status."""
        async with asyncio.timeout(self.timeout):
            for attempt in range(2):
                conn, reused = await self._checkout()
                try:
                    async with self._exchange(conn, method, path, accept, self.timeout) as stream:
                        body = await stream.read_all()
                        response = Response(stream.status, dict(stream.headers), body)
                except ConnectError:
                    conn.close()
                    # A reused keep-alive connection the server already closed: retry once.
                    if reused and conn.bytes_seen == 0 and attempt == 0:
                        continue
                    raise
                self._checkin(conn)
                return response
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, *, idle_timeout: float, accept: str = "application/json"
    ) -> AsyncIterator[ResponseStream]:
        """GET `path` on a connection of its own; closed when the block ends."""
        conn = await self._connect()
        try:
            async with self._exchange(conn, "GET", path, accept, idle_timeout) as stream:
                yield stream
        finally:
            conn.close()

    @contextlib.asynccontextmanager
    async def _exchange(
        self, conn: _Connection, method: str, path: str, accept: str, timeout: float
    ) -> AsyncIterator[ResponseStream]:
        conn.reset()
        conn.writer.write(self._request_head(method, path, accept))
        try:
            async with asyncio.timeout(timeout):
                await conn.writer.drain()
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise ConnectError(f"cannot send the request: {_describe(exc)}") from exc
        while not conn.exchange.head_done:
            await conn.feed(timeout)
        yield ResponseStream(conn, idle_timeout=timeout)

    def _request_head(self, method: str, path: str, accept: str) -> bytes:
        cfg = self.config
        default_port = 443 if cfg.is_tls else 80
        host = cfg.host if cfg.port == default_port else f"{cfg.host}:{cfg.port}"
        if ":" in cfg.host:
            host = f"[{cfg.host}]" + ("" if cfg.port == default_port else f":{cfg.port}")
        lines = [
            f"{method} {cfg.path_prefix}{path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {USER_AGENT}",
            f"Accept: {accept}",
        ]
        auth = cfg.authorization()
        if auth:
            lines.append(f"Authorization: {auth}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _checkout(self) -> tuple[_Connection, bool]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof():
                return conn, True
            conn.close()
        return await self._connect(), False

    def _checkin(self, conn: _Connection) -> None:
        if conn.reusable() and len(self._idle) < _MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Connection:
        cfg = self.config
        server_hostname = (cfg.tls_server_name or cfg.host) if self._ssl else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    cfg.host,
                    cfg.port,
                    ssl=self._ssl,
                    server_hostname=server_hostname,
                    limit=_READ_SIZE * 4,
                )
        except TimeoutError as exc:
            raise ConnectError(
                f"cannot reach {cfg.server}: timed out after {self.connect_timeout:g}s"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"cannot reach {cfg.server}: {_describe(exc)}") from exc
        return _Connection(reader, writer)

    async def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _describe(exc: BaseException) -> str:
    """A short human reason for a socket/TLS failure (no errno soup)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno is None and "Connect call failed" in str(exc):
        return "connection refused"  # every address refused (asyncio's "Multiple exceptions")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__
