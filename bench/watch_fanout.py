"""Watch fan-out of any Kubernetes API server: N watchers, one writer, what arrives and when.

Opens N watches on the ConfigMaps of one namespace (from client processes of their own, so the
client's work is visible and separable), then creates ConfigMaps at a paced rate for S seconds
and at the maximum rate (several writer connections) for S seconds more. Every watcher checks
the sequence numbers the writers put into the objects (lost and duplicated events, which must
be 0) and the write-to-receive latency; the server's CPU and RSS come from /proc when its PID
is given. It answers: how many events/s does the server deliver over all watchers, at what
latency, and what does an idle watcher cost in memory.

    python bench/watch_fanout.py --kubeconfig /tmp/s/admin.kubeconfig --server-pid 1234 \\
        --watchers 1000 --writes-per-second 100 --seconds 10

Loops are bounded in count and time; it connects only to the kubeconfig's server (a loopback
address unless --allow-remote) and stops by itself. Helpers: benchkit.py (kubeconfig,
setup requests, /proc), fanout_watchers.py (the watch clients), fanout_writer.py (creates).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import math
import multiprocessing
import multiprocessing.connection
import secrets
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from benchkit import (
    Backlog,
    ProcSample,
    Target,
    clean_up,
    ensure_namespace,
    is_loopback,
    list_resource_version,
    load_target,
    machine_info,
    sample_process,
    server_version,
)
from fanout_watchers import (
    FIRST_MAX_RATE_WRITER,
    HIST_BUCKET_US,
    MAX_WRITERS,
    client_main,
    raise_nofile,
)
from fanout_writer import (
    PACED_PER_WRITER,
    ConfigMapWriter,
    PhaseRun,
    paced_writers,
    run_phase,
)

MAX_WATCHERS = 10_000
SETTLE_SECONDS = 2.0  # after opening the watchers, before RSS is read
BETWEEN_PHASES_SECONDS = 1.0
CATCH_UP_SECONDS = 30.0  # how long watchers may take to receive everything after the writers
CONTROL_TIMEOUT = 60.0  # for a client process's answer beyond the time its work may take
WATCHERS_PER_PROCESS = 2500


def say(*words: object) -> None:
    print(*words, flush=True)


# --- client processes ---------------------------------------------------------------------


class ClientPool:
    """Watch client processes, forked before any event loop runs in this one."""

    def __init__(self, *, target: Target, procs: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(procs):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(child_end, target), daemon=True)
            proc.start()
            child_end.close()
            self.pipes.append(parent_end)
            self.procs.append(proc)

    def ask(self, commands: list[tuple[Any, ...]], *, timeout: float) -> list[tuple[Any, ...]]:
        """Send one command to each process and collect the answers (bounded wait)."""
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers: list[tuple[Any, ...]] = []
        deadline = time.monotonic() + timeout
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise SystemExit("watch_fanout: a client process did not answer in time")
            answers.append(pipe.recv())
        return answers

    def cpu(self) -> float:
        samples = [sample_process(p.pid) for p in self.procs]
        return sum(s.cpu for s in samples if s is not None)

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, ValueError):
                pipe.send(("close",))
        for proc in self.procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- figures --------------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """One phase's events as received by all watchers together."""

    count: int
    reads: int
    last_ns: int
    max_us: int
    hist: dict[int, int]

    def quantile_ms(self, q: float) -> float:
        total = sum(self.hist.values())
        if not total:
            return math.nan
        rank, seen = q * total, 0
        for bucket in sorted(self.hist):
            seen += self.hist[bucket]
            if seen >= rank:
                return (bucket + 1) * HIST_BUCKET_US / 1000  # the bucket's upper edge
        return math.nan


def merge_delivery(results: list[dict[str, Any]], phase: int) -> Delivery:
    merged = Delivery(count=0, reads=0, last_ns=0, max_us=0, hist={})
    for result in results:
        part = result["phases"][phase]
        merged.count += part["count"]
        merged.reads += part["reads"]
        merged.last_ns = max(merged.last_ns, part["last_ns"])
        merged.max_us = max(merged.max_us, part["max_us"])
        for bucket, n in part["hist"].items():
            merged.hist[int(bucket)] = merged.hist.get(int(bucket), 0) + n
    return merged


