"""CRUD throughput and latency of any Kubernetes API server, reached through a kubeconfig.

strom and a real kube-apiserver are measured with the same tool, so the figures compare.  The
client is built not to be the bottleneck: worker processes each run a uvloop loop with raw
HTTP/1.1 keep-alive connections over TLS, write pre-built request bytes and parse responses
with httptools (the official Python client would mostly measure itself).  Its CPU time is
reported next to the server's so a reader can check that.

Per concurrency level the phases run in order (create, get, list, update, delete), each
bounded by a count and by `--seconds`; each level works on its own objects and removes them
before the next level starts, so levels start from the same (empty) namespace.

    python bench/crud.py --kubeconfig /tmp/s/admin.kubeconfig --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httptools
import orjson
import uvloop

from benchkit import (
    ProcSample,
    Target,
    ensure_namespace,
    is_loopback,
    load_target,
    machine_info,
    sample_process,
    server_version,
    simple_request,
    ssl_context,
)

PHASES = ("create", "get", "list", "update", "delete")
LIST_LIMIT = 100
CLEANUP_SECONDS = 60.0
START_DELAY = 0.1  # lets every worker reach the starting line before the clock runs
RV_RE = re.compile(rb'"resourceVersion":\s*"([^"]*)"')
ITEM_MARK = b'"uid"'  # one per object in a list (ListMeta has no uid)


# --- kubeconfig --------------------------------------------------------------------------


class ResponseReader(asyncio.Protocol):
    """One keep-alive connection; one request in flight, answered through a future."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body))

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes]]:
        self.waiter = asyncio.get_running_loop().create_future()
        if self.closed or self.transport is None:  # a write would vanish and never be answered
            self.waiter.set_exception(ConnectionError("connection closed"))
        else:
            self.transport.write(raw)
        return self.waiter


@dataclass(slots=True)
class PhaseResult:
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    statuses: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    items: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    cpu: float = 0.0
    left: int = 0  # objects this worker still holds after the phase


