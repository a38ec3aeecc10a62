"""HTTP/1.1 without I/O: bytes in, requests (or one protocol error) out; heads and framing out.

h11's shape, httptools (llhttp) inside. The connection feeds what the socket gave it and gets
back complete requests; it never sees a half-parsed one. The limits are Go net/http's, as
kube-apiserver configures it, because clients are written against those:

* request line and headers together at most `max_header_bytes` (kube: `MaxHeaderBytes: 1 << 20`;
  Go reads up to that plus 4096 bytes before refusing): past it, 431 and close;
* a body over `max_body` (kube's 3 MiB) is not kept: the request is still delivered, marked
  `too_large`, so the handler answers kube's 413 `Status` (as kube's MaxBytesReader does);
* malformed requests (bad chunk sizes, `Content-Length` with `Transfer-Encoding`, repeated
  differing `Content-Length`, an upgrade) are 400 and close, as Go's text/plain answer.

Header values arrive as bytes and are decoded as Latin-1, which maps every byte and never
fails; outgoing values are written as UTF-8 with CR and LF replaced by spaces, as Go's
`headerNewlineToSpace` does, so a header value can never break the framing nor raise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httptools

from strom.requestinfo import query_bool

__all__ = [
    "GO_HEADER_SLACK",
    "MAX_BODY",
    "MAX_HEADER_BYTES",
    "ProtocolError",
    "Request",
    "RequestParser",
    "encode_head",
    "protocol_error_bytes",
]

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request body limit (3 MiB)
MAX_HEADER_BYTES = 1 << 20  # kube-apiserver's http.Server MaxHeaderBytes
GO_HEADER_SLACK = 4096  # net/http reads MaxHeaderBytes + 4096 before it answers 431

REASONS = {
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
    431: b"Request Header Fields Too Large",
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
    too_large: bool = False  # the body passed MAX_BODY and was dropped: answer 413
    decoded: Any = None  # the body as its handler decoded it, for observers (audit) to reuse
    annotations: dict[str, str] = field(default_factory=dict)  # admission's, for the audit event
    username: str = ""  # who asked, once authenticated (for the request log)
    _query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True)
        return self._query

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool | None:
        """A boolean parameter (watch, allowWatchBookmarks, sendInitialEvents) as kube's
        parameter codec reads it: None when absent, false only for "0" and "false"."""
        return query_bool(self.query.get(name))


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The request cannot be parsed or is over a limit: answer `status` and close."""

    status: int
    detail: str = ""  # Go's suffix, e.g. "400 Bad Request: invalid chunk size"


