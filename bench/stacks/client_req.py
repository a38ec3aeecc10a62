"""Request-path client: keep-alive `GET /obj` over TLS, one request in flight per connection.

Reads only the status line's header block and Content-Length, so its own CPU cost stays small.
Prints `result {json}` with the number of complete responses and the seconds measured.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import cast

import orjson
import uvloop
from bench.stacks.common import HOST, client_ssl_context, raise_nofile, say

REQUEST = b"GET /obj HTTP/1.1\r\nHost: localhost\r\n\r\n"


class ReqClient(asyncio.Protocol):
    def __init__(self, until: float) -> None:
        self.until = until
        self.buf = b""
        self.responses = 0
        self.bad = 0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.write(REQUEST)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].lower()
            at = head.find(b"content-length:")
            if at < 0:
                self.bad += 1
                self._stop()
                return
            length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buf) < end + 4 + length:
                return
            if not head.startswith(b"http/1.1 200"):
                self.bad += 1
            self.buf = self.buf[end + 4 + length :]
            self.responses += 1
            if time.monotonic() >= self.until:
                self._stop()
                return
            assert self.transport is not None
            self.transport.write(REQUEST)

    def _stop(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run(port: int, conns: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    ctx = client_ssl_context()
    # Handshakes first, then the measured window, so the rate excludes connection setup.
    start_at = time.monotonic() + 1.0
    until = start_at + seconds
    protos: list[ReqClient] = []
    for _ in range(conns):
        _, proto = await loop.create_connection(lambda: ReqClient(until), HOST, port, ssl=ctx)
        protos.append(proto)
    await asyncio.sleep(max(start_at - time.monotonic(), 0.0))
    warm = sum(p.responses for p in protos)
    await asyncio.wait([p.done for p in protos], timeout=seconds + 5)
    total = sum(p.responses for p in protos)
    result = {
        "responses": total - warm,
        "responses_total": total,
        "bad": sum(p.bad for p in protos),
        "seconds": time.monotonic() - start_at,
    }
    say("result", orjson.dumps(result).decode())


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--conns", type=int, required=True)
    args.add_argument("--seconds", type=float, default=5.0)
    opts = args.parse_args()
    raise_nofile()
    uvloop.run(run(opts.port, opts.conns, opts.seconds))


if __name__ == "__main__":
    main()
