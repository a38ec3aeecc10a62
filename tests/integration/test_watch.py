"""Watch semantics, as the Kubernetes conformance watch tests and the reference captures state.

Every watch here has a server-side timeoutSeconds and a client-side socket timeout, and waits
on events, never on time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch

from strom.testing.server import StromServer

from .conftest import Api


class RawWatch:
    """A watch read line by line from a real HTTPS stream (exact wire, no client library)."""

    def __init__(self, server: StromServer, path: str, *, timeout: float = 15) -> None:
        ctx = ssl.create_default_context(cafile=str(server.ca_file))
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=ctx, timeout=timeout
        )
        self.conn.request(
            "GET", path, headers={"Authorization": f"Bearer {server.token}", "User-Agent": "t"}
        )
        self.response = self.conn.getresponse()
        self.events: list[dict[str, Any]] = []
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self.response:
                if line.strip():
                    self.events.append(json.loads(line))
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            pass  # closed under us by the test's teardown
        finally:
            self.done.set()

    def wait_events(self, n: int, *, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            if time.monotonic() > deadline:
                pytest.fail(f"expected {n} events, got {len(self.events)}: {self.events}")
            if self.done.is_set() and len(self.events) < n:
                pytest.fail(f"stream ended after {len(self.events)} events: {self.events}")
            time.sleep(0.01)  # poll interval; the loop is bounded by its deadline
        return self.events

    def wait_end(self, *, timeout: float = 15) -> list[dict[str, Any]]:
        if not self.done.wait(timeout):
            pytest.fail("watch did not end")
        return self.events

    def close(self) -> None:
        # shutdown() wakes the reader thread out of recv(); close() alone would wait for it.
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self.conn.close()


@pytest.fixture
def raw_watch(server: StromServer) -> Iterator[Callable[[str], RawWatch]]:
    opened: list[RawWatch] = []

    def open_(path: str) -> RawWatch:
        w = RawWatch(server, path)
        opened.append(w)
        return w

    yield open_
    for w in opened:
        w.close()


@pytest.fixture(scope="module")
def v1(server: StromServer) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def types_names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def test_add_update_delete_notifications(v1: client.CoreV1Api, ns: str) -> None:
    """Conformance: should observe add, update, and delete watch notifications."""
    w = watch.Watch()
    seen: list[tuple[str, str]] = []

    def writer() -> None:
        v1.create_namespaced_config_map(ns, cm("a", x="1"))
        v1.patch_namespaced_config_map("a", ns, {"data": {"x": "2"}})
        v1.delete_namespaced_config_map("a", ns)

    thread = threading.Thread(target=writer)
    started = False
    for event in w.stream(
        v1.list_namespaced_config_map, ns, timeout_seconds=10, _request_timeout=15
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if not started and event["object"].metadata.name == "kube-root-ca.crt":
            started = True
            thread.start()
        if seen[-1] == ("DELETED", "a"):
            w.stop()
    thread.join(10)
    assert seen == [
        ("ADDED", "kube-root-ca.crt"),
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]


def test_resume_from_last_resource_version(v1: client.CoreV1Api, ns: str) -> None:
    """Conformance: restart watching from the last resource version observed."""
    created = v1.create_namespaced_config_map(ns, cm("r", x="0"))
    for i in range(1, 4):
        last = v1.patch_namespaced_config_map("r", ns, {"data": {"x": str(i)}})
    # Changes made while no watch was open are delivered on resume, in order.
    for i in range(4, 6):
        v1.patch_namespaced_config_map("r", ns, {"data": {"x": str(i)}})
    v1.delete_namespaced_config_map("r", ns)
    events = []
    for event in watch.Watch().stream(
        v1.list_namespaced_config_map,
        ns,
        resource_version=last.metadata.resource_version,
        timeout_seconds=2,
        _request_timeout=10,
    ):
        events.append((event["type"], (event["object"].data or {}).get("x")))
    assert events == [("MODIFIED", "4"), ("MODIFIED", "5"), ("DELETED", "5")]
    assert int(created.metadata.resource_version) < int(last.metadata.resource_version)


def test_selector_transitions(api: Api, ns: str, raw_watch: Callable[[str], RawWatch]) -> None:
    """Conformance: an object leaving the selection is DELETED, entering it ADDED."""
    w = raw_watch(
        f"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector=sel%3Dyes&timeoutSeconds=10"
    )
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, cm("s", {"sel": "yes"}, v="1"))
    api.patch(f"{base}/s", {"metadata": {"labels": {"sel": "no"}}}, "application/merge-patch+json")
    api.patch(f"{base}/s", {"data": {"v": "2"}}, "application/merge-patch+json")  # not seen
    api.patch(f"{base}/s", {"metadata": {"labels": {"sel": "yes"}}}, "application/merge-patch+json")
    api.delete(f"{base}/s")
    events = w.wait_events(4)
    assert types_names(events) == [
        ("ADDED", "s"),
        ("DELETED", "s"),
        ("ADDED", "s"),
        ("DELETED", "s"),
    ]
    assert events[1]["object"]["metadata"]["labels"] == {"sel": "no"}  # the new object
    assert events[2]["object"]["data"] == {"v": "2"}


def test_concurrent_watches_from_one_rv_see_identical_sequences(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    start = api.get(base).json["metadata"]["resourceVersion"]
    for i in range(20):
        api.post(base, cm(f"c{i}", v=str(i)))
        if i % 3 == 0:
            api.delete(f"{base}/c{i}")
    watches = [
        raw_watch(f"{base}?watch=true&resourceVersion={start}&timeoutSeconds=10") for _ in range(5)
    ]
    sequences = []
    for w in watches:
        events = w.wait_events(27)
        sequences.append(
            [
                (
                    e["type"],
                    e["object"]["metadata"]["name"],
                    e["object"]["metadata"]["resourceVersion"],
                )
                for e in events
            ]
        )
    assert all(s == sequences[0] for s in sequences)
    revs = [int(r) for _, _, r in sequences[0]]
    assert revs == sorted(revs) and len(set(revs)) == len(revs)


def test_initial_events_sorted_then_bookmark(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name in ("zeta", "alpha", "mid"):
        api.post(base, cm(name))
    current = api.get(base).json["metadata"]["resourceVersion"]
    w = raw_watch(f"{base}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1")
    events = w.wait_end()
    assert types_names(events[:4]) == [
        ("ADDED", "alpha"),
        ("ADDED", "kube-root-ca.crt"),
        ("ADDED", "mid"),
        ("ADDED", "zeta"),
    ]
    assert events[4] == {
        "type": "BOOKMARK",
        "object": {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "resourceVersion": current,
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        },
    }


def test_watch_list_send_initial_events(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, cm("one"))
    w = raw_watch(
        f"{base}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true&timeoutSeconds=1"
    )
    events = w.wait_end()
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_timeout_ends_stream_cleanly_with_bookmark_before(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json["metadata"]["resourceVersion"]
    started = time.monotonic()
    w = raw_watch(
        f"{base}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=2"
    )
    events = w.wait_end(timeout=10)
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 6
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert w.response.status == 200
    assert w.response.getheader("Transfer-Encoding") == "chunked"
    assert w.response.getheader("Content-Type") == "application/json"
    assert w.response.getheader("Cache-Control") == "no-cache, private"


def test_field_selector_on_name_and_legacy_watch_path(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, cm("target"))
    api.post(base, cm("other"))
    w1 = raw_watch(f"{base}?watch=true&fieldSelector=metadata.name%3Dtarget&timeoutSeconds=1")
    w2 = raw_watch(f"/api/v1/watch/namespaces/{ns}/configmaps/target?timeoutSeconds=1")
    assert types_names(w1.wait_end()) == [("ADDED", "target")]
    assert types_names(w2.wait_end()) == [("ADDED", "target")]


def test_cluster_wide_watch(api: Api, ns: str, raw_watch: Callable[[str], RawWatch]) -> None:
    rv = api.get("/api/v1/configmaps").json["metadata"]["resourceVersion"]
    w = raw_watch(f"/api/v1/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=10")
    api.post(f"/api/v1/namespaces/{ns}/configmaps", cm("cw"))
    api.post("/api/v1/namespaces/default/configmaps", cm(f"cw-{ns}"))
    api.delete(f"/api/v1/namespaces/default/configmaps/cw-{ns}")
    events = w.wait_events(3)
    assert [(e["type"], e["object"]["metadata"]["namespace"]) for e in events[:3]] == [
        ("ADDED", ns),
        ("ADDED", "default"),
        ("DELETED", "default"),
    ]


def test_future_resource_version(api: Api, ns: str, raw_watch: Callable[[str], RawWatch]) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    silent = raw_watch(f"{base}?watch=true&resourceVersion=99999999&timeoutSeconds=1")
    assert silent.wait_end() == []
    started = time.monotonic()
    err = raw_watch(
        f"{base}?watch=true&resourceVersion=99999999&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=10"
    )
    events = err.wait_end(timeout=15)
    assert 2.5 < time.monotonic() - started < 8
    assert err.response.status == 200
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 504 and status["reason"] == "Timeout"
    assert status["message"].startswith("Timeout: Too large resource version: 99999999, current: ")
    assert status["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }


def test_kubectl_get_watch_shows_live_changes(
    kubectl: Callable[..., Any], api: Api, ns: str, server: StromServer
) -> None:
    import os
    import subprocess

    from .conftest import kubectl_path

    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    proc = subprocess.Popen(
        [
            kubectl_path(),
            "get",
            "configmaps",
            "-n",
            ns,
            "-w",
            "--output-watch-events",
            "-o",
            "json",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(_read_json_object(proc.stdout))
        assert first["type"] == "ADDED"
        api.post(f"/api/v1/namespaces/{ns}/configmaps", cm("live", v="1"))
        seen = json.loads(_read_json_object(proc.stdout))
        assert (seen["type"], seen["object"]["metadata"]["name"]) == ("ADDED", "live")
    finally:
        proc.kill()
        proc.wait(10)


def _read_json_object(stream: Any) -> str:
    """Read one JSON object from kubectl's output, one line or pretty-printed."""
    lines: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        text = "".join(lines)
        try:
            json.loads(text)
        except ValueError:
            continue
        return text
    pytest.fail(f"kubectl printed no complete event: {''.join(lines)!r}")


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0 when absent)."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


