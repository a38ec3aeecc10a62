"""Data survives a restart and a kill -9 in the middle of a burst of concurrent writes."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from strom.testing.server import StromServer, start_server

from .conftest import Api


def test_restart_keeps_objects_and_revisions(
    strom_server_factory: Callable[..., StromServer],
) -> None:
    server = strom_server_factory()
    api = Api(server)
    assert api.post("/api/v1/namespaces", {"metadata": {"name": "keep"}}).status == 201
    created = api.post(
        "/api/v1/namespaces/keep/configmaps", {"metadata": {"name": "c"}, "data": {"k": "v"}}
    ).json
    server.restart()
    api = Api(server)
    got = api.get("/api/v1/namespaces/keep/configmaps/c")
    assert got.status == 200
    assert got.json["metadata"]["uid"] == created["metadata"]["uid"]
    assert got.json["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    later = api.post("/api/v1/namespaces/keep/configmaps", {"metadata": {"name": "d"}}).json
    assert int(later["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def _writer(server: StromServer, prefix: str, acked: list[str], stop: threading.Event) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    i = 0
    conn: http.client.HTTPSConnection | None = None
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline and i < 5000:
        name = f"{prefix}-{i}"
        i += 1
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=5)
            body = json.dumps({"metadata": {"name": name}, "data": {"n": name}})
            conn.request(
                "POST",
                "/api/v1/namespaces/burst/configmaps",
                body=body,
                headers={
                    "Authorization": f"Bearer {server.token}",
                    "Content-Type": "application/json",
                },
            )
            resp = conn.getresponse()
            resp.read()
            if resp.status == 201:
                acked.append(name)
        except (OSError, http.client.HTTPException):
            return  # the server died under us: what was acknowledged is in `acked`


def test_kill_9_during_concurrent_writes_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data")
    try:
        api = Api(server)
        assert api.post("/api/v1/namespaces", {"metadata": {"name": "burst"}}).status == 201
        acked: list[list[str]] = [[] for _ in range(8)]
        stop = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(_writer, server, f"w{n}", acked[n], stop) for n in range(8)]
            deadline = time.monotonic() + 20
            while sum(map(len, acked)) < 300:
                if time.monotonic() > deadline:
                    pytest.fail("writers made no progress")
                time.sleep(0.01)  # poll interval; the loop is bounded by its deadline
            server.kill()
            stop.set()
            for f in futures:
                f.result(timeout=30)
        all_acked = {name for names in acked for name in names}
        assert len(all_acked) >= 300
        server.start()
        listed = Api(server).get("/api/v1/namespaces/burst/configmaps").json["items"]
        present = {item["metadata"]["name"] for item in listed}
        missing = all_acked - present
        assert not missing, f"{len(missing)} acknowledged writes lost: {sorted(missing)[:5]}"
        for item in listed:  # nothing half-written: every object is whole
            if item["metadata"]["name"] == "kube-root-ca.crt":
                continue
            assert item["data"] == {"n": item["metadata"]["name"]}
            assert item["metadata"]["uid"] and item["metadata"]["resourceVersion"]
    finally:
        server.stop()


def test_startup_errors_are_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "strom.cli.main", "serve", *args],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )

    # Port already in use.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = serve("--secure-port", str(port), "--data-dir", str(tmp_path / "a"))
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(f"strom: cannot listen on 127.0.0.1:{port}")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr

    # Corrupt database.
    data = tmp_path / "b"
    data.mkdir()
    (data / "strom.db").write_bytes(b"this is not a database" * 100)
    proc = serve("--secure-port", "0", "--data-dir", str(data))
    assert proc.returncode == 1
    assert "strom.db" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    # Unusable data dir (a file where the directory should be).
    blocker = tmp_path / "c"
    blocker.write_text("file")
    proc = serve("--secure-port", "0", "--data-dir", str(blocker / "sub"))
    assert proc.returncode == 1
    assert "data dir" in proc.stderr and "Traceback" not in proc.stderr