@dataclass(slots=True)
class Window:
    """Server, watch clients and writer CPU (and server RSS) at the edges of a phase."""

    wall: float
    server: ProcSample | None
    clients_cpu: float
    writer_cpu: float


def window(pool: ClientPool, server_pid: int | None) -> Window:
    return Window(
        wall=time.monotonic(),
        server=sample_process(server_pid),
        clients_cpu=pool.cpu(),
        writer_cpu=time.process_time(),
    )


def cpu_text(seconds: float, wall: float) -> str:
    return f"{seconds:.1f} ({100 * seconds / max(wall, 1e-9):.0f}%)"


def server_columns(before: Window, after: Window) -> tuple[str, str]:
    if before.server is None or after.server is None:
        return "n/a", "n/a"
    cpu = cpu_text(after.server.cpu - before.server.cpu, after.wall - before.wall)
    rss = f"{before.server.rss_kib / 1024:.0f} → {after.server.rss_kib / 1024:.0f}"
    return cpu, rss


def fmt_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def phase_row(
    *, run: PhaseRun, delivery: Delivery, before: Window, after: Window, held: int
) -> str:
    window_s = max(run.seconds, (delivery.last_ns - run.start_ns) / 1e9)
    server_cpu, server_rss = server_columns(before, after)
    wall = after.wall - before.wall
    failures = sum(sum(r.statuses.values()) for r in run.results)
    stops = sum(1 for r in run.results if r.stopped)
    cells = [
        run.name,
        str(run.writers),
        f"{run.created:,}",
        f"{run.created / run.seconds:,.0f}",
        fmt_ms(run.create_latency(0.99)),
        f"{failures}" + (f" ({stops} stopped)" if stops else ""),
        f"{delivery.count:,} of {run.created * held:,}",
        f"{delivery.count / window_s:,.0f}",
        f"{delivery.count / max(delivery.reads, 1):.1f}",
        fmt_ms(delivery.quantile_ms(0.5)),
        fmt_ms(delivery.quantile_ms(0.99)),
        fmt_ms(delivery.max_us / 1000),
        server_cpu,
        cpu_text(after.clients_cpu - before.clients_cpu, wall),
        cpu_text(after.writer_cpu - before.writer_cpu, wall),
        server_rss,
    ]
    return "| " + " | ".join(cells) + " |"