class Worker:
    """Drives its connections through one phase at a time.  It owns the objects it created
    (name -> last seen resourceVersion), so updates carry a current resourceVersion without
    an extra read; two of its connections may still race on one object, which shows as 409."""

    def __init__(self, *, target: Target, wid: int, namespace: str, prefix: str, pad: int) -> None:
        self.target = target
        self.wid = wid
        self.namespace = namespace
        self.prefix = prefix
        self.pad = pad
        self.ctx = ssl_context(target)
        self.conns: list[ResponseReader] = []
        self.rvs: dict[str, str] = {}
        self.names: list[str] = []  # snapshot of rvs' keys for random choice
        self.seq = 0
        self.head = (
            f"Host: {target.host}:{target.port}\r\n".encode()
            + target.auth_header
            + (b"Accept: application/json\r\nUser-Agent: strom-bench-crud\r\n")
        )
        self.base = f"/api/v1/namespaces/{namespace}/configmaps"

    async def connect(self, count: int) -> None:
        self.conns = [await self._open() for _ in range(count)]

    async def _open(self) -> ResponseReader:
        _, proto = await asyncio.get_running_loop().create_connection(
            ResponseReader,
            self.target.host,
            self.target.port,
            ssl=self.ctx,
            server_hostname=self.target.tls_server_name or self.target.host,
        )
        return proto

    def close(self) -> None:
        for proto in self.conns:
            if proto.transport is not None:
                proto.transport.close()

    def raw(self, method: str, path: str, body: bytes | None = None) -> bytes:
        start = f"{method} {path} HTTP/1.1\r\n".encode() + self.head
        if body is None:
            return start + b"\r\n"
        length = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        return start + length + body

    def configmap(self, name: str, *, rv: str | None, stamp: int) -> bytes:
        meta: dict[str, Any] = {"name": name, "namespace": self.namespace}
        if rv is not None:
            meta["resourceVersion"] = rv
        tag = f"{stamp:012d}"  # an update changes the object, so the server must write it
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"payload": tag + "x" * self.pad},
        }
        return orjson.dumps(obj)

    def next_request(self, verb: str, rng: random.Random) -> tuple[bytes, str]:
        self.seq += 1
        if verb == "create":
            name = f"{self.prefix}-w{self.wid}-{self.seq}"
            return self.raw("POST", self.base, self.configmap(name, rv=None, stamp=0)), name
        if verb == "list":
            return self.raw("GET", f"{self.base}?limit={LIST_LIMIT}"), ""
        if verb == "delete":
            name = self.names.pop()
            return self.raw("DELETE", f"{self.base}/{name}"), name
        name = rng.choice(self.names)
        if verb == "get":
            return self.raw("GET", f"{self.base}/{name}"), name
        body = self.configmap(name, rv=self.rvs[name], stamp=self.seq)
        return self.raw("PUT", f"{self.base}/{name}", body), name

    def has_work(self, verb: str) -> bool:
        return verb in ("create", "list") or bool(self.names)

    async def run_phase(
        self, *, verb: str, budget: int, start_at: float, deadline: float
    ) -> PhaseResult:
        result = PhaseResult()
        self.names = list(self.rvs)
        remaining = [budget]
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        cpu0 = time.process_time()
        result.first_start = time.monotonic()
        await asyncio.gather(
            *(self._drive(i, verb, remaining, deadline, result) for i in range(len(self.conns)))
        )
        result.last_end = time.monotonic()
        result.cpu = time.process_time() - cpu0
        return result

    async def _drive(
        self, index: int, verb: str, remaining: list[int], deadline: float, result: PhaseResult
    ) -> None:
        rng = random.Random(self.wid * 100_003 + index)
        clock, lat = time.perf_counter_ns, result.latencies_ns
        while remaining[0] > 0 and self.has_work(verb) and time.monotonic() < deadline:
            remaining[0] -= 1
            raw, name = self.next_request(verb, rng)
            t0 = clock()
            try:
                status, body = await self.conns[index].request(raw)
            except ConnectionError:
                result.statuses["disconnect"] += 1
                try:
                    self.conns[index] = await self._open()
                except OSError:  # the server is gone: this connection stops, the run goes on
                    result.statuses["refused"] += 1
                    return
                continue
            lat.append(clock() - t0)
            self._account(verb, name, status, body, result)
            if verb == "update" and status == 409:
                await self._reread(index, name)

    def _account(self, verb: str, name: str, status: int, body: bytes, result: PhaseResult) -> None:
        if verb == "delete" and status in (200, 202, 404):  # 404: gone already, stop retrying
            self.rvs.pop(name, None)
        if status >= 300:
            result.statuses[str(status)] += 1
            if status == 409 and verb == "update":
                result.conflicts += 1
            return
        if verb in ("create", "update"):
            match = RV_RE.search(body)
            self.rvs[name] = match.group(1).decode() if match else ""
        elif verb == "list":
            result.items += body.count(ITEM_MARK)

    async def _reread(self, index: int, name: str) -> None:
        """After a lost update race, fetch the current resourceVersion as any client would
        before retrying (not timed, not counted)."""
        with contextlib.suppress(ConnectionError):
            status, body = await self.conns[index].request(self.raw("GET", f"{self.base}/{name}"))
            match = RV_RE.search(body)
            if status == 200 and match:
                self.rvs[name] = match.group(1).decode()


def worker_main(
    pipe: multiprocessing.connection.Connection, target: Target, wid: int, setup: dict[str, Any]
) -> None:
    """A worker process: obey orders from the parent until told to stop."""
    loop = uvloop.new_event_loop()
    worker = Worker(target=target, wid=wid, **setup)
    try:
        while True:
            order: dict[str, Any] = pipe.recv()
            if order["op"] == "connect":
                loop.run_until_complete(worker.connect(order["connections"]))
                pipe.send({})
            elif order["op"] == "phase":
                result = loop.run_until_complete(worker.run_phase(**order["phase"]))
                result.left = len(worker.rvs)
                pipe.send(result)
            else:
                worker.close()
                loop.run_until_complete(asyncio.sleep(0))
                pipe.send({})
                return
    finally:
        loop.close()


# --- the parent: orchestration and report ---------------------------------------------------


