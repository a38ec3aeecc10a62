"""HTTP/1.1 message heads as a proxy rewrites them (RFC 9110 §7.6, RFC 9112).

A proxy must not forward hop-by-hop headers (they describe one connection, not the message):
`Connection` and every header it names, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Trailer`,
`Upgrade`, and the proxy credentials.  Body framing is then re-declared for the next hop,
which is what lets the tap re-chunk a stream piece by piece without buffering it.
"""

from __future__ import annotations

import orjson

from strom.errors import StatusError

__all__ = [
    "LAST_CHUNK",
    "Header",
    "chunk",
    "end_to_end",
    "get_header",
    "head",
    "status_reply",
]

Header = tuple[bytes, bytes]

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)

LAST_CHUNK = b"0\r\n\r\n"


def get_header(headers: list[Header], name: bytes) -> bytes | None:
    """The first value of `name` (lower case), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def end_to_end(headers: list[Header], *, keep_upgrade: bool = False) -> list[Header]:
    """`headers` without the hop-by-hop ones (`Upgrade` kept when a tunnel is negotiated)."""
    named: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            named.update(t.strip().lower() for t in value.split(b","))
    named.discard(b"upgrade" if keep_upgrade else b"")
    out = []
    for key, value in headers:
        low = key.lower()
        kept = (low == b"upgrade" and keep_upgrade) or (low not in _HOP_BY_HOP and low not in named)
        if kept:
            out.append((key, value))
    return out


def head(start_line: bytes, headers: list[Header]) -> bytes:
    """A serialized message head: start line, headers, blank line."""
    lines = [start_line]
    lines.extend(key + b": " + value for key, value in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def status_reply(code: int, reason: str, message: str, *, close: bool) -> bytes:
    """A complete response carrying a metav1.Status, as kube-apiserver words its failures."""
    body = orjson.dumps(StatusError(code, reason, message).to_status())
    headers: list[Header] = [
        (b"Content-Type", b"application/json"),
        (b"Cache-Control", b"no-cache, private"),
        (b"Content-Length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"Connection", b"close"))
    phrase = {401: "Unauthorized", 502: "Bad Gateway", 400: "Bad Request"}.get(code, reason)
    return head(b"HTTP/1.1 %d %s" % (code, phrase.encode()), headers) + body
