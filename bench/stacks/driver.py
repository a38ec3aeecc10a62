"""Runs the HTTP-stack study: every candidate server against separate client processes.

One command (`python -m bench.stacks.driver`) starts each server, opens N watch connections
from several client processes, has the server write events at max rate for a few seconds,
and reads delivered events/s, latency quantiles and server RSS; then it measures the request
path (keep-alive GET, concurrency 16). Each run is capped at ~20 s, the study at 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import math
import os
import platform
import sys
import time
from collections.abc import Coroutine
from typing import Any

import orjson
from bench.stacks.common import hist_quantile, import_ok

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKLOG_PATH = "/proc/sys/net/core/netdev_max_backlog"
RAISED_BACKLOG = 100_000
CONNS_PER_CLIENT = 400
CONNECT_LIMIT = 10.0
STUDY_LIMIT = 600.0
RUN_LIMIT = 30.0  # hard stop; a normal run takes 10-20 s
EXTRA_RUNS_AFTER = 420.0  # skip N=5,000 runs once the study has used this much wall time


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    module: str
    args: tuple[str, ...]
    needs: tuple[str, ...]
    watch: bool = True  # False: request-path control only


CANDIDATES = (
    Candidate(
        "stdlib asyncio+ssl",
        "bench.stacks.protocol_server",
        ("--loop", "asyncio", "--parser", "naive"),
        (),
    ),
    Candidate(
        "uvloop+httptools",
        "bench.stacks.protocol_server",
        ("--loop", "uvloop", "--parser", "httptools"),
        ("uvloop", "httptools"),
    ),
    Candidate(
        "uvloop+h11",
        "bench.stacks.protocol_server",
        ("--loop", "uvloop", "--parser", "h11"),
        ("uvloop", "h11"),
    ),
    Candidate("aiohttp (uvloop)", "bench.stacks.aiohttp_server", (), ("aiohttp", "uvloop")),
    # Separates the loop's share from the parser's on the request path.
    Candidate(
        "uvloop+naive parser",
        "bench.stacks.protocol_server",
        ("--loop", "uvloop", "--parser", "naive"),
        ("uvloop",),
        watch=False,
    ),
)


class Proc:
    """A child Python process speaking the line protocol on stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, module: str, *args: object) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *map(str, args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def expect(self, word: str, timeout: float) -> str:
        """The rest of the first stdout line starting with `word`."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            line = await asyncio.wait_for(self.proc.stdout.readline(), max(remaining, 0.01))
            if not line:
                raise RuntimeError(f"child exited before printing {word!r}")
            head, _, rest = line.decode().strip().partition(" ")
            if head == word:
                return rest

    async def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.send("quit")
        try:
            await asyncio.wait_for(self.proc.wait(), 2)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def spread(total: int, per: int) -> list[int]:
    parts = max(1, math.ceil(total / per))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def wait_count(server: Proc, want: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        await server.send("count")
        count = int(await server.expect("count", 2))
        if count >= want:
            break
        await asyncio.sleep(0.1)
    return count


async def watch_run(
    cand: Candidate, *, n: int, batch: int, seconds: float, rate: float = 0.0
) -> dict[str, Any]:
    server = await Proc.start(cand.module, *cand.args)
    clients: list[Proc] = []
    try:
        port = int(await server.expect("listening", 15))
        await asyncio.sleep(0.3)
        rss_before = status_kib(server.pid, "VmRSS")
        for conns in spread(n, CONNS_PER_CLIENT):
            clients.append(
                await Proc.start(
                    "bench.stacks.client_watch",
                    "--port",
                    port,
                    "--conns",
                    conns,
                    "--deadline",
                    seconds + 10,
                )
            )
        readies = await asyncio.gather(*(c.expect("ready", CONNECT_LIMIT) for c in clients))
        opened = sum(int(r.split()[0]) for r in readies)
        watching = await wait_count(server, opened, 3)
        rss_after = status_kib(server.pid, "VmRSS")
        fired_at = time.monotonic_ns()
        await server.send(f"fire {seconds} {batch} {rate}")
        fired = orjson.loads(await server.expect("fired", seconds + 8))
        results = [
            orjson.loads(r) for r in await asyncio.gather(*(c.expect("result", 8) for c in clients))
        ]
        peak = status_kib(server.pid, "VmHWM")
    finally:
        for proc in [server, *clients]:
            await proc.stop()
    return summarize(
        cand,
        n=n,
        batch=batch,
        rate=rate,
        opened=opened,
        watching=watching,
        fired=fired,
        fired_at=fired_at,
        results=results,
        rss=(rss_before, rss_after, peak),
    )


def summarize(
    cand: Candidate,
    *,
    n: int,
    batch: int,
    rate: float,
    opened: int,
    watching: int,
    fired: dict[str, Any],
    fired_at: int,
    results: list[dict[str, Any]],
    rss: tuple[int, int, int],
) -> dict[str, Any]:
    hist: dict[int, int] = {}
    for result in results:
        for bucket, count in result["hist"].items():
            hist[int(bucket)] = hist.get(int(bucket), 0) + count
    events = sum(r["events"] for r in results)
    last = max((r["last_ns"] for r in results), default=fired_at)
    span = max((last - fired_at) / 1e9, 1e-9)
    rss_before, rss_after, peak = rss
    return {
        "stack": cand.name,
        "n": n,
        "batch": batch,
        "writer": f"{rate:g}/s" if rate else "max",
        "opened": opened,
        "watching": watching,
        "events": events,
        "events_per_s": events / span,
        "span_s": span,
        "p50_ms": hist_quantile(hist, 0.50),
        "p99_ms": hist_quantile(hist, 0.99),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_peak_kib": peak,
        "kib_per_conn": (rss_after - rss_before) / max(watching, 1),
        "server_cpu_us_per_event": 1e6 * fired["cpu_seconds"] / max(events, 1),
        # Cores busy during the run: if server + clients reach ~2, the clients bound the rate.
        "server_cores": fired["cpu_seconds"] / span,
        "client_cores": sum(r["cpu_seconds"] for r in results) / span,
        "dropped_slow": fired["dropped_slow"],
        "stalls": fired["stalls"],
        "writer_seconds": fired["seconds"],
        "cipher": next((r["cipher"] for r in results if r["cipher"]), ""),
    }


async def request_run(
    cand: Candidate, *, concurrency: int, seconds: float, procs: int
) -> dict[str, Any]:
    server = await Proc.start(cand.module, *cand.args)
    clients: list[Proc] = []
    try:
        port = int(await server.expect("listening", 15))
        await server.send("cpu")
        cpu_before = float(await server.expect("cpu", 5))
        for conns in spread(concurrency, math.ceil(concurrency / procs)):
            clients.append(
                await Proc.start(
                    "bench.stacks.client_req",
                    "--port",
                    port,
                    "--conns",
                    conns,
                    "--seconds",
                    seconds,
                )
            )
        results = [
            orjson.loads(r)
            for r in await asyncio.gather(*(c.expect("result", seconds + 10) for c in clients))
        ]
        await server.send("cpu")
        cpu_used = float(await server.expect("cpu", 5)) - cpu_before
    finally:
        for proc in [server, *clients]:
            await proc.stop()
    responses = sum(r["responses"] for r in results)
    total = sum(r["responses_total"] for r in results)
    window = max(r["seconds"] for r in results)
    return {
        "stack": cand.name,
        "concurrency": concurrency,
        "requests_per_s": responses / window,
        # includes the 16 handshakes; divided by every response, warm-up second included
        "server_cpu_us_per_request": 1e6 * cpu_used / max(total, 1),
        "server_cores": cpu_used / (window + 1.0),
        "bad": sum(r["bad"] for r in results),
    }


@contextlib.contextmanager
def netdev_backlog(raise_it: bool) -> Any:
    """Report the loopback backlog, raising it for the study when root may (restored after)."""
    with open(BACKLOG_PATH) as f:
        original = int(f.read())
    info = {"original": original, "during_run": original}
    changed = False
    if raise_it and original < RAISED_BACKLOG and os.geteuid() == 0:
        try:
            with open(BACKLOG_PATH, "w") as f:
                f.write(str(RAISED_BACKLOG))
            info["during_run"] = RAISED_BACKLOG
            changed = True
        except OSError:
            pass
    try:
        yield info
    finally:
        if changed:
            with open(BACKLOG_PATH, "w") as f:
                f.write(str(original))


def environment(backlog: dict[str, int]) -> dict[str, Any]:
    versions = {}
    for dist in ("uvloop", "httptools", "h11", "aiohttp", "cryptography", "orjson"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "netdev_max_backlog": backlog,
        "versions": versions,
    }


def fmt_watch(row: dict[str, Any]) -> str:
    return (
        f"| {row['stack']} | {row['n']:,} | {row['writer']} | {row['batch']}"
        f" | {row['events_per_s'] / 1000:,.0f} k"
        f" | {row['p50_ms']:.1f} / {row['p99_ms']:.1f} ms | {row['kib_per_conn']:.0f} KiB"
        f" | {row['rss_peak_kib'] / 1024:.0f} MiB | {row['server_cpu_us_per_event']:.2f} µs"
        f" | {row['server_cores']:.2f} + {row['client_cores']:.2f} | {row['dropped_slow']} |"
    )


def report(env: dict[str, Any], watch: list[dict[str, Any]], req: list[dict[str, Any]]) -> None:
    print(f"\nenvironment: {orjson.dumps(env).decode()}")
    print(
        "\n| stack | N | writer | batch | delivered events/s | p50 / p99 | RSS per conn"
        " | server peak RSS | server CPU per event | cores server + clients | dropped slow |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in watch:
        print(fmt_watch(row))
    print("\n| stack | concurrency | requests/s | server CPU per request | server cores |")
    print("|---|---|---|---|---|")
    for row in req:
        print(
            f"| {row['stack']} | {row['concurrency']} | {row['requests_per_s']:,.0f}"
            f" | {row['server_cpu_us_per_request']:.1f} µs | {row['server_cores']:.2f} |"
        )


async def guarded(run: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any] | None:
    """One run, capped in time; a failing candidate is reported and skipped, not fatal."""
    try:
        return await asyncio.wait_for(run, RUN_LIMIT)
    except (RuntimeError, TimeoutError, ValueError, OSError) as exc:
        print(f"run failed: {exc!r}", flush=True)
        return None


async def study(opts: argparse.Namespace) -> None:
    began = time.monotonic()
    chosen = [c for c in CANDIDATES if import_ok(c.needs)]
    if opts.stacks:
        chosen = [c for c in chosen if any(s in c.name for s in opts.stacks)]
    skipped = [c.name for c in CANDIDATES if not import_ok(c.needs)]
    if skipped:
        print(f"skipped (not importable here): {', '.join(skipped)}", flush=True)
    watch: list[dict[str, Any]] = []
    for cand in (c for c in chosen if c.watch and not opts.requests_only):
        for batch in opts.batches:
            row = await guarded(watch_run(cand, n=opts.n, batch=batch, seconds=opts.seconds))
            if row:
                print(fmt_watch(row), flush=True)
                watch.append(row)
    req: list[dict[str, Any]] = []
    for cand in chosen:
        row = await guarded(request_run(cand, concurrency=16, seconds=opts.seconds, procs=2))
        if row:
            print(f"request path: {row}", flush=True)
            req.append(row)
    # Rank by server CPU per delivered event: with clients on the same 2 cores the delivered
    # rate is partly theirs, while the server's cost per event is its own.
    best = sorted(
        (r for r in watch if r["batch"] == max(opts.batches)),
        key=lambda r: r["server_cpu_us_per_event"],
    )[:2]
    by_name = {c.name: c for c in chosen}
    extras = [
        (row["stack"], n, batch, rate)
        for row in best
        for n, batch, rate in [(opts.n, max(opts.batches), opts.paced)]
        + [(opts.big, b, 0.0) for b in sorted(opts.batches, reverse=True)]
        if n and (rate or n != opts.n)
    ]
    for stack, n, batch, rate in extras:
        if time.monotonic() - began > EXTRA_RUNS_AFTER:
            print("time budget used up: skipping the remaining extra runs", flush=True)
            break
        cand = by_name[stack]
        extra = await guarded(watch_run(cand, n=n, batch=batch, seconds=opts.seconds, rate=rate))
        if extra:
            print(fmt_watch(extra), flush=True)
            watch.append(extra)
    opts.env["study_seconds"] = round(time.monotonic() - began)
    report(opts.env, watch, req)
    if opts.json:
        with open(opts.json, "wb") as f:
            f.write(orjson.dumps({"env": opts.env, "watch": watch, "request": req}))


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--n", type=int, default=1000, help="watch connections per run")
    args.add_argument("--big", type=int, default=5000, help="N for the best two (0: skip)")
    args.add_argument("--paced", type=float, default=100.0, help="events/s of the paced run")
    args.add_argument("--batches", type=int, nargs="+", default=[1, 15])
    args.add_argument("--seconds", type=float, default=5.0, help="writer time per run")
    args.add_argument("--stacks", nargs="*", help="substrings of stack names to run")
    args.add_argument("--requests-only", action="store_true", help="only the request path")
    args.add_argument("--no-raise-backlog", action="store_true")
    args.add_argument("--json", help="also write all figures to this file")
    opts = args.parse_args()
    if opts.seconds > 8:
        args.error("--seconds above 8 would break the 20 s per-run cap")
    with netdev_backlog(not opts.no_raise_backlog) as backlog:
        opts.env = environment(backlog)
        asyncio.run(asyncio.wait_for(study(opts), STUDY_LIMIT))


if __name__ == "__main__":
    main()