def test_metrics_count_watchers_events_and_requests(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    rv = api.get(base).json["metadata"]["resourceVersion"]
    before = api.get("/metrics").body.decode()
    w = raw_watch(f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=20")
    api.post(base, cm("m1"))
    w.wait_events(1)
    after = api.get("/metrics").body.decode()
    kind = {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert _sample(after, "apiserver_registered_watchers", **kind) >= 1
    assert (
        _sample(after, "apiserver_watch_events_total", **kind)
        >= _sample(before, "apiserver_watch_events_total", **kind) + 1
    )
    assert (
        _sample(after, "apiserver_longrunning_requests", verb="WATCH", resource="configmaps") >= 1
    )
    assert (
        _sample(after, "apiserver_request_total", verb="LIST", resource="configmaps", code="200")
        >= 1
    )
    assert (
        _sample(after, "apiserver_request_total", verb="POST", resource="configmaps", code="201")
        >= 1
    )
    assert "apiserver_request_duration_seconds_bucket{" in after
    assert "apiserver_watch_events_sizes_bucket{" in after
    assert 'watch_cache_capacity{group="",resource="configmaps"}' in after


def test_kubectl_get_pods_watch_table_output(api: Api, ns: str, server: StromServer) -> None:
    """`kubectl get pods -w` asks for Table-row events: columns once, then one row per event."""
    import os
    import subprocess

    from .conftest import kubectl_path

    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    proc = subprocess.Popen(
        [kubectl_path(), "get", "pods", "-n", ns, "-w", "--request-timeout=20s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        pod = {
            "metadata": {"name": "watched"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
        deadline = time.monotonic() + 15
        created = False
        lines: list[str] = []
        while time.monotonic() < deadline:
            if not created:
                created = api.post(f"/api/v1/namespaces/{ns}/pods", pod).status == 201
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("watched") and "Pending" in line:
                break
        assert any(
            line.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] for line in lines
        ), lines
        assert any(line.startswith("watched") and "Pending" in line for line in lines), lines
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize(
    ("value", "watches"),
    [
        ("True", True),  # kubernetes_asyncio sends Python's bool as text
        ("true", True),
        ("1", True),
        ("", True),  # kube's parameter codec: only "0" and "false" (any case) are false
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_watch_parameter_reads_as_kube_reads_it(
    api: Api, ns: str, value: str, watches: bool
) -> None:
    created = api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "flag"}})
    assert created.status in (201, 409)
    reply = api.get(f"/api/v1/namespaces/{ns}/configmaps?watch={value}&timeoutSeconds=1")
    assert reply.status == 200
    if watches:
        first = json.loads(reply.body.splitlines()[0])
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "flag"
    else:
        assert reply.json["kind"] == "ConfigMapList"


def test_pretty_parameter_is_gos_parse_bool(api: Api, ns: str) -> None:
    for value, pretty in (("True", True), ("t", True), ("1", True), ("yes", False), ("0", False)):
        reply = api.get(f"/api/v1/namespaces/{ns}/configmaps?pretty={value}")
        assert reply.status == 200
        assert reply.body.startswith(b"{\n") is pretty, value


def test_timeout_seconds_zero_means_the_default(
    api: Api, ns: str, raw_watch: Callable[[str], RawWatch]
) -> None:
    """timeoutSeconds=0 is the server's default timeout (minutes), not an immediate end."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    w = raw_watch(f"{base}?watch=true&timeoutSeconds=0&resourceVersion=0")
    initial = len(w.wait_events(1))  # kube-root-ca.crt
    assert api.post(base, cm("later")).status == 201
    events = w.wait_events(initial + 1)
    assert ("ADDED", "later") in types_names(events)
    assert not w.done.is_set()  # still open: a zero timeout would have ended it at once


def test_metrics_parse_and_carry_kubes_names(api: Api, ns: str) -> None:
    """/metrics as prometheus-client's own parser reads it, with the families kube users
    chart: process and Python, stored objects, in-flight requests, storage latency, the SLI."""
    from prometheus_client.parser import text_string_to_metric_families

    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.post(base, cm("metered")).status == 201
    assert api.get(f"{base}/metered").status == 200
    families = {
        f.name: f for f in text_string_to_metric_families(api.get("/metrics").body.decode())
    }
    for name in (
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "python_gc_collections",
        "python_info",
        "apiserver_storage_objects",
        "apiserver_current_inflight_requests",
        "apiserver_watch_cache_events_dispatched",
        "apiserver_terminated_watchers",
        "apiserver_request_sli_duration_seconds",
        "etcd_request_duration_seconds",
        "apiserver_request",
        "apiserver_authorization_decisions",
        "apiserver_authorization_duration_seconds",
    ):
        assert name in families, name

    def value(family: str, suffix: str = "", **labels: str) -> float:
        for sample in families[family].samples:
            if sample.name == family + suffix and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
        raise AssertionError(f"no {family}{suffix} sample with {labels}")

    assert value("apiserver_storage_objects", resource="configmaps") >= 1
    assert value("apiserver_storage_objects", resource="namespaces") >= 1
    assert (
        value("etcd_request_duration_seconds", "_count", operation="create", type="configmaps") >= 1
    )
    assert value("apiserver_current_inflight_requests", request_kind="readOnly") >= 1  # this GET
    assert value("apiserver_current_inflight_requests", request_kind="mutating") == 0
    assert value("apiserver_authorization_decisions", "_total", decision="allowed") >= 2
    assert (
        value("apiserver_request_sli_duration_seconds", "_count", verb="GET", resource="configmaps")
        >= 1
    )


def test_grafana_dashboard_charts_only_metrics_strom_serves(api: Api, ns: str) -> None:
    """docs/grafana-watch-dashboard.json: every metric its queries name is one /metrics has."""
    import re
    from pathlib import Path

    from prometheus_client.parser import text_string_to_metric_families

    dashboard = json.loads(
        (Path(__file__).parents[2] / "docs" / "grafana-watch-dashboard.json").read_text()
    )
    families = list(text_string_to_metric_families(api.get("/metrics").body.decode()))
    # a labelled family with no child yet has no sample: its name counts as served too
    samples = {s.name for f in families for s in f.samples} | {f.name for f in families}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 12
    names = {
        name
        for expr in exprs
        for name in re.findall(
            r"\b([a-z_]+(?:_total|_bucket|_seconds|_bytes|_watchers|_objects|"
            r"_requests|_capacity))\b",
            expr,
        )
    }
    assert names and names <= samples, sorted(names - samples)
