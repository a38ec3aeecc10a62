"""History: 410 once compacted, resuming across kill -9, slow watchers, shutdown."""

from __future__ import annotations

import base64
import json
import signal
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .test_watch import RawWatch


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


@pytest.fixture
def compacting(strom_server_factory: Callable[..., StromServer]) -> StromServer:
    return strom_server_factory("--compaction-interval", "200ms", "--compaction-retain", "2")


def test_gone_after_compaction(compacting: StromServer) -> None:
    api = Api(compacting)
    base = "/api/v1/namespaces/default/configmaps"
    for i in range(3):
        api.post(base, _cm(f"page-{i}"))
    first = api.get(f"{base}?limit=1").json
    old_rv = first["metadata"]["resourceVersion"]
    token = first["metadata"]["continue"]
    for i in range(5):
        api.put(f"{base}/page-0", dict(api.get(f"{base}/page-0").json, data={"v": str(i)}))

    def watch_is_gone() -> dict[str, Any] | None:
        w = RawWatch(compacting, f"{base}?watch=true&resourceVersion={old_rv}&timeoutSeconds=1")
        events = w.wait_end()
        w.close()
        return events[0] if events and events[0]["type"] == "ERROR" else None

    event = wait_for(watch_is_gone, what="compaction past the old revision", timeout=15)
    status = event["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old_rv} (")
    assert set(status) == {"kind", "apiVersion", "metadata", "status", "message", "reason", "code"}

    exact = api.get(f"{base}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
    assert exact.status == 410
    assert exact.json == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "The resourceVersion for the provided list is too old.",
        "reason": "Expired",
        "code": 410,
    }

    expired = api.get(f"{base}?limit=1&continue={token}")
    assert expired.status == 410
    body = expired.json
    assert body["reason"] == "Expired" and body["code"] == 410
    assert body["message"].startswith("The provided continue parameter is too old")
    fresh = body["metadata"]["continue"]
    decoded = json.loads(base64.urlsafe_b64decode(fresh + "=" * (-len(fresh) % 4)))
    assert decoded["rv"] == -1
    rest = api.get(f"{base}?limit=10&continue={fresh}").json
    # The first page held kube-root-ca.crt; the inconsistent continuation lists the rest.
    assert [i["metadata"]["name"] for i in rest["items"]] == ["page-0", "page-1", "page-2"]


def test_resume_after_kill_9_gets_every_event_once(
    strom_server_factory: Callable[..., StromServer],
) -> None:
    server = strom_server_factory()
    api = Api(server)
    base = "/api/v1/namespaces/default/configmaps"
    api.post(base, _cm("before"))
    last_rv = api.get(base).json["metadata"]["resourceVersion"]
    server.kill()
    server.start(port=server.port)  # same data, same port
    api = Api(server)
    written = []
    for i in range(10):
        written.append(api.post(base, _cm(f"after-{i}")).json["metadata"]["resourceVersion"])
    api.delete(f"{base}/after-3")
    w = RawWatch(server, f"{base}?watch=true&resourceVersion={last_rv}&timeoutSeconds=2")
    events = w.wait_end()
    w.close()
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert got == [("ADDED", f"after-{i}") for i in range(10)] + [("DELETED", "after-3")]
    assert [e["object"]["metadata"]["resourceVersion"] for e in events[:10]] == written


def _stalled_watch(server: StromServer, path: str) -> socket.socket:
    """A client that opens a watch and never reads: its receive window fills up."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    raw.settimeout(10)
    raw.connect(("127.0.0.1", server.port))
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_watcher_is_closed_and_others_get_everything(
    strom_server_factory: Callable[..., StromServer],
) -> None:
    server = strom_server_factory()
    api = Api(server)
    base = "/api/v1/namespaces/default/configmaps"
    rv = api.get(base).json["metadata"]["resourceVersion"]
    path = f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=60"
    stalled = _stalled_watch(server, path)
    watchers = [RawWatch(server, path, timeout=30) for _ in range(100)]
    payload = "x" * 8_000
    try:
        assert server.process is not None
        rss_before = _rss_kib(server.process.pid)
        for i in range(60):
            api.post(base, _cm(f"big-{i}", blob=payload))
        for w in watchers:
            events = w.wait_events(60, timeout=30)
            assert [e["object"]["metadata"]["name"] for e in events[:60]] == [
                f"big-{i}" for i in range(60)
            ]
        # The stalled client was dropped: its connection reads EOF once drained.
        stalled.settimeout(10)
        deadline = time.monotonic() + 20
        closed = False
        while time.monotonic() < deadline:
            try:
                if not stalled.recv(65536):
                    closed = True
                    break
            except (ssl.SSLError, ConnectionResetError, OSError):
                closed = True
                break
        assert closed, "the slow watcher was not closed"
        rss_after = _rss_kib(server.process.pid)
        # 60 x 8 KB events to 101 watchers would be ~50 MB if buffered per watcher.
        assert rss_after - rss_before < 40_000, (rss_before, rss_after)
    finally:
        stalled.close()
        for w in watchers:
            w.close()


def test_sigterm_ends_watches_with_final_chunk(
    strom_server_factory: Callable[..., StromServer],
) -> None:
    server = strom_server_factory()
    base = "/api/v1/namespaces/default/configmaps"
    w = RawWatch(server, f"{base}?watch=true&timeoutSeconds=60")
    w.wait_events(1)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    w.wait_end(timeout=10)
    assert w.response.isclosed() or w.done.is_set()
    assert server.process.wait(10) == 0
    w.close()
