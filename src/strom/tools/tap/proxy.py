"""The tap's data path: one client connection, its own upstream connection, bytes streamed.

Each client connection (kubectl, a client library, an operator) gets a dedicated upstream
connection, opened on its first request and reopened when the upstream closes an idle one.
Requests are re-headed (tap token checked and swapped for the upstream credentials, hop-by-hop
headers dropped, body framing re-declared) and their bodies forwarded piece by piece; responses
likewise, each body piece re-chunked as it arrives, so a watch through the tap is exactly as
live as without it.  Only the display looks inside: JSON watch bodies are split into events.

Responses go back in request order (HTTP/1.1 has no other way): `ClientSide.queue` holds the
exchanges not yet answered; the upstream's responses belong to its head, and replies the tap
makes itself (401, 502) wait there for their turn.

Memory is bounded by flow control, not by buffers: when one side's transport has too much
queued for writing, reading from the other side pauses until it drains.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httptools

from strom.tools.tap.bodies import BodyBuffer, body_fields, masked_headers
from strom.tools.tap.http1 import (
    LAST_CHUNK,
    Header,
    chunk,
    end_to_end,
    get_header,
    head,
    status_reply,
)
from strom.tools.tap.records import Record, Sink, WatchDecoder
from strom.tools.tap.upstream import Upstream
from strom.tools.tap.upstream_side import WRITE_HIGH_WATER, UpstreamSide, as_transport

__all__ = ["ClientSide", "TapState"]


@dataclass
class TapState:
    """What all connections share: where to forward, the accepted token, the record sink."""

    upstream: Upstream
    token: str
    sink: Sink
    connect_timeout: float
    bodies: bool = False  # headers, bodies and event objects in the records (--bodies)
    show_secrets: bool = False  # ... with credentials unmasked (--show-secrets)
    raw: bool = False  # every byte each side sent, as it arrived, into the capture (--save-raw)
    clients: set[ClientSide] = field(default_factory=set)
    _next_conn: int = 0

    def next_conn_id(self) -> int:
        self._next_conn += 1
        return self._next_conn

    def close_all(self) -> None:
        for client in list(self.clients):
            client.close()


@dataclass(eq=False)
class Exchange:
    """One request and its response, as far as they have got."""

    seq: int
    method: str
    path: str
    started: float  # monotonic, at request headers
    watch: bool
    upgrade: bool
    head_only: bool
    req_chunked: bool = False
    local: bytes | None = None  # a reply made by the tap itself
    local_status: int = 0
    close_after: bool = False
    via: UpstreamSide | None = None
    status: int = 0
    response_started: bool = False
    chunked_out: bool = False  # the body goes to the client chunked
    close_delimited: bool = False  # the upstream body ends when its connection does
    request_bytes: int = 0
    response_bytes: int = 0
    events: int = 0
    decoder: WatchDecoder | None = None
    request_type: str | None = None  # content types, for --bodies
    response_type: str | None = None
    request_body: BodyBuffer | None = None  # kept with --bodies
    response_body: BodyBuffer | None = None


def _is_watch(target: str) -> bool:
    parts = urlsplit(target)
    if "/watch/" in parts.path or parts.path.endswith("/watch"):
        return True
    values = parse_qs(parts.query).get("watch", [])
    return any(v.lower() in ("true", "1") for v in values)


class ClientSide(asyncio.Protocol):
    """One client connection: parses its requests and forwards them upstream."""

    def __init__(self, tap: TapState) -> None:
        self.tap = tap
        self.conn = tap.next_conn_id()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Exchange] = deque()
        self.up: UpstreamSide | None = None
        self.tunnel = False
        self.write_paused = False
        self.requests = 0
        self._connecting: asyncio.Task[None] | None = None
        self._outbox: list[bytes] = []
        self._paused: set[str] = set()
        self._url = bytearray()
        self._headers: list[Header] = []
        self._current: Exchange | None = None

    # ------------------------------------------------------------------ records

    def emit(self, record_type: str, /, **fields: Any) -> None:
        record: Record = {"type": record_type, "t": round(time.time(), 6), "conn": self.conn}
        record.update(fields)
        self.tap.sink.emit(record)

    def record_raw(self, direction: str, data: bytes) -> None:
        """The bytes as they arrived (`up`: from the client, `down`: from the API server)."""
        self.emit("raw", dir=direction, data=base64.b64encode(data).decode("ascii"))

    def _emit_end(self, ex: Exchange, *, aborted: bool = False) -> None:
        self.emit(
            "end",
            req=ex.seq,
            status=ex.status or None,
            durationMs=round((time.monotonic() - ex.started) * 1000, 3),
            bytes=ex.response_bytes,
            requestBytes=ex.request_bytes,
            watch=ex.watch,
            events=ex.events,
            aborted=aborted,
        )

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = as_transport(transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.tap.clients.add(self)
        peer = transport.get_extra_info("peername")
        self.emit("open", peer=f"{peer[0]}:{peer[1]}" if peer else "?")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.tap.clients.discard(self)
        for ex in self.queue:
            if ex.local is None:
                self._emit_end(ex, aborted=not (ex.status == 101 and self.tunnel))
        self.queue.clear()
        if self._connecting is not None:
            self._connecting.cancel()
        if self.up is not None and self.up.transport is not None:
            self.up.transport.close()
        self.emit("close", requests=self.requests)

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.up is not None and self.up.transport is not None:
            self.up.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.up is not None and self.up.transport is not None:
            self.up.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.tap.raw:
            self.record_raw("up", data)
        if self.tunnel:
            if self.queue:
                self.queue[0].request_bytes += len(data)
            self._send_up(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # The rest belongs to the upgraded protocol; it is relayed as it comes.
            self.tunnel = True
            rest = data[int(exc.args[0]) :]
            if rest:
                self._send_up(rest)
        except httptools.HttpParserError as exc:
            self.emit("error", message=f"malformed request: {exc}")
            if self.transport is not None:
                if not self.queue:
                    self.transport.write(status_reply(400, "BadRequest", str(exc), close=True))
                self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ flow control

    def pause(self, reason: str) -> None:
        if not self._paused and self.transport is not None:
            self.transport.pause_reading()
        self._paused.add(reason)

    def resume(self, reason: str) -> None:
        self._paused.discard(reason)
        if not self._paused and self.transport is not None:
            self.transport.resume_reading()

    # ------------------------------------------------------------------ requests

    def on_message_begin(self) -> None:
        self._url.clear()
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.requests += 1
        target = self._url.decode("latin-1")
        if target.startswith(("http://", "https://")):  # absolute-form: keep path and query
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        method = self.parser.get_method().decode("ascii", "replace")
        te = get_header(self._headers, b"transfer-encoding") or b""
        ex = Exchange(
            seq=self.requests,
            method=method,
            path=target,
            started=time.monotonic(),
            watch=_is_watch(target),
            upgrade=self.parser.should_upgrade(),
            head_only=method == "HEAD",
            req_chunked=b"chunked" in te.lower(),
        )
        ex.close_after = ex.upgrade or not self.parser.should_keep_alive()
        self._current = ex
        self.queue.append(ex)
        extra: dict[str, Any] = {}
        ex.request_type = _text(get_header(self._headers, b"content-type"))
        if self.tap.bodies:
            extra["headers"] = masked_headers(self._headers, self.tap.show_secrets)
            ex.request_body = BodyBuffer()
        self.emit(
            "request",
            req=ex.seq,
            method=method,
            path=target,
            userAgent=_text(get_header(self._headers, b"user-agent")),
            accept=_text(get_header(self._headers, b"accept")),
            contentType=ex.request_type,
            **extra,
        )
        if not self._authorized():
            ex.local, ex.local_status = (
                status_reply(401, "Unauthorized", "Unauthorized", close=ex.close_after),
                401,
            )
            self._flush_local()
            return
        self._forward_head(ex)

    def on_body(self, body: bytes) -> None:
        ex = self._current
        if ex is None:
            return
        ex.request_bytes += len(body)
        if ex.request_body is not None:
            ex.request_body.add(body)
        if ex.local is None:
            self._send_up(chunk(body) if ex.req_chunked else body)

    def on_message_complete(self) -> None:
        ex = self._current
        if ex is not None and ex.request_body is not None and ex.request_body.size:
            fields = body_fields(ex.request_type, ex.request_body, self.tap.show_secrets)
            self.emit("body", req=ex.seq, direction="request", **fields)
            ex.request_body = None
        if ex is not None and ex.local is None and ex.req_chunked:
            self._send_up(LAST_CHUNK)
        self._current = None

    def _authorized(self) -> bool:
        value = get_header(self._headers, b"authorization") or b""
        scheme, _, token = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(
            token.strip(), self.tap.token.encode()
        )

    def _forward_head(self, ex: Exchange) -> None:
        upstream = self.tap.upstream
        drop = {b"authorization", b"host", b"expect"}
        headers = [(b"Host", upstream.host_header.encode("latin-1"))]
        headers += [
            h
            for h in end_to_end(self._headers, keep_upgrade=ex.upgrade)
            if h[0].lower() not in drop
        ]
        if upstream.authorization:
            headers.append((b"Authorization", upstream.authorization.encode("latin-1")))
        if ex.req_chunked:
            headers.append((b"Transfer-Encoding", b"chunked"))
        if ex.upgrade:
            headers.append((b"Connection", b"Upgrade"))
        elif ex.head_only:
            headers.append((b"Connection", b"close"))  # see response_head
        expect = (get_header(self._headers, b"expect") or b"").lower()
        if expect == b"100-continue" and len(self.queue) == 1 and self.transport is not None:
            # We answer the expectation ourselves; the upstream just gets the body.
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        line = f"{ex.method} {upstream.path_prefix}{ex.path} HTTP/1.1".encode("latin-1")
        self._send_up(head(line, headers))

    def _send_up(self, data: bytes) -> None:
        if self.up is not None and self.up.transport is not None:
            self.up.transport.write(data)
            self._mark_sent(self.up)
            return
        self._outbox.append(data)
        if self._connecting is None:
            self.pause("connect")
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    def _mark_sent(self, up: UpstreamSide) -> None:
        for ex in reversed(self.queue):
            if ex.via is not None or ex.local is not None:
                break
            ex.via = up

    async def _connect(self) -> None:
        upstream = self.tap.upstream
        loop = asyncio.get_running_loop()
        try:
            _, up = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamSide(self, raw=self.tap.raw),
                    upstream.host,
                    upstream.port,
                    ssl=upstream.ssl_context,
                    server_hostname=upstream.server_hostname,
                ),
                self.tap.connect_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self._connecting = None
            self._outbox.clear()
            reason = str(exc) or type(exc).__name__
            self._fail_pending(None, f"cannot reach upstream {upstream.url}: {reason}")
            self.resume("connect")
            return
        self._connecting = None
        if self.transport is None or up.transport is None:
            if up.transport is not None:
                up.transport.close()
            return
        self.up = up
        for data in self._outbox:
            up.transport.write(data)
        self._outbox.clear()
        self._mark_sent(up)
        self.resume("connect")

    # ------------------------------------------------------------------ responses

    def _head_exchange(self, up: UpstreamSide) -> Exchange | None:
        if self.queue and self.queue[0].via is up and self.queue[0].local is None:
            return self.queue[0]
        self.upstream_broken(up, "upstream answered a request it was not sent")
        return None

    def response_head(
        self, up: UpstreamSide, status: int, reason: bytes, headers: list[Header]
    ) -> None:
        ex = self._head_exchange(up)
        if ex is None or self.transport is None:
            return
        if 100 <= status < 200 and status != 101:
            up.interim = True
            self.transport.write(head(b"HTTP/1.1 %d %s" % (status, reason), end_to_end(headers)))
            return
        ex.status, ex.response_started = status, True
        out = end_to_end(headers, keep_upgrade=status == 101)
        te = (get_header(headers, b"transfer-encoding") or b"").lower()
        if status == 101:
            out.append((b"Connection", b"Upgrade"))
        elif ex.head_only or status in (204, 304):
            pass
        elif b"chunked" in te or get_header(headers, b"content-length") is None:
            ex.chunked_out = True
            ex.close_delimited = b"chunked" not in te
            out.append((b"Transfer-Encoding", b"chunked"))
        if ex.close_after and status != 101:
            out.append((b"Connection", b"close"))
        self.transport.write(head(b"HTTP/1.1 %d %s" % (status, reason), out))
        content_type = _text(get_header(headers, b"content-type"))
        bodies = self.tap.bodies
        if ex.watch and 200 <= status < 300:
            ex.decoder = WatchDecoder(
                content_type or "", objects=bodies, show_secrets=self.tap.show_secrets
            )
        extra: dict[str, Any] = {}
        if bodies:
            extra["headers"] = masked_headers(headers, self.tap.show_secrets)
            if ex.decoder is None:
                ex.response_body, ex.response_type = BodyBuffer(), content_type
        self.emit(
            "response",
            req=ex.seq,
            status=status,
            reason=reason.decode("latin-1"),
            latencyMs=round((time.monotonic() - ex.started) * 1000, 3),
            contentType=content_type,
            watch=ex.watch,
            **extra,
        )
        if ex.head_only:
            # httptools cannot be told a HEAD response has no body; this upstream connection
            # was asked to close after it, so the exchange ends here and the rest is ignored.
            up.discard = True
            self._detach(up)
            self._finish(ex)

    def response_body(self, body: bytes) -> None:
        if not self.queue or self.transport is None:
            return
        ex = self.queue[0]
        ex.response_bytes += len(body)
        self.transport.write(chunk(body) if ex.chunked_out else body)
        if ex.response_body is not None:
            ex.response_body.add(body)
        if ex.decoder is not None:
            for fields in ex.decoder.feed(body):
                ex.events += 1
                self.emit("event", req=ex.seq, **fields)

    def response_done(self, up: UpstreamSide, *, keep_alive: bool) -> None:
        if up.interim:
            up.interim = False
            return
        if up.discard or not self.queue:
            return
        ex = self.queue[0]
        if ex.status == 101:
            self.emit(
                "response",
                req=ex.seq,
                status=101,
                reason="tunnel",
                latencyMs=0.0,
                contentType=None,
                watch=False,
                tunnel=True,
            )
            return  # from here on both sides relay raw bytes until one closes
        if ex.chunked_out and self.transport is not None:
            self.transport.write(LAST_CHUNK)
        if not keep_alive:
            self._detach(up)
        self._finish(ex)

    def raw_from_upstream(self, data: bytes) -> None:
        if self.transport is not None:
            if self.queue:
                self.queue[0].response_bytes += len(data)
            self.transport.write(data)

    def _finish(self, ex: Exchange) -> None:
        if ex.response_body is not None and ex.response_body.size:
            fields = body_fields(ex.response_type, ex.response_body, self.tap.show_secrets)
            self.emit("body", req=ex.seq, direction="response", **fields)
            ex.response_body = None
        self._emit_end(ex)
        if self.queue and self.queue[0] is ex:
            self.queue.popleft()
        if ex.close_after:
            self.close()
            return
        self._flush_local()

    def _flush_local(self) -> None:
        while self.queue and self.queue[0].local is not None and self.transport is not None:
            ex = self.queue.popleft()
            self.transport.write(ex.local or b"")
            ex.status = ex.local_status
            self.emit(
                "response",
                req=ex.seq,
                status=ex.status,
                reason="",
                local=True,
                latencyMs=round((time.monotonic() - ex.started) * 1000, 3),
                contentType="application/json",
                watch=False,
            )
            self._emit_end(ex)
            if ex.close_after:
                self.close()
                return

    def _detach(self, up: UpstreamSide) -> None:
        if self.up is up:
            self.up = None
        if up.transport is not None:
            up.transport.close()

    def upstream_broken(self, up: UpstreamSide, message: str) -> None:
        up.discard = True
        if up.transport is not None:
            up.transport.abort()
        self._fail_pending(up, message)

    def upstream_lost(self, up: UpstreamSide) -> None:
        if self.up is up:
            self.up = None
        if up.tunnel:
            self.close()
            return
        if up.discard:
            return
        head_ex = self.queue[0] if self.queue else None
        if head_ex is not None and head_ex.via is up and head_ex.close_delimited:
            # The body of this response was "until the connection closes": it is complete.
            if self.transport is not None:
                self.transport.write(LAST_CHUNK)
            self._finish(head_ex)
        if any(ex.via is up and ex.local is None for ex in self.queue):
            self._fail_pending(up, "upstream closed the connection mid-request")

    def _fail_pending(self, up: UpstreamSide | None, message: str) -> None:
        """Answer what `up` (None: any) still owed with 502 and close, or cut the connection
        when a response is already half way to the client."""
        self.emit("error", message=message)
        owed = [ex for ex in self.queue if ex.local is None and (up is None or ex.via is up)]
        if any(ex.response_started for ex in owed):
            if self.transport is not None:
                self.transport.abort()
            return
        for ex in owed:
            ex.local = status_reply(502, "BadGateway", message, close=True)
            ex.local_status, ex.close_after = 502, True
        self._flush_local()


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
