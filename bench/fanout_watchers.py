"""The watch side of bench/watch_fanout.py: one process holding many watch streams.

Each stream is a uvloop `asyncio.Protocol` over TLS that parses HTTP/1.1 chunked framing
itself, splits the payload into event lines and pulls the writer's id, sequence number and
timestamp out of the event bytes with one regular expression per read; no JSON is decoded.
That keeps the client's CPU per event near a microsecond, so on a shared 2-core machine the
figures say more about the server than about the client.

Per stream and writer it expects sequence numbers 0, 1, 2, ... in order (every writer has one
request in flight, so its commits are ordered, and a watch delivers in commit order): a gap
counts as lost events, a repeat or step back as a duplicate. Latency is receive time minus the
writer's CLOCK_MONOTONIC stamp (one clock for all processes of this machine).

The parent drives a process through a pipe: ("open", ...) -> ("opened", ...),
("expect", ...) -> ("result", ...), ("close",) -> ("closed",).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import ssl
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any, cast

import uvloop

from benchkit import Target, ssl_context

MAX_WRITERS = 64  # writer ids: 0..31 write in the paced phase, 32..63 at max rate
FIRST_MAX_RATE_WRITER = 32
EVENT_RE = re.compile(rb'"fanout":"(\d+)\.(\d+)\.(\d+)"')
ERROR_TYPE = b'"type":"ERROR"'
HIST_BUCKET_US = 50  # latency histogram resolution
HIST_BUCKETS = 400_000  # 20 s
BUCKET_NS = HIST_BUCKET_US * 1000
HANDSHAKES_IN_FLIGHT = 32  # per process: the server's loop also serves the others
CONNECT_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3
MAX_HEAD_BYTES = 64 * 1024
CONTROL_IDLE_SECONDS = 3600.0  # a process with no word from its parent for this long exits
PARENT_CHECK_SECONDS = 1.0
POLL_SECONDS = 0.05


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_nofile() -> int:
    """Lift the soft descriptor limit to the hard one: thousands of sockets per process."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class PhaseStats:
    """Events of one phase (by writer id) received by this process's streams."""

    __slots__ = ("count", "first_ns", "hist", "last_ns", "max_us", "reads")

    def __init__(self) -> None:
        self.count = 0
        self.first_ns = 0
        self.last_ns = 0
        self.max_us = 0
        self.reads = 0  # payload pieces with events of this phase (roughly: socket reads)
        # Events per latency bucket of HIST_BUCKET_US; the last bucket takes everything later.
        self.hist = [0] * (HIST_BUCKETS + 1)

    def add(self, *, now: int, count: int, max_us: int) -> None:
        self.count += count
        self.reads += 1
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now
        self.max_us = max(self.max_us, max_us)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "max_us": self.max_us,
            "reads": self.reads,
            "hist": {i: n for i, n in enumerate(self.hist) if n},
        }


class ProcessStats:
    def __init__(self) -> None:
        self.phases = (PhaseStats(), PhaseStats())
        self.payload_bytes = 0
        self.other_events = 0  # lines without the benchmark's marker (other objects, bookmarks)
        self.error_events = 0
        self.error_samples: list[str] = []


