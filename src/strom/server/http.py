"""HTTP/1.1 over TLS on asyncio transports: parsing with httptools, responses and chunked streams.

Why not a framework: the watch path writes the same bytes to thousands of connections, and
what decides throughput is the number of writes (see docs/http-stack.md). So a connection here
is an `asyncio.Protocol` whose transport the watch dispatcher may write to directly, with
backpressure visible as `write_buffer_size()` and `drain()`. Requests on one connection are
handled one after another (HTTP/1.1 pipelining order), each by one task owned by the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httptools

from strom.errors import StatusError

__all__ = ["Connection", "Handler", "Request", "Response", "Stream"]

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request body limit (3 MiB)
_MAX_HEADER_BYTES = 1024 * 1024
# Go's net/http switches to chunked encoding for bodies over its 2 KiB write buffer.
_CONTENT_LENGTH_MAX = 2048

_REASONS = {
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    204: b"No Content",
    304: b"Not Modified",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    409: b"Conflict",
    410: b"Gone",
    413: b"Request Entity Too Large",
    415: b"Unsupported Media Type",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded path
    raw_query: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    peer_cert: dict[str, Any] | None
    remote: str
    received: float = field(default_factory=time.time)
    # Impersonate-* headers one by one: `headers` joins repeats, and a group may hold ", ".
    impersonation: list[tuple[str, str]] = field(default_factory=list)
    _query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True)
        return self._query

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


class Stream:
    """A streamed (chunked) response: the handler's `run` writes chunks until it returns."""

    def __init__(
        self,
        run: Callable[[Connection], Awaitable[None]],
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.run = run
        self.status = status
        self.content_type = content_type
        self.headers = headers or []
        # (on_start, on_end) pairs called around `run` (metrics): cheaper than wrapping `run`
        # in another coroutine that would live as long as the stream.
        self.hooks: list[tuple[Callable[[], None], Callable[[], None]]] = []


Handler = Callable[[Request], Awaitable[Response | Stream]]


class _Date:
    """The Date header, formatted once a second."""

    value = b""
    second = -1

    @classmethod
    def get(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()
        return cls.value


def _head(status: int, content_type: str, headers: list[tuple[str, str]], extra: bytes) -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
    for name, value in headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    if content_type:
        parts.append(b"Content-Type: %s\r\n" % content_type.encode())
    parts.append(b"Date: %s\r\n" % _Date.get())
    parts.append(extra)
    parts.append(b"\r\n")
    return b"".join(parts)


class Connection(asyncio.Protocol):
    """One client connection.

    Per-connection state (event loop only):
      transport: set in connection_made; None after connection_lost.
      _parser / _cur_*: the request being parsed.
      _pending: parsed requests not yet handled (bounded by reading pauses).
      _worker: the task handling `_pending`, one at a time; owned and cancelled here.
      _can_write: cleared while the transport asks us to pause writing.
    """

    # Slots: thousands of idle watch connections make per-connection bytes count.
    __slots__ = (
        "_body",
        "_body_size",
        "_can_write",
        "_close_callbacks",
        "_closed",
        "_handler",
        "_headers",
        "_impersonation",
        "_parser",
        "_pending",
        "_too_large",
        "_tracker",
        "_url",
        "_worker",
        "bytes_while_paused",
        "closing",
        "paused_since",
        "peer_cert",
        "remote",
        "streaming",
        "transport",
    )

    def __init__(self, handler: Handler, tracker: set[Connection]) -> None:
        self._handler = handler
        self._tracker = tracker
        self.transport: asyncio.Transport | None = None
        self._parser: Any = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._impersonation: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._too_large = False
        self._pending: list[Request] = []
        self._worker: asyncio.Task[None] | None = None
        # Created on first use: most connections never wait for either.
        self._can_write: asyncio.Event | None = None
        self._closed: asyncio.Future[None] | None = None
        self.peer_cert: dict[str, Any] | None = None
        self.remote = ""
        self.streaming = False
        self.closing = False
        # Backpressure as the watch fan-out sees it: when the transport asked us to pause,
        # and how much was written since (the transport buffers it all in user space).
        self.paused_since = 0.0
        self.bytes_while_paused = 0
        self._close_callbacks: list[Callable[[], None]] = []

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's SSL transport is not an asyncio.Transport subclass but has its interface.
        tr: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = tr
        self._tracker.add(self)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.peer_cert = ssl_object.getpeercert() or None
        peer = transport.get_extra_info("peername")
        self.remote = str(peer[0]) if peer else ""
        tr.set_write_buffer_limits(high=256 * 1024)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._tracker.discard(self)
        if self._can_write is not None:
            self._can_write.set()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        for callback in self._close_callbacks:
            callback()
        self._close_callbacks = []
        if self._worker is not None and not self.streaming:
            self._worker.cancel()

    def pause_writing(self) -> None:
        if self._can_write is None:
            self._can_write = asyncio.Event()
        self._can_write.clear()
        self.paused_since = time.monotonic()
        self.bytes_while_paused = 0

    def resume_writing(self) -> None:
        if self._can_write is not None:
            self._can_write.set()
        self.paused_since = 0.0

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            self._parser = httptools.HttpRequestParser(self)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrade not supported")
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    # --- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._impersonation = []
        self._body = []
        self._body_size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self._headers.get(key)
        self._headers[key] = text if old is None else f"{old}, {text}"
        if key.startswith("impersonate-"):
            self._impersonation.append((key, text))

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            self._too_large = True

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            self._too_large = True
            self._body = []
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self._url)
        method = self._parser.get_method().decode()
        path = unquote(parsed.path.decode("latin-1"))
        query = parsed.query.decode("latin-1") if parsed.query else ""
        request = Request(
            method=method,
            path=path,
            raw_query=query,
            headers=self._headers,
            body=b"".join(self._body),
            peer_cert=self.peer_cert,
            remote=self.remote,
            impersonation=self._impersonation,
        )
        # The request owns these now; the connection keeps nothing of it (a watch's request
        # would otherwise stay alive as long as the watch).
        self._url, self._headers, self._body, self._impersonation = b"", {}, [], []
        if self._too_large:
            request.headers["x-strom-too-large"] = "1"
        self._pending.append(request)
        if len(self._pending) > 16 and self.transport is not None:
            self.transport.pause_reading()  # a client pipelining too far waits for us
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name=f"http-conn-{self.remote}"
            )

    # --- handling ------------------------------------------------------------------------
    async def _work(self) -> None:
        try:
            while self._pending and self.transport is not None:
                if self.transport is not None and len(self._pending) <= 17:
                    self.transport.resume_reading()
                # No local reference: a watch's request must not live as long as the watch.
                keep_alive = await self._handle(self._pending.pop(0)) and not self.closing
                if not keep_alive:
                    self.close()
                    return
        finally:
            self._worker = None

    async def _handle(self, request: Request) -> bool:
        keep_alive = request.headers.get("connection", "").lower() != "close"
        if "x-strom-too-large" in request.headers:
            err = StatusError.too_large(MAX_BODY)
            from strom.server.responses import status_response

            response: Response | Stream = status_response(err, request)
            response.headers.append(("Connection", "close"))
            keep_alive = False
        else:
            try:
                response = await self._handler(request)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handler failed for %s %s", request.method, request.path)
                from strom.server.responses import status_response

                response = status_response(StatusError.internal("unexpected error"), request)
        if isinstance(response, Stream):
            del request  # a watch may last an hour: keep no request state alive meanwhile
            if self.transport is None:
                return False
            # Awaited here rather than in a helper coroutine: one frame less per open watch.
            self._begin_stream(response)
            try:
                await response.run(self)
            finally:
                self._end_stream(response)
            return keep_alive
        self._send(response, head_only=request.method == "HEAD")
        return keep_alive

    def _send(self, response: Response, *, head_only: bool = False) -> None:
        if self.transport is None:
            return
        body = response.body
        if len(body) <= _CONTENT_LENGTH_MAX or head_only:
            head = _head(
                response.status,
                response.content_type,
                response.headers,
                b"Content-Length: %d\r\n" % len(body),
            )
            self.transport.write(head if head_only else head + body)
        else:
            head = _head(
                response.status,
                response.content_type,
                response.headers,
                b"Transfer-Encoding: chunked\r\n",
            )
            self.transport.write(b"%s%x\r\n%s\r\n0\r\n\r\n" % (head, len(body), body))

    def _begin_stream(self, stream: Stream) -> None:
        assert self.transport is not None
        self.streaming = True
        head = _head(
            stream.status, stream.content_type, stream.headers, b"Transfer-Encoding: chunked\r\n"
        )
        self.transport.write(head)
        stream.headers = []
        # Idle for the stream's life: the parser is made again if the client sends more.
        self._parser = None
        for on_start, _ in stream.hooks:
            on_start()

    def _end_stream(self, stream: Stream) -> None:
        self.streaming = False
        for _, on_end in stream.hooks:
            on_end()
        if self.transport is not None:
            self.transport.write(b"0\r\n\r\n")

    # --- used by streams -----------------------------------------------------------------
    def write_chunk(self, data: bytes) -> None:
        """Write one chunk now (no await): the watch dispatcher's only per-watcher call."""
        if self.transport is not None and data:
            if self.paused_since:
                self.bytes_while_paused += len(data)
            self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))

    def write_framed(self, data: bytes) -> None:
        """Write bytes that are already chunk-framed (the same object goes to many watchers)."""
        if self.transport is not None:
            if self.paused_since:
                self.bytes_while_paused += len(data)
            self.transport.write(data)

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    async def drain(self) -> None:
        if self._can_write is not None:
            await self._can_write.wait()

    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when the connection is lost (at once if it already is)."""
        if self.transport is None:
            callback()
        else:
            self._close_callbacks.append(callback)
        return callback

    def remove_on_close(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._close_callbacks.remove(callback)

    async def wait_closed(self) -> None:
        if self.transport is None:
            return
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._closed)

    @property
    def is_closed(self) -> bool:
        return self.transport is None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection without flushing (a watcher too slow to keep)."""
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, status: int, message: str) -> None:
        if self.transport is None:
            return
        err = StatusError(status, "BadRequest", message)
        from strom.server.responses import encode_status

        body = encode_status(err, pretty=False)
        self.transport.write(
            _head(
                status,
                "application/json",
                [("Connection", "close")],
                b"Content-Length: %d\r\n" % len(body),
            )
            + body
        )
        self.transport.close()


async def serve(
    *,
    handler: Handler,
    host: str,
    port: int,
    ssl_context: Any,
    connections: set[Connection],
) -> asyncio.Server:
    """Start listening; the caller owns the returned server and `connections`."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(handler, connections),
        host=host,
        port=port,
        ssl=ssl_context,
        backlog=4096,
        reuse_address=True,
    )
    return server


async def close_all(
    connections: set[Connection], *, timeout: float, stop_streams: Callable[[], None]
) -> None:
    """Close every connection; streams are asked to end first (they finish with their final
    chunk and the connection closes behind them). Waits up to `timeout` seconds."""
    for conn in list(connections):
        conn.closing = True
    stop_streams()
    for conn in list(connections):
        if not conn.streaming:
            conn.close()
    waits = [asyncio.ensure_future(c.wait_closed()) for c in list(connections)]
    if waits:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
    for conn in list(connections):
        conn.abort()
