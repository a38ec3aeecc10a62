"""The write side of bench/watch_fanout.py: ConfigMap creates that carry what watchers check.

Every created object holds `data.fanout = "<writer>.<seq>.<stamp>"`: the writer's id, its
sequence number (0, 1, 2, ... counting only creates answered 201, so a failed create leaves no
gap) and CLOCK_MONOTONIC in ns at the moment the request is written. Each writer keeps one
request in flight on its own keep-alive TLS connection, so its commits (and hence the events a
watch delivers) are in sequence order. A paced phase spreads `rate` creates per second over a
few writers; a max-rate phase runs several writers back to back.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import httptools

from benchkit import LABEL, Target, ssl_context

REQUEST_TIMEOUT = 30.0
MAX_OPS_PER_WRITER = 2_000_000  # a bound on every writer loop besides its time
# Creates/s one paced writer is asked for at most: with one request in flight per writer, a
# create slower than the writer's interval would otherwise hold back the schedule.
PACED_PER_WRITER = 20.0
BUSY_BACKOFF = 0.05  # after a 429


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTPS connection with one request in flight."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))
        self.body = []

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await asyncio.wait_for(self.waiter, REQUEST_TIMEOUT)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(target: Target) -> HttpConn:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            HttpConn,
            target.host,
            target.port,
            ssl=ssl_context(target),
            server_hostname=target.server_hostname,
        ),
        REQUEST_TIMEOUT,
    )
    return conn


@dataclass(slots=True)
class WriterResult:
    writer: int
    created: int = 0  # also the next sequence number
    statuses: Counter[int] = field(default_factory=Counter)  # non-201 answers
    stopped: str = ""  # why the writer stopped early ("" if it ran its time)
    latencies_ms: list[float] = field(default_factory=list)


class ConfigMapWriter:
    """Builds create requests for one writer; the pad brings objects to ~object_bytes."""

    def __init__(self, *, target: Target, namespace: str, run_tag: str, object_bytes: int):
        self.namespace = namespace
        self.run_tag = run_tag
        self.head = (
            f"POST /api/v1/namespaces/{namespace}/configmaps HTTP/1.1\r\n"
            f"Host: {target.host}:{target.port}\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nUser-Agent: watch-fanout-bench\r\n"
        ).encode() + target.auth_header
        key, _, value = LABEL.partition("=")
        self.label = f'"{key}":"{value}"'.encode()
        # The server adds namespace, uid, resourceVersion, creationTimestamp (~170 bytes).
        self.pad = b""
        self.pad = b"x" * max(0, object_bytes - len(self.body("fo-x-00-0000000", 0, 0)) - 170)

    def body(self, name: str, writer: int, seq: int) -> bytes:
        return (
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","labels":{%s}},'
            b'"data":{"fanout":"%d.%d.%d","pad":"%s"}}'
            % (name.encode(), self.label, writer, seq, time.monotonic_ns(), self.pad)
        )

    def request(self, *, writer: int, seq: int, attempt: int) -> bytes:
        body = self.body(f"fo-{self.run_tag}-{writer:02d}-{attempt:07d}", writer, seq)
        return b"%sContent-Length: %d\r\n\r\n%s" % (self.head, len(body), body)


async def run_writer(
    *,
    target: Target,
    builder: ConfigMapWriter,
    writer: int,
    end: float,
    interval: float,
    offset: float,
) -> WriterResult:
    """Create objects until `end`: every `interval` s (0: back to back), starting at offset."""
    result = WriterResult(writer=writer)
    try:
        conn = await connect(target)
    except (OSError, TimeoutError) as exc:
        result.stopped = f"connect: {exc!r}"
        return result
    start = time.monotonic() + offset
    try:
        for attempt in range(MAX_OPS_PER_WRITER):
            now = time.monotonic()
            if now >= end:
                break
            if interval:
                due = start + attempt * interval
                if due >= end:
                    break
                if due > now:
                    await asyncio.sleep(due - now)
            raw = builder.request(writer=writer, seq=result.created, attempt=attempt)
            sent = time.monotonic()
            try:
                status, _ = await conn.request(raw)
            except (OSError, TimeoutError) as exc:
                # The create may or may not have committed: stop rather than reuse the seq.
                result.stopped = f"{type(exc).__name__}: {exc}"
                break
            result.latencies_ms.append((time.monotonic() - sent) * 1000)
            if status == 201:
                result.created += 1
                continue
            result.statuses[status] += 1
            if status == 429:
                await asyncio.sleep(BUSY_BACKOFF)
    finally:
        conn.close()
    return result


@dataclass(slots=True)
class PhaseRun:
    name: str
    writers: int
    start_ns: int
    seconds: float  # how long the writers ran
    results: list[WriterResult]

    @property
    def created(self) -> int:
        return sum(r.created for r in self.results)

    def create_latency(self, q: float) -> float:
        values = sorted(v for r in self.results for v in r.latencies_ms)
        if not values:
            return math.nan
        return values[min(len(values) - 1, int(q * len(values)))]


async def run_phase(
    *,
    target: Target,
    builder: ConfigMapWriter,
    name: str,
    first_writer: int,
    writers: int,
    seconds: float,
    rate: float,
) -> PhaseRun:
    """`writers` writers for `seconds`; `rate` creates/s over all of them (0: max rate)."""
    interval = writers / rate if rate else 0.0
    start_ns = time.monotonic_ns()
    end = time.monotonic() + seconds
    tasks = [
        run_writer(
            target=target,
            builder=builder,
            writer=first_writer + i,
            end=end,
            interval=interval,
            offset=interval * i / writers,
        )
        for i in range(writers)
    ]
    results = await asyncio.gather(*tasks)
    elapsed = (time.monotonic_ns() - start_ns) / 1e9
    return PhaseRun(
        name=name, writers=writers, start_ns=start_ns, seconds=elapsed, results=list(results)
    )


def paced_writers(rate: float) -> int:
    return max(1, math.ceil(rate / PACED_PER_WRITER))
