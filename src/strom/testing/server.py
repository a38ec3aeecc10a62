"""A real `strom serve` process for tests: start, wait until ready, stop, kill, restart.

Readiness is the appearance of `admin.kubeconfig`, which the server writes only once it
answers; the kubeconfig names the port the server picked (`--secure-port 0`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["StromServer", "start_server"]

_START_TIMEOUT = 30.0


@dataclass
class StromServer:
    """A running server. `kubeconfig`, `ca_file` and `token` are what clients need."""

    data_dir: Path
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    token: str = ""
    log_path: Path = field(default_factory=Path)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        args = list(self.extra_args)
        if "--cert-dir" in args:  # replicas sharing one PKI
            return Path(args[args.index("--cert-dir") + 1]) / "ca.crt"
        return self.data_dir / "pki" / "ca.crt"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self, *, port: int = 0) -> None:
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        self.log_path = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "strom.cli.main",
            "serve",
            "--secure-port",
            str(port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self.kubeconfig.exists():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"strom exited with {self.process.returncode}: {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"strom did not become ready: {self.log_tail()}")
            time.sleep(0.02)
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.url = config["clusters"][0]["cluster"]["server"]
        users = {u["name"]: u["user"] for u in config["users"]}
        self.token = next(u["token"] for u in users.values() if "token" in u)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, *, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout)

    def kill(self) -> None:
        """kill -9: what a crash looks like to the data on disk."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self, *, same_port: bool = True) -> None:
        port = self.port if same_port and self.url else 0
        self.stop()
        self.start(port=port)


def start_server(data_dir: Path, *extra_args: str) -> StromServer:
    server = StromServer(data_dir=data_dir, extra_args=tuple(extra_args))
    server.start()
    return server
