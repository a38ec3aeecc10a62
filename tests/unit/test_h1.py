"""The sans-IO HTTP/1.1 codec: bytes in, requests or one protocol error out; no sockets."""

from __future__ import annotations

import pytest

from strom.server.h1 import (
    MAX_HEADER_BYTES,
    ProtocolError,
    Request,
    RequestParser,
    encode_head,
    protocol_error_bytes,
)


def requests(events: list[Request | ProtocolError]) -> list[Request]:
    assert all(isinstance(e, Request) for e in events), events
    return [e for e in events if isinstance(e, Request)]


def test_pipelined_requests_in_order_across_arbitrary_splits() -> None:
    wire = b"".join(
        b"GET /api/v1/pods/%d?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(50)
    )
    wire += b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    parser = RequestParser()
    got: list[Request] = []
    for i in range(0, len(wire), 7):  # 7-byte pieces split every token somewhere
        got += requests(parser.feed(wire[i : i + 7]))
    assert [r.path for r in got[:50]] == [f"/api/v1/pods/{i}" for i in range(50)]
    assert got[0].raw_query == "watch=1" and got[0].param("watch") == "1"
    assert (got[50].method, got[50].body) == ("POST", b"hello")
    assert not parser.in_message


def test_header_state_tracks_the_message() -> None:
    parser = RequestParser()
    assert parser.feed(b"GET / HTTP/1.1\r\nHo") == []
    assert parser.in_message and parser.in_headers
    assert parser.feed(b"st: x\r\nContent-Length: 3\r\n\r\nab") == []
    assert parser.in_message and not parser.in_headers  # a body is on its way
    assert requests(parser.feed(b"c"))[0].body == b"abc"
    assert not parser.in_message


def test_repeated_headers_join_and_impersonation_kept_one_by_one() -> None:
    wire = (
        b"GET / HTTP/1.1\r\nImpersonate-Group: a, b\r\nImpersonate-Group: c\r\n"
        b"Accept: x\r\nACCEPT: y\r\n\r\n"
    )
    (req,) = requests(RequestParser().feed(wire))
    assert req.headers["accept"] == "x, y"
    assert req.impersonation == [("impersonate-group", "a, b"), ("impersonate-group", "c")]


def test_headers_over_go_limit_are_431_and_parsing_stops() -> None:
    parser = RequestParser()
    line = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    events = parser.feed(b"GET / HTTP/1.1\r\n" + line * ((MAX_HEADER_BYTES // 8000) + 2))
    assert events == [ProtocolError(431)]
    assert parser.failed
    assert parser.feed(b"\r\nGET / HTTP/1.1\r\n\r\n") == []  # nothing more is looked at


def test_long_url_under_the_limit_is_served_and_over_it_is_431() -> None:
    (req,) = requests(RequestParser().feed(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n"))
    assert len(req.path) == 100_001
    big = b"GET /" + b"a" * (2 << 20) + b" HTTP/1.1\r\n\r\n"
    assert RequestParser().feed(big) == [ProtocolError(431)]


def test_body_over_the_limit_is_dropped_and_marked() -> None:
    parser = RequestParser(max_body=10)
    wire = b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n" + b"x" * 11
    (req,) = requests(parser.feed(wire))
    assert req.too_large and req.body == b""
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"8\r\n12345678\r\n" * 2 + b"0\r\n\r\n"
    (req,) = requests(RequestParser(max_body=10).feed(chunked))
    assert req.too_large and req.body == b""


@pytest.mark.parametrize(
    "wire",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"\x00\x01\x02 garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
    ],
)
def test_malformed_is_400(wire: bytes) -> None:
    events = RequestParser().feed(wire)
    assert events[-1] == ProtocolError(400)


def test_absolute_form_targets() -> None:
    (req,) = requests(RequestParser().feed(b"GET https://h:6443/api/v1?x=1#f HTTP/1.1\r\n\r\n"))
    assert (req.path, req.raw_query) == ("/api/v1", "x=1")
    (req,) = requests(RequestParser().feed(b"GET /a%20b HTTP/1.1\r\n\r\n"))
    assert req.path == "/a b"


def test_requests_before_a_broken_one_are_still_delivered() -> None:
    events = RequestParser().feed(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nBad\r\n\r\n")
    assert isinstance(events[0], Request) and events[0].path == "/a"
    assert events[1] == ProtocolError(400)


def test_non_latin1_and_newlines_in_header_values_never_raise() -> None:
    head = encode_head(
        201,
        "application/json",
        [("Warning", '299 - "unknown field \\"spec.名前\\""'), ("X-Evil", "a\r\nSet-Cookie: b")],
        b"Content-Length: 0\r\n",
        b"Sun, 06 Dec 2026 00:00:00 GMT",
    )
    assert "名前".encode() in head
    assert b"a  Set-Cookie: b" in head  # CR and LF become spaces: the framing holds
    assert head.count(b"\r\n") == 7 and head.endswith(b"\r\n\r\n")


def test_protocol_error_bytes_are_gos() -> None:
    assert protocol_error_bytes(ProtocolError(431)) == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
        b"431 Request Header Fields Too Large"
    )
    assert protocol_error_bytes(ProtocolError(400)).endswith(b"\r\n\r\n400 Bad Request")
