"""Server-side apply next to update, on Deployment-sized objects, against any Kubernetes API
server reached through a kubeconfig (strom and a real kube-apiserver with the same tool).

Each connection owns one Deployment (about 2 KiB: two containers with env, ports, probes and
resources) and, per phase, rewrites it in a closed loop with a new image tag and annotation:

- `update`: PUT of the whole object (no resourceVersion: an unconditional update),
- `apply`: PATCH `application/apply-patch+yaml` of the same manifest (`fieldManager=bench`,
  `force=true`),

bounded by `--seconds` and `--count`. Printed per phase: requests/s, latency percentiles, the
statuses seen, the server's CPU (share of a core) and RSS when `--server-pid` is given, and the
client's own CPU, so a reader can see the client was not the bottleneck.

    python bench/apply.py --kubeconfig /tmp/s/admin.kubeconfig --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import uvloop

from benchkit import (
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
from crud import ResponseReader

PHASES = ("update", "apply")


def deployment(name: str, namespace: str, seq: int) -> dict[str, Any]:
    def container(cname: str, port: int) -> dict[str, Any]:
        return {
            "name": cname,
            "image": f"registry.example.com/{cname}:1.{seq}",
            "args": ["--listen", f":{port}", "--log-level", "info"],
            "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(6)],
            "ports": [{"name": "http", "containerPort": port}],
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"memory": "256Mi"},
            },
            "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
            "livenessProbe": {"httpGet": {"path": "/live", "port": port}, "periodSeconds": 10},
        }

    labels = {"app": name, "tier": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"bench/seq": str(seq)},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container("app", 8080), container("proxy", 9090)]},
            },
        },
    }


class Conn:
    def __init__(self, target: Target, namespace: str, index: int) -> None:
        self.target = target
        self.namespace = namespace
        self.name = f"apply-bench-{index}"
        self.base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        self.head = (
            f"Host: {target.host}:{target.port}\r\n".encode()
            + target.auth_header
            + b"Accept: application/json\r\nUser-Agent: strom-bench-apply\r\n"
        )
        self.proto: ResponseReader | None = None
        self.seq = 0

    async def open(self) -> None:
        _, self.proto = await asyncio.get_running_loop().create_connection(
            ResponseReader,
            self.target.host,
            self.target.port,
            ssl=ssl_context(self.target),
            server_hostname=self.target.tls_server_name or self.target.host,
        )

    def request(self, verb: str) -> bytes:
        self.seq += 1
        body = orjson.dumps(deployment(self.name, self.namespace, self.seq))
        if verb == "update":
            line = f"PUT {self.base}/{self.name} HTTP/1.1\r\n"
            ctype = b"application/json"
        else:
            line = f"PATCH {self.base}/{self.name}?fieldManager=bench&force=true HTTP/1.1\r\n"
            ctype = b"application/apply-patch+yaml"
        return (
            line.encode()
            + self.head
            + b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (ctype, len(body))
            + body
        )


async def run_phase(
    conns: list[Conn], verb: str, *, seconds: float, count: int
) -> tuple[list[int], Counter[str], float]:
    latencies: list[int] = []
    statuses: Counter[str] = Counter()
    remaining = [count]
    deadline = time.monotonic() + seconds

    async def drive(conn: Conn) -> None:
        assert conn.proto is not None
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            raw = conn.request(verb)
            t0 = time.perf_counter_ns()
            status, _ = await conn.proto.request(raw)
            latencies.append(time.perf_counter_ns() - t0)
            statuses[str(status)] += 1

    start = time.monotonic()
    await asyncio.gather(*(drive(c) for c in conns))
    return latencies, statuses, time.monotonic() - start


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6 if ordered else 0.0


async def main_async(target: Target, args: argparse.Namespace) -> int:
    conns = [Conn(target, args.namespace, i) for i in range(args.concurrency)]
    for conn in conns:  # create the objects (not timed)
        body = orjson.dumps(deployment(conn.name, args.namespace, 0))
        status, data = simple_request(target, method="POST", path=conn.base, body=body)
        if status not in (201, 409):
            raise SystemExit(f"apply: creating {conn.name}: {status} {data[:300]!r}")
        await conn.open()
    print(
        "phase    requests  req/s   p50 ms  p95 ms  p99 ms  statuses           "
        "server CPU  server RSS  client CPU"
    )
    for verb in PHASES:
        before = sample_process(args.server_pid)
        cpu0 = time.process_time()
        latencies, statuses, wall = await run_phase(
            conns, verb, seconds=args.seconds, count=args.count
        )
        client_cpu = time.process_time() - cpu0
        after = sample_process(args.server_pid)
        server_cpu = rss = "-"
        if before and after:
            server_cpu = f"{100 * (after.cpu - before.cpu) / wall:.0f}%"
            rss = f"{after.rss_kib / 1024:.0f} MiB"
        status_text = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
        print(
            f"{verb:<8} {len(latencies):>8}  {len(latencies) / wall:>6.0f}  "
            f"{pct(latencies, 0.5):>6.2f}  {pct(latencies, 0.95):>6.2f}  "
            f"{pct(latencies, 0.99):>6.2f}  {status_text:<18} {server_cpu:>10}  {rss:>10}  "
            f"{100 * client_cpu / wall:>9.0f}%",
            flush=True,
        )
    for conn in conns:
        if conn.proto is not None and conn.proto.transport is not None:
            conn.proto.transport.close()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--context")
    parser.add_argument("--namespace", default="apply-bench")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--count", type=int, default=100_000, help="per phase, at most")
    parser.add_argument("--server-pid", type=int, help="read the server's CPU and RSS from /proc")
    parser.add_argument("--allow-remote", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="apply-bench-"))
    try:
        target = load_target(kubeconfig=args.kubeconfig, context=args.context, tmp=tmp)
        if not is_loopback(target.host) and not args.allow_remote:
            raise SystemExit(f"apply: {target.server} is not loopback; pass --allow-remote")
        print(f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
        for line in machine_info():
            print(line)
        print(f"server: {target.server} version {server_version(target)}")
        print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
        created = ensure_namespace(target, args.namespace)
        try:
            return uvloop.run(main_async(target, args))
        finally:
            if created:
                simple_request(target, method="DELETE", path=f"/api/v1/namespaces/{args.namespace}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