@dataclass(slots=True)
class Row:
    verb: str
    concurrency: int
    ops: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter[str]
    conflicts: int
    items: int
    client_cpu: float
    server_before: ProcSample | None
    server_after: ProcSample | None

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return self.latencies_ms[min(len(self.latencies_ms) - 1, int(q * len(self.latencies_ms)))]


class Fleet:
    """The worker processes for one concurrency level."""

    def __init__(self, *, target: Target, concurrency: int, workers: int, setup: dict[str, Any]):
        ctx = multiprocessing.get_context("fork")
        count = max(1, min(workers, concurrency))
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for wid in range(count):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child_end, target, wid, setup))
            proc.start()
            self.pipes.append(parent_end)
            self.procs.append(proc)
        for wid, pipe in enumerate(self.pipes):
            pipe.send(
                {"op": "connect", "connections": concurrency // count + (wid < concurrency % count)}
            )
        for pipe in self.pipes:
            pipe.recv()

    def phase(self, *, verb: str, budget: int, seconds: float) -> list[PhaseResult]:
        start_at = time.monotonic() + START_DELAY
        per_worker = -(-budget // len(self.pipes))
        for pipe in self.pipes:
            pipe.send(
                {
                    "op": "phase",
                    "phase": {
                        "verb": verb,
                        "budget": per_worker,
                        "start_at": start_at,
                        "deadline": start_at + seconds,
                    },
                }
            )
        return [pipe.recv() for pipe in self.pipes]

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, EOFError):  # a worker that died already
                pipe.send({"op": "stop"})
                pipe.recv()
        for proc in self.procs:
            proc.join(timeout=10)


class ServerGone(Exception):
    """The server refused new connections mid-run: later phases would measure nothing."""


def run_level(
    *,
    target: Target,
    args: argparse.Namespace,
    concurrency: int,
    setup: dict[str, Any],
    rows: list[Row],
) -> None:
    """Run every phase at one concurrency, appending (and printing) a row per phase."""
    fleet = Fleet(
        target=target,
        concurrency=concurrency,
        workers=args.workers,
        setup={**setup, "prefix": f"{setup['prefix']}-c{concurrency}"},
    )
    try:
        for verb in PHASES:
            before = sample_process(args.server_pid)
            replies = fleet.phase(verb=verb, budget=args.max_ops, seconds=args.seconds)
            after = sample_process(args.server_pid)
            rows.append(make_row(verb, concurrency, replies, before, after))
            print(format_row(rows[-1]), flush=True)
            if rows[-1].statuses["refused"]:
                raise ServerGone(f"{verb} at concurrency {concurrency}")
        if sum(r.left for r in replies):  # the delete phase ran out of time: not timed
            fleet.phase(verb="delete", budget=10**9, seconds=CLEANUP_SECONDS)
    finally:
        fleet.stop()


def make_row(
    verb: str,
    concurrency: int,
    replies: list[PhaseResult],
    before: ProcSample | None,
    after: ProcSample | None,
) -> Row:
    lat: array[int] = array("q")
    statuses: Counter[str] = Counter()
    for reply in replies:
        lat.extend(reply.latencies_ns)
        statuses.update(reply.statuses)
    elapsed = max(r.last_end for r in replies) - min(r.first_start for r in replies)
    return Row(
        verb=verb,
        concurrency=concurrency,
        ops=len(lat),
        seconds=max(elapsed, 1e-9),
        latencies_ms=sorted(ns / 1e6 for ns in lat),
        statuses=statuses,
        conflicts=sum(r.conflicts for r in replies),
        items=sum(r.items for r in replies),
        client_cpu=sum(r.cpu for r in replies),
        server_before=before,
        server_after=after,
    )


HEADER = (
    "| verb | conc | ops | ops/s | p50 ms | p99 ms | max ms | errors | 409s | objects/s "
    "| server CPU s (%core) | client CPU s (%core) | server RSS MiB |\n"
    "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"
)


def format_row(row: Row) -> str:
    others = row.statuses - Counter({"409": row.conflicts})  # update conflicts: own column
    errors = " ".join(f"{code}:{n}" for code, n in sorted(others.items())) or "0"
    conflicts = str(row.conflicts) if row.verb == "update" else "-"
    objects = f"{row.items / row.seconds:,.0f}" if row.verb == "list" and row.ops else "-"
    if row.server_before and row.server_after:
        cpu = row.server_after.cpu - row.server_before.cpu
        server_cpu = f"{cpu:.1f} ({100 * cpu / row.seconds:.0f}%)"
        rss = f"{row.server_before.rss_kib / 1024:.0f} → {row.server_after.rss_kib / 1024:.0f}"
    else:
        server_cpu = rss = "n/a"
    client_cpu = f"{row.client_cpu:.1f} ({100 * row.client_cpu / row.seconds:.0f}%)"
    cells = [
        row.verb,
        str(row.concurrency),
        f"{row.ops:,}",
        f"{row.ops / row.seconds:,.0f}",
        f"{row.percentile(0.50):.2f}",
        f"{row.percentile(0.99):.2f}",
        f"{row.latencies_ms[-1] if row.latencies_ms else float('nan'):.2f}",
        errors,
        conflicts,
        objects,
        server_cpu,
        client_cpu,
        rss,
    ]
    return "| " + " | ".join(cells) + " |"


def payload_pad(*, object_bytes: int, namespace: str) -> int:
    """How many filler bytes make a create body about `object_bytes` long."""
    empty = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "crud-00000000-c16-w0-12345", "namespace": namespace},
        "data": {"payload": "0" * 12},
    }
    return max(0, object_bytes - len(orjson.dumps(empty)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--namespace", default="bench-crud")
    parser.add_argument(
        "--concurrency",
        default="1,16,64",
        help="comma-separated connection counts (one request in flight each)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per phase")
    parser.add_argument("--max-ops", type=int, default=200_000, help="count bound per phase")
    parser.add_argument("--object-bytes", type=int, default=1024, help="create body size")
    parser.add_argument("--server-pid", type=int, help="read the server's CPU and RSS from /proc")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="client processes (default 1: the other core is the server's)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a server that is not on a loopback address",
    )
    parser.add_argument(
        "--keep-namespace",
        action="store_true",
        help="do not delete the namespace even if this run created it",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="crud-bench-"))
    try:
        target = load_target(kubeconfig=args.kubeconfig, context=args.context, tmp=tmp)
        if not is_loopback(target.host) and not args.allow_remote:
            raise SystemExit(f"crud: {target.server} is not loopback; pass --allow-remote")
        return run(target=target, args=args, levels=levels)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(*, target: Target, args: argparse.Namespace, levels: list[int]) -> int:
    print(f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    for line in machine_info():
        print(line)
    print(f"server: {target.server} version {server_version(target)}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    created = ensure_namespace(target, args.namespace)
    setup = {
        "namespace": args.namespace,
        "prefix": f"crud-{os.getpid():08d}",
        "pad": payload_pad(object_bytes=args.object_bytes, namespace=args.namespace),
    }
    self_cpu0 = time.process_time()
    print(HEADER, flush=True)
    rows: list[Row] = []
    failed = False
    try:
        for concurrency in levels:
            run_level(target=target, args=args, concurrency=concurrency, setup=setup, rows=rows)
    except ServerGone as exc:
        print(f"crud: the server stopped accepting connections during {exc}; run abandoned")
        failed = True
    finally:
        if created and not args.keep_namespace:
            try:
                status, _ = simple_request(
                    target, method="DELETE", path=f"/api/v1/namespaces/{args.namespace}"
                )
                print(f"namespace {args.namespace} deleted: {status}")
            except OSError as exc:
                print(f"namespace {args.namespace} not deleted: {exc}")
    timed = sum(r.client_cpu for r in rows)
    wall = sum(r.seconds for r in rows)
    children = os.times().children_user + os.times().children_system
    print(
        f"client CPU: {timed:.1f} s in timed phases over {wall:.1f} s "
        f"({100 * timed / max(wall, 1e-9):.0f}% of a core); all client processes "
        f"{children + time.process_time() - self_cpu0:.1f} s incl. setup and cleanup"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
