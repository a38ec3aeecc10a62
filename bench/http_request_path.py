"""The HTTP layer alone: keep-alive GETs fed through `strom.server.http.Connection` in-process.

No sockets, TLS, routing or storage: a fake transport and a handler that returns a fixed 1 KB
response, so what is left is the connection's own cost per request (parse, task, head, write).
Run it against any tree to compare two commits' HTTP layers:

    PYTHONPATH=<tree>/src python bench/http_request_path.py --requests 100000
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import time
from typing import Any

import uvloop

from strom.server import http
from strom.server.responses import common_headers

REQUEST = (
    b"GET /api/v1/namespaces/bench/configmaps/cm-1 HTTP/1.1\r\nHost: 127.0.0.1:6443\r\n"
    b"User-Agent: crud-bench\r\nAuthorization: Bearer abcdefabcdefabcdef\r\n"
    b"Accept: application/json\r\n\r\n"
)
BODY = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-1"},"data":{"k":"%s"}}' % (
    b"x" * 900
)


class FakeTransport:
    """Enough of asyncio.Transport for Connection; each write resolves the waiting request."""

    def __init__(self) -> None:
        self.answered: asyncio.Future[None] | None = None

    def write(self, data: bytes) -> None:
        if self.answered is not None and not self.answered.done():
            self.answered.set_result(None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def set_write_buffer_limits(self, high: int = 0, low: int = 0) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...
    def abort(self) -> None: ...
    def get_write_buffer_size(self) -> int:
        return 0


async def handler(request: Any) -> http.Response:
    return http.Response(200, BODY, "application/json", common_headers())


async def measure(requests: int) -> float:
    loop = asyncio.get_running_loop()
    extra: dict[str, Any] = {}
    if "error_responder" in inspect.signature(http.Connection.__init__).parameters:
        extra["error_responder"] = lambda request: None  # older trees have no such argument
    conn = http.Connection(handler, set(), **extra)
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in range(requests):
        transport.answered = loop.create_future()
        conn.data_received(REQUEST)
        await transport.answered
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        elapsed = uvloop.run(measure(args.requests))
        print(
            f"run {run}: {args.requests / elapsed:,.0f} requests/s,"
            f" {1e6 * elapsed / args.requests:.2f} µs per request"
        )


if __name__ == "__main__":
    main()
