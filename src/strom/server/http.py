"""HTTP/1.1 over TLS on asyncio transports: connections, responses and chunked streams; the
parsing and framing rules are in the sans-IO `h1` module.

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

from strom.server.h1 import (
    MAX_BODY,
    MAX_HEADER_BYTES,
    ProtocolError,
    Request,
    RequestParser,
    encode_head,
    protocol_error_bytes,
)

__all__ = [
    "MAX_BODY",
    "Connection",
    "ConnectionLimits",
    "ErrorResponder",
    "Handler",
    "Request",
    "Response",
    "StreamingResponse",
]

log = logging.getLogger(__name__)

# Go's net/http switches to chunked encoding for bodies over its 2 KiB write buffer.
_CONTENT_LENGTH_MAX = 2048


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # The metav1.Status the body encodes, when it is one (errors, a delete's Success): audit
    # copies it into responseStatus without decoding the body again.
    status_object: dict[str, Any] | None = None
    # Close the connection after this response (a handler failed: its state is unknown).
    close_connection: bool = False


class StreamingResponse:
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


Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]
ErrorResponder = Callable[[Request], Response]
"""The 500 `Status` for a request whose handler raised (the connection cannot build one:
Status bodies are made in one place above it)."""


_RST_AVOIDANCE_DELAY = 0.5  # net/http rstAvoidanceDelay: how long a refused client may still send


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Go net/http's server limits as kube-apiserver sets them."""

    max_header_bytes: int = MAX_HEADER_BYTES
    max_body: int = MAX_BODY
    # Reading a request's line and headers may take this long: from accepting the connection
    # for the first, from the first byte for later ones (kube: ReadHeaderTimeout 32 s).
    header_timeout: float = 32.0
    # An idle keep-alive connection is closed after this (kube: IdleTimeout 90 s).
    idle_timeout: float = 90.0


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
    return encode_head(status, content_type, headers, extra, _Date.get())


