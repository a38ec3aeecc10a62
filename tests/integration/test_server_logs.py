"""Server logs as kube writes them: `-v=2` gives one httplog line per request and a line per
watch ended saying how many events it carried; `--logging-format=json` the same as JSON;
`strom --version` and `strom version` name the versions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .test_watch import RawWatch

Factory = Callable[..., StromServer]


def _lines(server: StromServer, needle: str) -> list[str]:
    return [line for line in Path(server.log_path).read_text().splitlines() if needle in line]


def test_v2_logs_requests_and_watch_ends(strom_server_factory: Factory) -> None:
    server = strom_server_factory("-v=2")
    api = Api(server)
    ns = "logged"
    assert api.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status == 201
    base = f"/api/v1/namespaces/{ns}/configmaps"
    watch = RawWatch(server, f"{base}?watch=true&timeoutSeconds=2")
    try:
        for name in ("a", "b"):
            reply = api.post(base, {"metadata": {"name": name}})
            assert reply.status in (201, 404), reply.body  # the namespace may still be settling
        wait_for(lambda: len(watch.events) >= 1, what="a watch event")
        watch.wait_end(timeout=10)
    finally:
        watch.close()
    sent = len(watch.events)
    http = wait_for(
        lambda: _lines(server, '"HTTP" verb="POST" URI="/api/v1/namespaces"'), what="a request line"
    )
    line = http[0]
    assert line[0] == "I" and "] " in line  # klog: I<mmdd hh:mm:ss.us> pid file:line]
    for field in (
        'user="admin"',
        'userAgent="strom-tests/1.0"',
        "resp=201",
        'latency="',
        'audit-ID="',
    ):
        assert field in line, (field, line)
    closed = wait_for(lambda: _lines(server, '"Watch closed"'), what="the watch's end line")
    assert f"events={sent}" in closed[0] and 'reason="timeout"' in closed[0], closed
    assert 'resource="configmaps"' in closed[0] and f'namespace="{ns}"' in closed[0]
    # a watch request's own HTTP line is written when it ends
    assert wait_for(
        lambda: _lines(
            server, '"HTTP" verb="GET" URI="/api/v1/namespaces/logged/configmaps?watch=true'
        ),
        what="the watch's request line",
    )


def test_json_logs(strom_server_factory: Factory) -> None:
    server = strom_server_factory("-v=2", "--logging-format=json")
    assert Api(server).get("/api/v1/namespaces/default").status == 200

    def request_line() -> dict[str, object] | None:
        for line in Path(server.log_path).read_text().splitlines():
            if line.startswith("{") and '"msg":"HTTP"' in line:
                entry: dict[str, object] = json.loads(line)
                if entry.get("URI") == "/api/v1/namespaces/default":
                    return entry
        return None

    entry = wait_for(request_line, what="a JSON request line")
    assert entry["v"] == 2 and entry["verb"] == "GET" and entry["resp"] == 200
    assert isinstance(entry["ts"], float) and str(entry["caller"]).startswith("app.py:")


def test_version() -> None:
    for argv in (["--version"], ["version"]):
        out = subprocess.run(
            [sys.executable, "-m", "strom.cli.main", *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        first, python, stores = out.splitlines()
        assert first.startswith("strom v1.36.") and "-strom." in first
        assert python.startswith("Python 3.")
        assert "SQLite" in stores and "etcd" in stores


def test_bad_flags_are_one_line_errors(tmp_path: Path) -> None:
    for flag, value, text in (
        ("--secure-port", "70000", "invalid port 70000: a number 0-65535"),
        ("--max-requests-inflight", "-1", "invalid number -1: must not be negative"),
        ("-v", "x", "invalid verbosity 'x'"),
    ):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "strom.cli.main",
                "serve",
                "--data-dir",
                str(tmp_path),
                flag,
                value,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, done.stderr
        assert text in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "admin.kubeconfig").exists()
