"""Cheap watch client: holds a few hundred TLS connections and measures event latency.

It never parses JSON or chunk framing: events are counted with `bytes.count` of the marker,
and one latency sample per read is taken from the first (oldest) event in that read, so the
client leaves the CPU to the server. Prints `ready OK FAILED`, then `result {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import cast

import orjson
import uvloop
from bench.stacks.common import (
    HOST,
    MARK,
    TS_DIGITS,
    client_ssl_context,
    cpu_seconds,
    hist_add,
    raise_nofile,
    say,
)

REQUEST = b"GET /watch HTTP/1.1\r\nHost: localhost\r\n\r\n"
LAST_CHUNK = b"\r\n0\r\n\r\n"
HANDSHAKES_IN_FLIGHT = 32
_CTX = client_ssl_context()


class Stats:
    def __init__(self) -> None:
        self.events = 0
        self.bytes = 0
        self.first_ns = 0
        self.last_ns = 0
        self.hist: dict[int, int] = {}
        self.cipher = ""


class WatchClient(asyncio.Protocol):
    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.headers_done = False
        self.tail = b""
        self.transport: asyncio.Transport
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and not self.stats.cipher:
            self.stats.cipher = f"{ssl_object.version()} {ssl_object.cipher()[0]}"
        transport.write(REQUEST)

    def data_received(self, data: bytes) -> None:
        if not self.headers_done:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                return  # the status line and headers fit in the first record here
            self.headers_done = True
            if not self.ready.done():
                self.ready.set_result(True)
            data = data[end + 4 :]
        self.stats.bytes += len(data)
        buf = self.tail + data
        found = buf.count(MARK)
        if found:
            now = time.monotonic_ns()
            stats = self.stats
            stats.events += found
            stats.last_ns = now
            if not stats.first_ns:
                stats.first_ns = now
            start = buf.find(MARK) + len(MARK)
            digits = buf[start : start + TS_DIGITS]
            if len(digits) == TS_DIGITS:
                hist_add(stats.hist, (now - int(digits)) // 1000)
        self.tail = buf[-(len(MARK) - 1) :]
        if buf.endswith(LAST_CHUNK):
            # The server ended the stream; a keep-alive server would otherwise hold it open.
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.closed.done():
            self.closed.set_result(None)


async def open_one(
    stats: Stats, port: int, gate: asyncio.Semaphore, clients: list[WatchClient]
) -> bool:
    loop = asyncio.get_running_loop()
    async with gate:
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: WatchClient(stats), HOST, port, ssl=_CTX),
                timeout=10,
            )
            clients.append(proto)
            return await asyncio.wait_for(proto.ready, timeout=10)
        except (OSError, TimeoutError):
            return False


async def run(port: int, conns: int, deadline: float) -> None:
    stats = Stats()
    gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    clients: list[WatchClient] = []
    opened = await asyncio.gather(*(open_one(stats, port, gate, clients) for _ in range(conns)))
    ok = sum(opened)
    say("ready", ok, conns - ok)
    cpu_at_ready = cpu_seconds()
    closed = [c.closed for c in clients]
    if closed:
        await asyncio.wait(closed, timeout=deadline)
    result = {
        "events": stats.events,
        "bytes": stats.bytes,
        "first_ns": stats.first_ns,
        "last_ns": stats.last_ns,
        "hist": stats.hist,
        "cipher": stats.cipher,
        "still_open": sum(1 for c in closed if not c.done()),
        "cpu_seconds": cpu_seconds() - cpu_at_ready,
    }
    say("result", orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode())


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--conns", type=int, required=True)
    args.add_argument("--deadline", type=float, default=15.0, help="max seconds after ready")
    opts = args.parse_args()
    raise_nofile()
    uvloop.run(run(opts.port, opts.conns, opts.deadline))


if __name__ == "__main__":
    main()
