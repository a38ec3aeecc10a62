"""The HTTP layer alone: keep-alive GETs fed through `strom.server.http.Connection` in-process.

No sockets, TLS, routing or storage: a fake transport and a handler that returns a fixed 1 KB
response, so what is left is the connection's own cost per request (parse, task, head, write).
Run it against any tree to compare two commits' HTTP layers:

    PYTHONPATH=<tree>/src python bench/http_request_path.py --requests 100000
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import time
from pathlib import Path
from typing import Any

import uvloop

from strom.server import http
from strom.server.responses import common_headers


def _recording_transport() -> Any:
    """This repository's strom.testing.transport, whichever tree's `strom` is being measured
    (older trees have no such module; the file imports nothing of strom)."""
    path = Path(__file__).resolve().parents[1] / "src/strom/testing/transport.py"
    spec = importlib.util.spec_from_file_location("_bench_transport", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RecordingTransport


RecordingTransport = _recording_transport()

REQUEST = (
    b"GET /api/v1/namespaces/bench/configmaps/cm-1 HTTP/1.1\r\nHost: 127.0.0.1:6443\r\n"
    b"User-Agent: crud-bench\r\nAuthorization: Bearer abcdefabcdefabcdef\r\n"
    b"Accept: application/json\r\n\r\n"
)
BODY = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-1"},"data":{"k":"%s"}}' % (
    b"x" * 900
)


async def handler(request: Any) -> http.Response:
    return http.Response(200, BODY, "application/json", common_headers())


async def measure(requests: int) -> float:
    loop = asyncio.get_running_loop()
    extra: dict[str, Any] = {}
    if "error_responder" in inspect.signature(http.Connection.__init__).parameters:
        extra["error_responder"] = lambda request: None  # older trees have no such argument
    conn = http.Connection(handler, set(), **extra)
    answered: list[asyncio.Future[None]] = []

    def resolve() -> None:  # every response is one write: the request is answered
        if answered and not answered[0].done():
            answered[0].set_result(None)

    conn.connection_made(RecordingTransport(record=False, on_write=resolve))  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in range(requests):
        answered[:] = [loop.create_future()]
        conn.data_received(REQUEST)
        await answered[0]
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
