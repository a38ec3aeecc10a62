"""Real etcd processes for tests: one member or a 3-member cluster on free loopback ports.

The etcd store is only worth trusting if it is tested against the server it talks to in
production, including a member dying mid-write (kill -9). Each member gets its own data
directory (under /dev/shm when there is one: etcd fsyncs every commit, and tmpfs makes that
free, which keeps a test module's many small writes fast) and its own client and peer ports.
`start_etcd` returns once every member reports healthy, or raises with the log tail. With
`tls` (see `make_tls`), members serve clients over HTTPS and require a client certificate.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ETCD_BINARY",
    "EtcdCluster",
    "EtcdMember",
    "EtcdTls",
    "etcd_available",
    "make_tls",
    "start_etcd",
]

ETCD_BINARY = os.environ.get("STROM_ETCD_BINARY", "etcd")
_START_TIMEOUT = 30.0


def etcd_available() -> bool:
    """Whether an etcd binary is on PATH (tests skip the etcd backend without one)."""
    return shutil.which(ETCD_BINARY) is not None


@dataclass(frozen=True)
class EtcdTls:
    """Server and client credentials of a TLS test cluster, all issued by `ca_file`."""

    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


def make_tls(cert_dir: Path) -> EtcdTls:
    """A CA, a serving cert for localhost/127.0.0.1 and a client cert, under `cert_dir`."""
    from strom.pki.certs import ensure_pki  # only TLS tests pay for the PKI import

    paths = ensure_pki(cert_dir=cert_dir, sans=[])
    return EtcdTls(
        paths.ca_crt, paths.server_crt, paths.server_key, paths.admin_crt, paths.admin_key
    )


@dataclass
class EtcdMember:
    """One etcd process. `endpoint` ("127.0.0.1:port") is what a client is given."""

    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    tls: EtcdTls | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    @property
    def endpoint(self) -> str:
        """What EtcdStore takes: "127.0.0.1:port", or "https://127.0.0.1:port" with TLS."""
        return self.client_url if self.tls else f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self, *, initial_cluster: str, token: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.name}.log"
        cmd = [
            ETCD_BINARY,
            "--name", self.name,
            "--data-dir", str(self.data_dir / "data"),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
            "--logger", "zap",
            "--log-level", "warn",
            # Short elections: a killed leader is replaced in well under a second.
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
        ]  # fmt: skip
        if self.tls is not None:
            cmd += [
                "--cert-file", str(self.tls.server_cert),
                "--key-file", str(self.tls.server_key),
                "--trusted-ca-file", str(self.tls.ca_file),
                "--client-cert-auth",
            ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def healthy(self) -> bool:
        context = self.tls.client_context() if self.tls else None
        try:
            with urllib.request.urlopen(
                self.client_url + "/health", timeout=1.0, context=context
            ) as resp:
                return b'"health":"true"' in resp.read()
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """kill -9: the member vanishes mid-whatever, as in a crash."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self, *, timeout: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
            return "\n".join(line[:300] for line in text.splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class EtcdCluster:
    """Running members; `endpoints` lists every member's client address."""

    members: list[EtcdMember]
    base_dir: Path
    owns_base_dir: bool = True

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def kill_member(self, index: int) -> EtcdMember:
        member = self.members[index]
        member.kill()
        return member

    def stop(self) -> None:
        for member in self.members:
            member.stop()
        if self.owns_base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> EtcdCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; all held open together so none repeats."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _scratch_dir() -> Path:
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="strom-etcd-", dir=parent))


def start_etcd(
    *,
    members: int = 1,
    base_dir: Path | None = None,
    tls: EtcdTls | None = None,
    timeout: float = _START_TIMEOUT,
) -> EtcdCluster:
    """Start `members` etcd processes forming one cluster; wait until all are healthy."""
    owns = base_dir is None
    root = _scratch_dir() if base_dir is None else base_dir
    ports = _free_ports(2 * members)
    nodes = [
        EtcdMember(f"m{i}", ports[2 * i], ports[2 * i + 1], root / f"m{i}", tls)
        for i in range(members)
    ]
    cluster = EtcdCluster(nodes, root, owns)
    initial = ",".join(f"{m.name}={m.peer_url}" for m in nodes)
    token = f"strom-test-{os.getpid()}-{ports[0]}"  # one per cluster: members must agree
    try:
        for member in nodes:
            member.launch(initial_cluster=initial, token=token)
        _wait_healthy(nodes, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_healthy(nodes: list[EtcdMember], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending:
        for member in list(pending):
            if not member.running:
                raise RuntimeError(f"etcd {member.name} exited: {member.log_tail()}")
            if member.healthy():
                pending.remove(member)
        if not pending:
            return
        if time.monotonic() > deadline:
            tails = "\n".join(f"{m.name}: {m.log_tail()}" for m in pending)
            raise RuntimeError(f"etcd did not become healthy in {timeout}s:\n{tails}")
        time.sleep(0.05)
