"""A real `strom serve` process for tests: start, wait until ready, stop, kill, restart.

Readiness is the appearance of `admin.kubeconfig`, which the server writes only once it
answers; the kubeconfig names the port the server picked (`--secure-port 0`). The server runs
with `python -P`, so a module of the user's project (an `operator.py` beside the tests)
cannot shadow the standard library in it. Servers started with `record_requests=True` write
an audit log (Metadata level) that `requests(...)` reads for request-history assertions.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["StromServer", "start_server", "write_token_file"]

# Every request at Metadata level, only once it finished: what requests() reads.
_REQUEST_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
"""


def _matches(event: Mapping[str, Any], wanted: Mapping[str, str | None], user: str | None) -> bool:
    ref = event.get("objectRef") or {}
    for key, value in wanted.items():
        if value is None:
            continue
        actual = event.get("verb") if key == "verb" else ref.get(key)
        if (actual or "") != value:
            return False
    return user is None or (event.get("user") or {}).get("username") == user


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
    # name -> bearer token of the token-file users given to `start_server(token_users=...)`
    user_tokens: dict[str, str] = field(default_factory=dict)
    record_requests: bool = False  # audit every request for requests() (start_server sets it)

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

    @property
    def pki_dir(self) -> Path:
        return self.ca_file.parent

    # --- identities for tests: run a client as exactly the user it will be in production ----
    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig authenticating as `user` in `groups` with a client certificate signed
        by this server's CA (CN = user, one O per group); no token, no other rights."""
        from strom.pki.certs import PKIPaths, issue_client_cert

        out = self.data_dir / "users" / _safe(user)
        out.mkdir(parents=True, exist_ok=True)
        crt, key = out / "client.crt", out / "client.key"
        issue_client_cert(
            ca=PKIPaths.in_dir(self.pki_dir),
            common_name=user,
            organizations=list(groups),
            out_crt=crt,
            out_key=key,
        )
        return self._write_kubeconfig(
            out / "kubeconfig",
            user,
            {
                "client-certificate-data": _b64(crt.read_bytes()),
                "client-key-data": _b64(key.read_bytes()),
            },
        )

    def token_user_kubeconfig(self, name: str) -> Path:
        """A kubeconfig for token-file user `name` (see `start_server(token_users=...)`)."""
        return self.token_kubeconfig(self.user_tokens[name], name)

    def token_kubeconfig(self, token: str, name: str = "token-user") -> Path:
        """A kubeconfig that sends `token` (e.g. one from `write_token_file`)."""
        out = self.data_dir / "users" / _safe(name)
        out.mkdir(parents=True, exist_ok=True)
        return self._write_kubeconfig(out / "kubeconfig", name, {"token": token})

    def service_account_token(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 3600,
        audiences: Sequence[str] = (),
    ) -> str:
        """A token for ServiceAccount namespace/name from its TokenRequest subresource (what
        `kubectl create token` does), asked for as the admin."""
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = list(audiences)
        body = json.dumps(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        )
        request = urllib.request.Request(
            f"{self.url}/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            data=body.encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(request, context=ctx, timeout=10) as response:
            return str(json.loads(response.read())["status"]["token"])

    def service_account_kubeconfig(
        self, namespace: str, name: str, *, expiration_seconds: int = 3600
    ) -> Path:
        """A kubeconfig acting as ServiceAccount namespace/name (a TokenRequest token), with
        the namespace as the context's default, as in-cluster config would have it."""
        token = self.service_account_token(namespace, name, expiration_seconds=expiration_seconds)
        out = self.data_dir / "users" / _safe(f"sa-{namespace}-{name}")
        out.mkdir(parents=True, exist_ok=True)
        return self._write_kubeconfig(
            out / "kubeconfig",
            f"system:serviceaccount:{namespace}:{name}",
            {"token": token},
            namespace=namespace,
        )

    def _write_kubeconfig(
        self, path: Path, user: str, credentials: Mapping[str, str], *, namespace: str = ""
    ) -> Path:
        cluster = f"strom-{self.port}"
        context: dict[str, str] = {"cluster": cluster, "user": user}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": _b64(self.ca_file.read_bytes()),
                    },
                }
            ],
            "users": [{"name": user, "user": dict(credentials)}],
            "contexts": [{"name": cluster, "context": context}],
            "current-context": cluster,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(config, out)
        return path

    def start(self, *, port: int = 0) -> None:
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        self.log_path = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        recording: list[str] = []
        if self.record_requests:
            policy = self.data_dir / "requests-policy.yaml"
            policy.write_text(_REQUEST_POLICY)
            recording = [
                "--audit-policy-file",
                str(policy),
                "--audit-log-path",
                str(self.requests_log),
            ]
        cmd = [
            sys.executable,
            "-P",  # the user's cwd is not on the server's sys.path
            "-m",
            "strom.cli.main",
            "serve",
            "--secure-port",
            str(port),
            "--data-dir",
            str(self.data_dir),
            *recording,
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

    # --- request history (record_requests=True) -----------------------------------------------
    @property
    def requests_log(self) -> Path:
        return self.data_dir / "requests.log"

    def requests(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        user: str | None = None,
        at_least: int = 0,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """The finished requests (audit.k8s.io/v1 events, stage ResponseComplete) matching
        every filter given, oldest first: `verb` as kube's audit names it (get, list, watch,
        create, update, patch, delete, deletecollection). With `at_least`, waits up to
        `timeout` s for that many (the audit writer flushes in the background)."""
        if not self.record_requests:
            raise RuntimeError("start the server with record_requests=True to read requests()")
        wanted = {
            "verb": verb,
            "resource": resource,
            "namespace": namespace,
            "name": name,
            "subresource": subresource,
        }
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self._events() if _matches(e, wanted, user)]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.02)  # poll interval; bounded by the deadline

    def _events(self) -> list[dict[str, Any]]:
        try:
            lines = self.requests_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if event.get("stage") == "ResponseComplete":
                events.append(event)
        return events

    # --- namespaces for tests ---------------------------------------------------------------
    def create_namespace(self, name: str) -> None:
        """Create namespace `name` as the admin and wait for its `default` ServiceAccount."""
        self._admin_request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        deadline = time.monotonic() + 10
        while (
            self._admin_status("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default") != 200
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"namespace {name} never got its default ServiceAccount")
            time.sleep(0.02)  # poll interval; bounded by the deadline

    def delete_namespace(self, name: str) -> None:
        self._admin_status("DELETE", f"/api/v1/namespaces/{name}")

    def _admin_request(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(request, context=ctx, timeout=10) as response:
            return json.loads(response.read())

    def _admin_status(self, method: str, path: str) -> int:
        try:
            self._admin_request(method, path)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "user"


def write_token_file(path: Path, users: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A `--token-auth-file` with an admin (system:masters) row first and one row per user
    (name -> groups); returns name -> token (the admin's under "admin")."""
    tokens = {"admin": secrets.token_urlsafe(24)}
    lines = [f'{tokens["admin"]},admin,admin,"system:masters"']
    for name, groups in users.items():
        tokens[name] = secrets.token_urlsafe(24)
        row = f"{tokens[name]},{name},{name}"
        if groups:
            row += ',"' + ",".join(groups) + '"'
        lines.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return tokens


def start_server(
    data_dir: Path,
    *extra_args: str,
    token_users: Mapping[str, Sequence[str]] | None = None,
    record_requests: bool = False,
) -> StromServer:
    """Start `strom serve` on a free port; `token_users` (name -> groups) are written into
    the server's token file first, their tokens in `server.user_tokens`; `record_requests`
    keeps the request history `server.requests()` reads."""
    server = StromServer(
        data_dir=data_dir, extra_args=tuple(extra_args), record_requests=record_requests
    )
    if token_users:
        server.user_tokens = write_token_file(data_dir / "tokens.csv", token_users)
    server.start()
    return server