PHASE_HEADER = (
    "| phase | writers | creates | creates/s | create p99 ms | create errors "
    "| events delivered (of created x open watchers) | delivered events/s | events per client read "
    "| p50 ms | p99 ms | max ms | server CPU s (%core) | watch clients CPU s (%core) "
    "| writer CPU s (%core) | server RSS MiB |\n"
    "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


# --- the run ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--watchers", type=int, required=True, help=f"N, up to {MAX_WATCHERS}")
    parser.add_argument("--writes-per-second", type=float, required=True, help="paced phase R")
    parser.add_argument("--seconds", type=float, required=True, help="length of each phase")
    parser.add_argument("--max-seconds", type=float, help="max-rate phase (default S; 0 skips)")
    parser.add_argument("--max-writers", type=int, default=8, help="connections at max rate")
    parser.add_argument("--object-bytes", type=int, default=1024)
    parser.add_argument("--namespace", default="bench-watch")
    parser.add_argument("--server-pid", type=int, help="read the server's CPU and RSS from /proc")
    parser.add_argument("--client-procs", type=int, help="watch client processes (default auto)")
    parser.add_argument("--hold", type=float, default=0.0, help="idle seconds before writing")
    parser.add_argument("--no-raise-backlog", action="store_true")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback server")
    parser.add_argument("--keep-objects", action="store_true", help="skip the clean-up")
    args = parser.parse_args(argv)
    if not 1 <= args.watchers <= MAX_WATCHERS:
        parser.error(f"--watchers must be 1..{MAX_WATCHERS}")
    max_rate = (MAX_WRITERS - FIRST_MAX_RATE_WRITER) * PACED_PER_WRITER
    if not 0 < args.seconds <= 600 or not 0 < args.writes_per_second <= max_rate:
        parser.error(f"--seconds must be in (0, 600], --writes-per-second in (0, {max_rate:g}]")
    args.max_seconds = args.seconds if args.max_seconds is None else args.max_seconds
    if not 0 <= args.max_seconds <= 600 or args.hold > 3600:
        parser.error("--max-seconds must be in [0, 600], --hold at most 3600")
    limit = MAX_WRITERS - FIRST_MAX_RATE_WRITER
    if not 1 <= args.max_writers <= limit:
        parser.error(f"--max-writers must be 1..{limit}")
    if args.client_procs is None:
        args.client_procs = max(2, math.ceil(args.watchers / WATCHERS_PER_PROCESS))
    args.client_procs = max(1, min(args.client_procs, args.watchers, 64))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    nofile = raise_nofile()
    with tempfile.TemporaryDirectory(prefix="watch-fanout-") as tmp:
        target = load_target(kubeconfig=args.kubeconfig, context=args.context, tmp=Path(tmp))
        if not is_loopback(target.host) and not args.allow_remote:
            raise SystemExit(f"watch_fanout: {target.server} is not loopback (--allow-remote)")
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        say(f"# watch fan-out, {stamp}")
        for line in machine_info():
            say(line)
        say(f"server: {target.server} ({server_version(target)})")
        say("command: " + shlex.join(["python", *sys.argv]))
        say(f"RLIMIT_NOFILE: {nofile}")
        backlog = Backlog()
        # SIGTERM unwinds like Ctrl-C, so the backlog setting and the clean-up still happen.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        say(backlog.prepare(allow_raise=not args.no_raise_backlog))
        try:
            return run(target=target, args=args)
        finally:
            restored = backlog.restore()
            if restored:
                say(restored)


def open_watchers(pool: ClientPool, *, args: argparse.Namespace, rv: str) -> tuple[int, float]:
    budget = 60.0 + args.watchers / 50
    timeout = int(budget + args.hold + args.seconds + args.max_seconds + CATCH_UP_SECONDS + 300)
    start = time.monotonic()
    counts = split(args.watchers, len(pool.procs))
    answers = pool.ask(
        [("open", args.namespace, rv, n, timeout, budget) for n in counts],
        timeout=budget + CONTROL_TIMEOUT,
    )
    elapsed = time.monotonic() - start
    opened = sum(a[1] for a in answers)
    errors: dict[str, int] = {}
    for answer in answers:
        for text, n in answer[2].items():
            errors[text] = errors.get(text, 0) + n
    say(
        f"watchers: {opened:,} of {args.watchers:,} opened in {elapsed:.1f} s by "
        f"{len(pool.procs)} client processes (resourceVersion {rv})"
    )
    for text, n in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        say(f"  open failed (x{n}): {text}")
    return opened, elapsed


def run(*, target: Target, args: argparse.Namespace) -> int:
    created_ns = ensure_namespace(target, args.namespace)
    rv = list_resource_version(target, args.namespace)
    pool = ClientPool(target=target, procs=args.client_procs)
    try:
        time.sleep(SETTLE_SECONDS / 2)  # the forked processes settle before the baseline
        idle_before = window(pool, args.server_pid)
        opened, _ = open_watchers(pool, args=args, rv=rv)
        time.sleep(SETTLE_SECONDS + args.hold)
        idle_after = window(pool, args.server_pid)
        report_idle(idle_before, idle_after, opened)
        if not opened:
            return 1
        runs, windows = write_phases(target=target, args=args, pool=pool)
        created = [0] * MAX_WRITERS
        for phase_run in runs:
            for r in phase_run.results:
                created[r.writer] = r.created
        answers = pool.ask(
            [("expect", created, CATCH_UP_SECONDS)] * len(pool.procs),
            timeout=CATCH_UP_SECONDS + CONTROL_TIMEOUT,
        )
        windows.append(window(pool, args.server_pid))
        results = [a[1] for a in answers]
        report(runs=runs, windows=windows, results=results, opened=opened)
        ok = sum(r["lost"] + r["dup"] for r in results) == 0
    finally:
        pool.stop()
        if not args.keep_objects:
            say(clean_up(target, namespace=args.namespace, delete_namespace=created_ns))
    return 0 if ok else 2


def report_idle(before: Window, after: Window, opened: int) -> None:
    if before.server is None or after.server is None:
        say("server RSS: n/a (no --server-pid); RSS per idle watcher: n/a")
        return
    grown = after.server.rss_kib - before.server.rss_kib
    say(
        f"server RSS: {before.server.rss_kib / 1024:.1f} MiB before the watches, "
        f"{after.server.rss_kib / 1024:.1f} MiB with {opened:,} idle watches: "
        f"{grown / max(opened, 1):.1f} KiB per idle watcher"
    )
    say(
        f"server CPU while opening: {after.server.cpu - before.server.cpu:.1f} s; "
        f"watch clients CPU: {after.clients_cpu - before.clients_cpu:.1f} s"
    )


def write_phases(
    *, target: Target, args: argparse.Namespace, pool: ClientPool
) -> tuple[list[PhaseRun], list[Window]]:
    builder = ConfigMapWriter(
        target=target,
        namespace=args.namespace,
        run_tag=secrets.token_hex(3),
        object_bytes=args.object_bytes,
    )
    rate = args.writes_per_second
    phases = [(f"paced {rate:g}/s", 0, paced_writers(rate), args.seconds, rate)]
    if args.max_seconds:
        phases.append(("max rate", FIRST_MAX_RATE_WRITER, args.max_writers, args.max_seconds, 0))
    runs: list[PhaseRun] = []
    windows = [window(pool, args.server_pid)]
    for name, first, writers, seconds, phase_rate in phases:
        if runs:
            time.sleep(BETWEEN_PHASES_SECONDS)  # the previous phase's events drain
            windows.append(window(pool, args.server_pid))
        say(f"phase {name}: {writers} writer(s) for {seconds:g} s ...")
        phase_run = uvloop.run(
            run_phase(
                target=target,
                builder=builder,
                name=name,
                first_writer=first,
                writers=writers,
                seconds=seconds,
                rate=phase_rate,
            )
        )
        runs.append(phase_run)
    return runs, windows


def report(
    *,
    runs: list[PhaseRun],
    windows: list[Window],
    results: list[dict[str, Any]],
    opened: int,
) -> None:
    held = sum(r["held"] for r in results)
    say("")
    say(PHASE_HEADER)
    # windows: [start, (between phases...), end]; the last phase's window includes catch-up.
    edges = list(itertools.pairwise(windows))
    for index, (phase_run, (before, after)) in enumerate(zip(runs, edges, strict=True)):
        delivery = merge_delivery(results, index)
        say(phase_row(run=phase_run, delivery=delivery, before=before, after=after, held=held))
    say("")
    lost = sum(r["lost"] for r in results)
    dup = sum(r["dup"] for r in results)
    say(
        f"held: {held:,} of {opened:,} watchers still open at the end"
        f" (lost on streams the server ended: {sum(r['lost_on_ended'] for r in results):,})"
    )
    reasons: dict[str, int] = {}
    for result in results:
        for text, n in result["ended_reasons"].items():
            reasons[text] = reasons.get(text, 0) + n
    for text, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
        say(f"  ended by the server (x{n}): {text}")
    say(
        f"lost events on open streams: {lost:,} "
        f"({sum(r['watchers_with_loss'] for r in results)} watchers, "
        f"max {max((r['max_lost_per_watcher'] for r in results), default=0)} per watcher); "
        f"duplicated: {dup:,} ({sum(r['watchers_with_dup'] for r in results)} watchers)"
        + ("  [OK]" if lost == 0 and dup == 0 else "  [FAILED: must be 0]")
    )
    events = sum(merge_delivery(results, i).count for i in range(len(runs)))
    payload = sum(r["payload_bytes"] for r in results)
    say(
        f"event size on the wire: {payload / max(events, 1):,.0f} bytes (JSON line); other "
        f"events: {sum(r['other_events'] for r in results):,}; ERROR events: "
        f"{sum(r['error_events'] for r in results):,}; catch-up after the writers: "
        f"{max(r['catch_up_seconds'] for r in results):.1f} s"
    )
    for result in results:
        for sample in result["error_samples"][:1]:
            say(f"  ERROR event: {sample}")


if __name__ == "__main__":
    sys.exit(main())