class RequestParser:
    """One connection's request stream. `feed` returns the requests completed by `data`, and
    a ProtocolError last when the stream broke (after which nothing more is parsed).

    State: `_head_bytes` counts the current message's request line and header bytes until its
    headers are complete; `in_message` is true from a message's first byte to its end (the
    connection's header timeout applies while `in_headers`).
    """

    __slots__ = (
        "_body",
        "_body_size",
        "_done",
        "_failed",
        "_head_bytes",
        "_headers",
        "_impersonation",
        "_limit",
        "_max_body",
        "_parser",
        "_too_large",
        "_url",
        "in_headers",
        "in_message",
        "peer_cert",
        "remote",
    )

    def __init__(
        self,
        *,
        peer_cert: dict[str, Any] | None = None,
        remote: str = "",
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body: int = MAX_BODY,
    ) -> None:
        self._parser: Any = httptools.HttpRequestParser(self)
        self._limit = max_header_bytes + GO_HEADER_SLACK
        self._max_body = max_body
        self.peer_cert = peer_cert
        self.remote = remote
        self._done: list[Request | ProtocolError] = []
        self._failed: ProtocolError | None = None
        self.in_message = False
        self.in_headers = False
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._impersonation: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._head_bytes = 0
        self._too_large = False

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def feed(self, data: bytes) -> list[Request | ProtocolError]:
        if self._failed is not None:
            return []
        try:
            self._parser.feed_data(data)
        except (_Stop, httptools.HttpParserError, httptools.HttpParserUpgrade):
            # Upgrades (SPDY, WebSocket: exec, attach, port-forward) are not served.
            if self._failed is None:
                self._fail(400, "")
        events = self._done  # handed over; a fresh list collects the next ones
        self._done = []
        if self._failed is not None:
            events.append(self._failed)
        return events

    def _fail(self, status: int, detail: str) -> None:
        self._failed = ProtocolError(status, detail)
        self._reset()

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self._limit:
            self._fail(431, "")
            raise _Stop  # ends feed_data at once: nothing past the limit is looked at

    # --- httptools callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()
        self.in_message = True
        self.in_headers = True

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # The hottest callback (every header of every request): _count inlined.
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_bytes > self._limit:
            self._fail(431, "")
            raise _Stop
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._headers
        old = headers.get(key)
        if old is None:
            headers[key] = text
        else:
            if key == "content-length" and old != text:
                self._fail(400, "")  # Go: "invalid Content-Length" on differing repeats
                raise _Stop
            headers[key] = f"{old}, {text}"
        if key[:12] == "impersonate-":
            self._impersonation.append((key, text))

    def on_headers_complete(self) -> None:
        self.in_headers = False
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            self._too_large = True

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._too_large = True
            self._body = []
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        path, query = _split_target(self._url)
        self._done.append(
            Request(
                method=self._parser.get_method().decode(),
                path=unquote(path.decode("latin-1")),
                raw_query=query.decode("latin-1"),
                headers=self._headers,
                body=b"".join(self._body),
                peer_cert=self.peer_cert,
                remote=self.remote,
                impersonation=self._impersonation,
                too_large=self._too_large,
            )
        )
        self.in_message = False
        self._reset()


def _split_target(target: bytes) -> tuple[bytes, bytes]:
    """The path and query of a request target, origin-form or absolute-form (Go accepts both).

    Not httptools.parse_url: http-parser keeps URL offsets in 16 bits, so it refuses targets
    over 64 KiB that Go serves.
    """
    if target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
        start = target.find(b"/", target.find(b"//") + 2)
        target = target[start:] if start >= 0 else b"/"
    target = target.split(b"#", 1)[0]
    path, _, query = target.partition(b"?")
    return path, query


class _Stop(Exception):
    """Raised from a callback to end parsing; httptools re-raises it from feed_data."""


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Unknown"))


_STATUS_LINES = {status: _status_line(status) for status in REASONS}


def encode_head(
    status: int, content_type: str, headers: list[tuple[str, str]], extra: bytes, date: bytes
) -> bytes:
    """A response head: status line, `headers` in order, Content-Type, Date, then `extra`
    (the framing header lines, already CRLF-terminated) and the blank line.

    Values go out in UTF-8 (a Warning may quote any field name); CR and LF inside a value
    become spaces, so no value can end the head or add a header.
    """
    lines = [f"{name}: {value}\r\n" for name, value in headers]
    if content_type:
        lines.append(f"Content-Type: {content_type}\r\n")
    text = "".join(lines)
    # Each line brought exactly one CR and one LF; more means a value carries its own.
    if text.count("\n") != len(lines) or text.count("\r") != len(lines):
        text = "".join(
            f"{_one_line(name)}: {_one_line(value)}\r\n"
            for name, value in (
                *headers,
                *((("Content-Type", content_type),) if content_type else ()),
            )
        )
    status_line = _STATUS_LINES.get(status) or _status_line(status)
    return b"%s%sDate: %s\r\n%s\r\n" % (
        status_line,
        text.encode("utf-8", "replace"),
        date,
        extra,
    )


def protocol_error_bytes(error: ProtocolError) -> bytes:
    """Go net/http's answer to a request it cannot serve: plain text, then close."""
    reason = REASONS.get(error.status, b"Bad Request")
    text = b"%d %s" % (error.status, reason)
    if error.detail:
        text += b": " + error.detail.encode()
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\n%s" % (error.status, reason, text)
    )
