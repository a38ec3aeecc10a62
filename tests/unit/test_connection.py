"""strom.server.http.Connection without sockets: a recording transport, real handlers.

What the connection owns: a handler that raises becomes a logged 500 `Status` and the
connection closes; nothing is left for asyncio to report as never retrieved; pipelined
requests are answered in order."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import orjson
import pytest

from strom.server.http import Connection, Request, Response
from strom.server.responses import common_headers, internal_error_response
from strom.testing.transport import RecordingTransport


async def settle(transport: RecordingTransport, until: bytes, count: int = 1) -> None:
    """Let the connection's task run until `until` was written `count` times (5 s at most)."""
    async with asyncio.timeout(5):
        while transport.data.count(until) < count:
            await asyncio.sleep(0)


def get(path: str) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()


def test_a_handler_that_raises_is_a_logged_500_status_and_the_connection_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("a bug")
        return Response(200, b"{}", headers=common_headers())

    async def body() -> RecordingTransport:
        loop = asyncio.get_running_loop()
        unretrieved: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
        conn = Connection(handler, set(), error_responder=internal_error_response)
        transport = RecordingTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.data_received(get("/ok") + get("/boom") + get("/never"))
        await settle(transport, b"HTTP/1.1 ", 2)
        async with asyncio.timeout(5):
            while not transport.closed:
                await asyncio.sleep(0)
        conn.connection_lost(None)
        gc.collect()
        await asyncio.sleep(0)
        assert unretrieved == []
        return transport

    with caplog.at_level(logging.ERROR, logger="strom.server.http"):
        transport = asyncio.run(body())
    wire = bytes(transport.data)
    first, second = wire.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK")
    assert second.startswith(b"500 Internal Server Error\r\n")
    head, _, payload = second.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close\r\n" in head
    assert orjson.loads(payload) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Internal error occurred: unexpected error",
        "reason": "InternalError",
        "details": {"causes": [{"message": "unexpected error"}]},
        "code": 500,
    }
    assert b"/never" not in wire and wire.count(b"HTTP/1.1 ") == 2  # closed: not served
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and "RuntimeError: a bug" in caplog.text


def test_pipelined_requests_are_answered_in_order() -> None:
    async def handler(request: Request) -> Response:
        # Uneven handlers: odd requests wait a few turns of the loop before answering.
        for _ in range(int(request.path[1:]) % 2 * 3):
            turn = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(turn.set_result, None)
            await turn
        return Response(200, request.path.encode(), headers=[])

    async def body() -> bytes:
        conn = Connection(handler, set(), error_responder=internal_error_response)
        transport = RecordingTransport()
        conn.connection_made(transport)  # type: ignore[arg-type]
        conn.data_received(b"".join(get(f"/{i}") for i in range(200)))
        await settle(transport, b"HTTP/1.1 200", 200)
        conn.connection_lost(None)
        return bytes(transport.data)

    wire = asyncio.run(body())
    bodies = [part.partition(b"\r\n\r\n")[2] for part in wire.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [b"/%d" % i for i in range(200)]