class WatchStream(asyncio.Protocol):
    """One watch: request, status line, chunked body, event lines, sequence checks."""

    def __init__(self, *, stats: ProcessStats, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.stats = stats
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.head_done = False
        self.raw = b""  # unparsed framing bytes (a chunk-size line split across reads)
        self.chunk_left = 0  # payload bytes still due in the current chunk
        self.skip = 0  # CRLF bytes after a chunk's payload still to skip
        self.line_tail = b""  # an event line split across chunks or reads
        self.next_seq = [0] * MAX_WRITERS
        self.lost = 0
        self.dup = 0
        self.ended = ""  # why the server side ended the stream ("" while open)
        self.closing = False  # we closed it ourselves
        self.ready: asyncio.Future[str] = loop.create_future()  # "" or an error text
        self.closed: asyncio.Future[None] = loop.create_future()

    # --- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.head_done:
            data = self._head(data)
            if not data:
                return
        self._framing(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing and not self.ended:
            self.ended = "connection lost" if exc is None else f"connection lost: {exc!r}"
        self._resolve_ready("connection closed before the response head")
        if not self.closed.done():
            self.closed.set_result(None)

    # --- parsing -----------------------------------------------------------------------------
    def _resolve_ready(self, error: str) -> None:
        if not self.ready.done():
            self.ready.set_result(error)

    def _head(self, data: bytes) -> bytes:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEAD_BYTES:
                self._fail("response head too large")
            return b""
        head, rest = self.head[:end], self.head[end + 4 :]
        self.head = b""
        self.head_done = True
        status_line = head.split(b"\r\n", 1)[0]
        if not status_line.startswith(b"HTTP/1.1 200"):
            self._fail(f"{status_line.decode('latin-1')}: {rest[:300].decode('latin-1')}")
            return b""
        if b"transfer-encoding: chunked" not in head.lower():
            self._fail("watch response is not chunked")
            return b""
        self._resolve_ready("")
        return rest

    def _fail(self, error: str) -> None:
        self._resolve_ready(error)
        self.ended = error
        if self.transport is not None:
            self.transport.close()

    def _framing(self, data: bytes) -> None:
        """Strip chunked framing; whole event lines go to `_events`."""
        buf = self.raw + data if self.raw else data
        self.raw = b""
        pos, n = 0, len(buf)
        payload: list[bytes] = []
        while pos < n:
            if self.skip:
                step = min(self.skip, n - pos)
                pos += step
                self.skip -= step
                continue
            if not self.chunk_left:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    self.raw = buf[pos:]
                    break
                size = int(buf[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:
                    self.ended = "final chunk"  # the server ended the watch
                    if self.transport is not None:
                        self.transport.close()
                    break
                self.chunk_left = size
            step = min(self.chunk_left, n - pos)
            payload.append(buf[pos : pos + step])
            pos += step
            self.chunk_left -= step
            if not self.chunk_left:
                self.skip = 2
        if payload:
            body = self.line_tail + (payload[0] if len(payload) == 1 else b"".join(payload))
            cut = body.rfind(b"\n") + 1
            self.line_tail = body[cut:]
            if cut:
                self._events(body[:cut] if cut < len(body) else body)

    def _events(self, lines: bytes) -> None:
        stats = self.stats
        stats.payload_bytes += len(lines)
        found = EVENT_RE.findall(lines)
        others = lines.count(b"\n") - len(found)
        if others:
            stats.other_events += others
            if ERROR_TYPE in lines:
                stats.error_events += lines.count(ERROR_TYPE)
                if len(stats.error_samples) < 3:
                    at = lines.find(ERROR_TYPE)
                    stats.error_samples.append(lines[at : at + 300].decode("latin-1"))
        if not found:
            return
        now = time.monotonic_ns()
        next_seq = self.next_seq
        phases = stats.phases
        paced, fast = phases[0].hist, phases[1].hist
        counts = [0, 0]
        oldest = [now, now]
        lost = dup = 0
        for writer_b, seq_b, stamp_b in found:
            writer = int(writer_b)
            seq = int(seq_b)
            expected = next_seq[writer]
            if seq == expected:
                next_seq[writer] = seq + 1
            elif seq > expected:
                lost += seq - expected
                next_seq[writer] = seq + 1
            else:
                dup += 1
            stamp = int(stamp_b)
            bucket = (now - stamp) // BUCKET_NS
            if bucket > HIST_BUCKETS:
                bucket = HIST_BUCKETS
            phase = 1 if writer >= FIRST_MAX_RATE_WRITER else 0
            (fast if phase else paced)[bucket] += 1
            counts[phase] += 1
            if stamp < oldest[phase]:
                oldest[phase] = stamp
        self.lost += lost
        self.dup += dup
        for phase in (0, 1):
            if counts[phase]:
                phases[phase].add(
                    now=now, count=counts[phase], max_us=(now - oldest[phase]) // 1000
                )

    # --- accounting --------------------------------------------------------------------------
    def missing(self, created: list[int]) -> int:
        """Events of `created` (per writer) this stream has not received (gaps included)."""
        behind = sum(max(0, total - got) for total, got in zip(created, self.next_seq, strict=True))
        return self.lost + behind

    def caught_up(self, created: list[int]) -> bool:
        return all(got >= total for total, got in zip(created, self.next_seq, strict=True))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class WatchProcess:
    """The streams of one client process and the commands the parent sends."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.ctx: ssl.SSLContext = ssl_context(target)
        self.stats = ProcessStats()
        self.streams: list[WatchStream] = []
        self.open_errors: Counter[str] = Counter()

    def request_bytes(self, *, namespace: str, rv: str, timeout: int) -> bytes:
        target = self.target
        return (
            (
                f"GET /api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={rv}"
                f"&timeoutSeconds={timeout} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
                "Accept: application/json\r\nUser-Agent: watch-fanout-bench\r\n"
            ).encode()
            + target.auth_header
            + b"\r\n"
        )

    async def _open_one(self, request: bytes, gate: asyncio.Semaphore, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        target = self.target
        error = "not attempted (deadline)"
        async with gate:
            for _ in range(CONNECT_ATTEMPTS):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    _, stream = await asyncio.wait_for(
                        loop.create_connection(
                            lambda: WatchStream(stats=self.stats, request=request),
                            target.host,
                            target.port,
                            ssl=self.ctx,
                            server_hostname=target.server_hostname,
                        ),
                        timeout=min(CONNECT_TIMEOUT, left),
                    )
                    error = await asyncio.wait_for(stream.ready, min(CONNECT_TIMEOUT, left))
                except (OSError, TimeoutError, ssl.SSLError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    continue
                if not error:
                    self.streams.append(stream)
                    return
                stream.close()
                if not error.startswith("HTTP/1.1 429"):
                    break  # a definite answer (403, 404, ...): retrying will not change it
        self.open_errors[error[:200]] += 1

    async def open(
        self, *, namespace: str, rv: str, count: int, timeout: int, budget: float
    ) -> int:
        request = self.request_bytes(namespace=namespace, rv=rv, timeout=timeout)
        gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
        deadline = time.monotonic() + budget
        await asyncio.gather(*(self._open_one(request, gate, deadline) for _ in range(count)))
        return len(self.streams)

    async def wait_caught_up(self, created: list[int], seconds: float) -> float:
        """Wait until every open stream has every created event (or the time is up)."""
        start = time.monotonic()
        for _ in range(int(seconds / POLL_SECONDS) + 1):
            live = [s for s in self.streams if not s.ended]
            if all(s.caught_up(created) for s in live):
                break
            await asyncio.sleep(POLL_SECONDS)
        return time.monotonic() - start

    def result(self, created: list[int], waited: float) -> dict[str, Any]:
        open_streams = [s for s in self.streams if not s.ended]
        ended = [s for s in self.streams if s.ended]
        lost_open = [s.missing(created) for s in open_streams]
        return {
            "phases": [p.as_dict() for p in self.stats.phases],
            "streams": len(self.streams),
            "held": len(open_streams),
            "ended_reasons": dict(Counter(s.ended[:120] for s in ended)),
            "lost": sum(lost_open),
            "watchers_with_loss": sum(1 for n in lost_open if n),
            "max_lost_per_watcher": max(lost_open, default=0),
            "lost_on_ended": sum(s.missing(created) for s in ended),
            "dup": sum(s.dup for s in self.streams),
            "watchers_with_dup": sum(1 for s in self.streams if s.dup),
            "payload_bytes": self.stats.payload_bytes,
            "other_events": self.stats.other_events,
            "error_events": self.stats.error_events,
            "error_samples": self.stats.error_samples,
            "catch_up_seconds": waited,
            "cpu": cpu_seconds(),
        }

    async def close(self) -> None:
        for stream in self.streams:
            stream.close()
        pending = [s.closed for s in self.streams if not s.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=10)


async def _serve(pipe: Connection, target: Target) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def readable() -> None:
        try:
            inbox.put_nowait(pipe.recv())
        except (EOFError, OSError):
            loop.remove_reader(pipe.fileno())
            inbox.put_nowait(("close",))  # the parent is gone

    loop.add_reader(pipe.fileno(), readable)
    proc = WatchProcess(target)
    parent = os.getppid()
    try:
        for _ in range(int(CONTROL_IDLE_SECONDS / PARENT_CHECK_SECONDS)):
            try:
                command = await asyncio.wait_for(inbox.get(), PARENT_CHECK_SECONDS)
            except TimeoutError:
                if os.getppid() == parent:
                    continue
                command = ("close",)  # the parent is gone (forked siblings keep the pipe open)
            verb = command[0]
            if verb == "open":
                _, namespace, rv, count, timeout, budget = command
                opened = await proc.open(
                    namespace=namespace, rv=rv, count=count, timeout=timeout, budget=budget
                )
                pipe.send(("opened", opened, dict(proc.open_errors), cpu_seconds()))
            elif verb == "expect":
                _, created, seconds = command
                waited = await proc.wait_caught_up(created, seconds)
                pipe.send(("result", proc.result(created, waited)))
            else:
                await proc.close()
                with contextlib.suppress(OSError):
                    pipe.send(("closed", cpu_seconds()))
                return
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(pipe.fileno())


def client_main(pipe: Connection, target: Target) -> None:
    """Entry point of a client process (forked before the parent starts any event loop)."""
    raise_nofile()
    uvloop.run(_serve(pipe, target))