class Connection(asyncio.Protocol):
    """One client connection.

    Per-connection state (event loop only):
      transport: set in connection_made; None after connection_lost.
      _parser: the sans-IO request parser (h1.RequestParser); None while a stream runs.
      _pending: parsed requests not yet handled (bounded by reading pauses).
      _worker: the task handling `_pending`, one at a time; owned and cancelled here, and
        guarded: whatever it raises is logged and ends the connection, never lost.
      _deadline: when the header or idle wait ends (loop time), 0.0 while no wait runs (a
        handler or a stream), -1.0 once a protocol error is closing the connection.
      _timer: fires at or before `_deadline` and checks it. Moving the deadline later does
        not touch the timer (it re-arms itself when it fires early), so a keep-alive request
        costs a float, not a timer made and cancelled.
      _can_write: cleared while the transport asks us to pause writing.
    """

    # Slots: thousands of idle watch connections make per-connection bytes count.
    __slots__ = (
        "_broken",
        "_can_write",
        "_close_callbacks",
        "_closed",
        "_deadline",
        "_error_responder",
        "_handler",
        "_limits",
        "_parser",
        "_pending",
        "_timer",
        "_tracker",
        "_worker",
        "bytes_while_paused",
        "closing",
        "paused_since",
        "peer_cert",
        "remote",
        "streaming",
        "transport",
    )

    def __init__(
        self,
        handler: Handler,
        tracker: set[Connection],
        *,
        error_responder: ErrorResponder,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._handler = handler
        self._error_responder = error_responder
        self._limits = limits or ConnectionLimits()
        self._tracker = tracker
        self.transport: asyncio.Transport | None = None
        self._parser: RequestParser | None = None
        self._pending: list[Request] = []
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._broken: ProtocolError | None = None  # to answer once earlier requests are
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
        self._arm(self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._deadline = 0.0
        if self._timer is not None:
            self._timer.cancel()  # it holds the connection alive otherwise
            self._timer = None
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
        parser = self._parser
        if parser is None:
            parser = self._parser = RequestParser(
                peer_cert=self.peer_cert,
                remote=self.remote,
                max_header_bytes=self._limits.max_header_bytes,
                max_body=self._limits.max_body,
            )
        if parser.failed:
            return  # answered and closing: what still comes is dropped
        was_in_message = parser.in_message
        for event in parser.feed(data):
            if isinstance(event, ProtocolError):
                if self._pending and self._worker is None:
                    self._broken = event  # answer the complete requests before it first
                    break
                self._protocol_error(event)
                return
            self._pending.append(event)
        if parser.in_headers and not was_in_message and self._worker is None:
            # Go: a later request's headers get the header timeout from its first byte.
            self._arm(self._limits.header_timeout)
        elif not parser.in_headers and self._worker is None and not self._pending:
            self._disarm()  # a body on its way: the handler's business, as in Go
        if not self._pending:
            return
        if len(self._pending) > 16 and self.transport is not None:
            self.transport.pause_reading()  # a client pipelining too far waits for us
        if self._worker is None:
            self._disarm()
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name=f"http-conn-{self.remote}"
            )

    # --- deadlines -----------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        if self._deadline < 0 or self.transport is None:
            return
        if seconds <= 0:
            self._deadline = 0.0
            return
        loop = asyncio.get_running_loop()
        deadline = self._deadline = loop.time() + seconds
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._expired)

    def _disarm(self) -> None:
        if self._deadline > 0:
            self._deadline = 0.0  # a timer still set finds nothing to do and goes

    def _expired(self) -> None:
        """Go closes a connection whose headers or next request did not come in time,
        without an answer."""
        self._timer = None
        deadline = self._deadline
        if deadline <= 0:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:  # the wait began again since this timer was set
            self._timer = loop.call_at(deadline, self._expired)
            return
        self._deadline = 0.0
        if self._worker is None and not self.streaming:
            self.abort()

    # --- handling ------------------------------------------------------------------------
    async def _work(self) -> None:
        try:
            while self._pending and self.transport is not None:
                if len(self._pending) <= 17:
                    self.transport.resume_reading()
                # No local reference: a watch's request must not live as long as the watch.
                keep_alive = await self._handle(self._pending.pop(0)) and not self.closing
                if not keep_alive:
                    self.close()
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug below the handler's own guard (writing, a stream's end): the response
            # may be half written, so the only safe answer is to close.
            log.exception("connection from %s failed; closing it", self.remote)
            self.abort()
        finally:
            self._worker = None
            if self._broken is not None:
                self._protocol_error(self._broken)
            elif self.transport is not None and not self._pending:
                parser = self._parser
                waiting_headers = parser is not None and parser.in_headers
                self._arm(
                    self._limits.header_timeout if waiting_headers else self._limits.idle_timeout
                )

    async def _handle(self, request: Request) -> bool:
        keep_alive = request.headers.get("connection", "").lower() != "close"
        if request.too_large:
            keep_alive = False  # the rest of the body was not read as a request either
        try:
            response = await self._handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed for %s %s", request.method, request.path)
            response = self._error_responder(request)
        if isinstance(response, StreamingResponse):
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
        if response.close_connection:
            keep_alive = False
        if not keep_alive:
            response.headers.append(("Connection", "close"))
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

    def _begin_stream(self, stream: StreamingResponse) -> None:
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

    def _end_stream(self, stream: StreamingResponse) -> None:
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

    def _protocol_error(self, error: ProtocolError) -> None:
        """Answer as Go's net/http does (plain text) and close; nothing more is read."""
        if self._worker is None:
            self._broken = None
        if self.transport is None or self.transport.is_closing():
            return
        if self._worker is None:
            self.transport.write(protocol_error_bytes(error))
            # Go's closeWriteAndWait: keep reading (and dropping, the parser has failed) for
            # a moment before closing, or the kernel answers the client's unread bytes with
            # a reset that can destroy the response before the client reads it.
            self._deadline = -1.0  # no header or idle deadline from now on
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.get_running_loop().call_later(_RST_AVOIDANCE_DELAY, self.close)
        else:
            self._broken = error  # answered in order, after the request being handled


async def serve(
    *,
    handler: Handler,
    error_responder: ErrorResponder,
    host: str,
    port: int,
    ssl_context: Any,
    connections: set[Connection],
    limits: ConnectionLimits | None = None,
) -> asyncio.Server:
    """Start listening; the caller owns the returned server and `connections`."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(handler, connections, error_responder=error_responder, limits=limits),
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
