"""`strom tap` in front of a real strom: kubectl, the Python client and kopf work through it
unchanged, and the tap shows (and saves, and replays) the same watch events the clients see.

Every subprocess and every read has a deadline; waits are on events, never on time.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch

from strom.testing.server import StromServer

from .conftest import Api, kubectl_path, wait_for

Record = dict[str, Any]
OPERATOR = Path(__file__).parent / "operators" / "echo_operator.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Lines:
    """A subprocess's stdout read by a thread into a queue, so reads can have deadlines."""

    def __init__(self, stream: Any) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.all: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.all.append(line.rstrip("\n"))
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def next(self, *, timeout: float, what: str) -> str:
        try:
            line = self.queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; so far: {self.all}")
        if line is None:
            pytest.fail(f"stream ended while waiting for {what}; got: {self.all}")
        return line

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@dataclass
class Tap:
    proc: subprocess.Popen[str]
    kubeconfig: Path
    capture: Path
    keylog: Path
    stderr: Path
    out: Lines = field(init=False)

    def __post_init__(self) -> None:
        self.out = Lines(self.proc.stdout)

    @property
    def records(self) -> list[Record]:
        return [json.loads(line) for line in list(self.out.all) if line.strip()]

    def wait_record(
        self, match: Callable[[Record], bool], *, what: str, timeout: float = 15
    ) -> Record:
        return wait_for(
            lambda: next((r for r in self.records if match(r)), None), what=what, timeout=timeout
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        self.out.join(5)
        return code


def _run_tap(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strom.cli.main", "tap", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def strom(strom_server_factory: Callable[..., StromServer]) -> StromServer:
    return strom_server_factory()


def _start_tap(upstream_kubeconfig: Path, workdir: Path, *extra: str) -> Tap:
    """`strom tap -o json --save` on a free port; returns once its kubeconfig exists."""
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = workdir / "tap.kubeconfig"
    keylog = workdir / "keys.log"
    stderr = workdir / "tap.stderr"
    env = {**os.environ, "SSLKEYLOGFILE": str(keylog)}
    args = [
        "--listen", f"127.0.0.1:{_free_port()}",
        "--upstream-kubeconfig", str(upstream_kubeconfig),
        "--cert-dir", str(workdir / "tap-pki"),
        "--kubeconfig-out", str(kubeconfig),
        "--save", str(workdir / "capture.ndjson"),
        "-o", "json",
        *extra,
    ]  # fmt: skip
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "strom.cli.main", "tap", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    tap = Tap(proc, kubeconfig, workdir / "capture.ndjson", keylog, stderr)
    try:
        wait_for(
            lambda: kubeconfig.exists() or proc.poll() is not None,
            what="the tap's kubeconfig",
            timeout=30,
        )
        assert proc.poll() is None, f"tap exited: {stderr.read_text()}"
    except BaseException:
        tap.stop()
        raise
    return tap


@pytest.fixture
def tap(strom: StromServer, tmp_path: Path) -> Iterator[Tap]:
    tap = _start_tap(strom.kubeconfig, tmp_path)
    try:
        yield tap
    finally:
        tap.stop()


@pytest.fixture
def ns(strom: StromServer) -> str:
    name = f"tap-{uuid.uuid4().hex[:8]}"
    api = Api(strom)
    reply = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert reply.status == 201, reply.body
    wait_for(  # pods need the namespace's default ServiceAccount
        lambda: api.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status == 200,
        what="the default ServiceAccount",
    )
    return name


def _watch_events(records: list[Record], path_part: str) -> list[tuple[str, str, str]]:
    """(type, name, rv) of every event the tap showed for watches whose path has `path_part`."""
    watches = {
        (r["conn"], r["req"])
        for r in records
        if r["type"] == "request" and path_part in r["path"] and "watch=" in r["path"]
    }
    return [
        (r["eventType"], r["name"], r["resourceVersion"])
        for r in records
        if r["type"] == "event" and (r["conn"], r["req"]) in watches and r["eventType"]
    ]


def _watch_started(tap: Tap, path_part: str) -> Record:
    request = tap.wait_record(
        lambda r: r["type"] == "request" and path_part in r["path"] and "watch=" in r["path"],
        what=f"a watch on {path_part} through the tap",
    )
    return tap.wait_record(
        lambda r: (
            r["type"] == "response"
            and (r["conn"], r["req"])
            == (
                request["conn"],
                request["req"],
            )
        ),
        what="the watch's response headers",
    )


# --------------------------------------------------------------------------- kubectl


def test_kubectl_watch_through_tap_live_saved_and_replayed(
    tap: Tap, strom: StromServer, ns: str, tmp_path: Path
) -> None:
    api = Api(strom)
    base = f"/api/v1/namespaces/{ns}/pods"
    env = {**os.environ, "KUBECONFIG": str(tap.kubeconfig), "KUBECACHEDIR": str(tmp_path / "kc")}
    template = '{.type} {.object.metadata.name} {.object.metadata.resourceVersion}{"\\n"}'
    kubectl = subprocess.Popen(
        [
            kubectl_path(),
            "get",
            "pods",
            "-n",
            ns,
            "--watch",
            "--output-watch-events",
            "--request-timeout=60s",
            "-o",
            f"jsonpath={template}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        seen = Lines(kubectl.stdout)
        response = _watch_started(tap, f"/namespaces/{ns}/pods")
        assert response["status"] == 200 and response["watch"] is True

        def next_line(what: str) -> list[str]:
            while True:
                line = seen.next(timeout=15, what=what).split()
                if line[1] != "kube-root-ca.crt":
                    return line

        # Each change is seen by kubectl before the next is made: the tap does not buffer.
        pod = {
            "metadata": {"name": "c1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        created = api.post(base, pod).json
        assert next_line("ADDED via the tap") == [
            "ADDED",
            "c1",
            created["metadata"]["resourceVersion"],
        ]
        patch = {"metadata": {"labels": {"tapped": "yes"}}}
        patched = api.patch(f"{base}/c1", patch, "application/merge-patch+json").json
        assert next_line("MODIFIED via the tap") == [
            "MODIFIED", "c1", patched["metadata"]["resourceVersion"]
        ]  # fmt: skip
        deleted = api.delete(f"{base}/c1")
        assert deleted.status == 200
        line = next_line("DELETED via the tap")
        assert line[:2] == ["DELETED", "c1"]
        kubectl_events = [(*line[:2], line[2]) for line in (s.split() for s in seen.all)]
        assert len(kubectl_events) == 3

        # The tap showed the same events, decrypted, in the same order, as they passed.
        wait_for(
            lambda: len(_watch_events(tap.records, f"/namespaces/{ns}/pods")) >= 3,
            what="three events in the tap's output",
        )
        assert _watch_events(tap.records, f"/namespaces/{ns}/pods") == kubectl_events
        events = [r for r in tap.records if r["type"] == "event" and r.get("name") == "c1"]
        assert {r["namespace"] for r in events} == {ns}
        request = next(r for r in tap.records if r["type"] == "request" and "watch=" in r["path"])
        assert request["userAgent"].startswith("kubectl/")
    finally:
        kubectl.terminate()
        kubectl.wait(10)

    assert tap.stop() == 0
    live = tap.records
    saved = [json.loads(line) for line in tap.capture.read_text().splitlines()]
    assert saved == live  # -o json shows exactly what --save writes
    assert saved[0]["type"] == "tap" and saved[0]["upstream"] == strom.url

    pretty = _run_tap("--replay", str(tap.capture))
    assert pretty.returncode == 0, pretty.stderr
    shown = [line for line in pretty.stdout.splitlines() if f" {ns}/c1 rv=" in line]
    expected = [f"{kind:<9} {ns}/c1 rv={rv} " for kind, _, rv in kubectl_events]
    assert len(shown) == 3
    for line, want in zip(shown, expected, strict=True):
        assert want in line
    as_json = _run_tap("--replay", str(tap.capture), "-o", "json")
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == saved

    # SSLKEYLOGFILE covered both hops: one client random per client connection, one per
    # upstream connection (plus the start-up /version probe).
    opens = sum(1 for r in saved if r["type"] == "open")
    randoms = {line.split()[1] for line in tap.keylog.read_text().splitlines() if line.strip()}
    assert opens >= 1 and len(randoms) >= 2 * opens + 1


# --------------------------------------------------------------------------- python client


def test_python_client_list_create_watch_through_tap(tap: Tap, strom: StromServer, ns: str) -> None:
    api_client = config.new_client_from_config(config_file=str(tap.kubeconfig))
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_config_map(ns)
    start_rv = listed.metadata.resource_version
    made = core.create_namespaced_config_map(ns, {"metadata": {"name": "py1"}, "data": {"a": "1"}})
    seen: list[tuple[str, str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map,
        ns,
        resource_version=start_rv,
        timeout_seconds=20,
        _request_timeout=30,
    ):
        obj = event["object"]
        if obj.metadata.name != "py1":
            continue
        seen.append((event["type"], obj.metadata.name, obj.metadata.resource_version))
        if event["type"] == "ADDED":  # change it behind the client's back, directly on strom
            reply = Api(strom).patch(
                f"/api/v1/namespaces/{ns}/configmaps/py1",
                {"data": {"a": "2"}},
                "application/merge-patch+json",
            )
            assert reply.status == 200, reply.body
        else:
            stream.stop()
    api_client.close()
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED"]
    assert seen[0][2] == made.metadata.resource_version

    wait_for(
        lambda: len(_watch_events(tap.records, f"/namespaces/{ns}/configmaps")) >= 2,
        what="the python client's watch events in the tap's output",
    )
    assert _watch_events(tap.records, f"/namespaces/{ns}/configmaps")[:2] == seen
    python = [
        r for r in tap.records if r["type"] == "request" and "OpenAPI-Generator" in r["userAgent"]
    ]
    assert {r["method"] for r in python} >= {"GET", "POST"}
    assert max(r["req"] for r in python) >= 2  # keep-alive: several requests on one connection


# --------------------------------------------------------------------------- kopf


def test_kopf_operator_works_through_tap(
    tap: Tap, strom: StromServer, ns: str, tmp_path: Path
) -> None:
    from .test_kopf import CRD

    api = Api(strom)
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert reply.status == 201, reply.body
    log = tmp_path / "kopf.log"
    with log.open("w") as out:
        operator = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns, str(OPERATOR)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "KUBECONFIG": str(tap.kubeconfig)},
        )
    try:
        _watch_started(tap, f"/namespaces/{ns}/echowidgets")
        base = f"/apis/strom.example.com/v1/namespaces/{ns}/echowidgets"
        widget = {
            "apiVersion": "strom.example.com/v1",
            "kind": "EchoWidget",
            "metadata": {"name": "w1"},
            "spec": {"message": "hi"},
        }
        assert api.post(base, widget).status == 201
        cm = f"/api/v1/namespaces/{ns}/configmaps/echo-w1"
        wait_for(lambda: api.get(cm).status == 200, what="kopf to create the ConfigMap", timeout=30)
        assert api.delete(f"{base}/w1").status == 200
        wait_for(lambda: api.get(f"{base}/w1").status == 404, what="finalizer release", timeout=30)
    finally:
        operator.terminate()
        try:
            operator.wait(15)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait(5)
    events = _watch_events(tap.records, f"/namespaces/{ns}/echowidgets")
    assert ("ADDED", "w1") in [e[:2] for e in events], log.read_text()[-2000:]
    agents = {r["userAgent"] for r in tap.records if r["type"] == "request"}
    assert any(agent and "kopf" in agent for agent in agents), agents


# --------------------------------------------------------------------------- the tap itself


def _tap_connection(tap: Tap) -> http.client.HTTPSConnection:
    cfg = yaml.safe_load(tap.kubeconfig.read_text())
    cluster = cfg["clusters"][0]["cluster"]
    ca = tap.kubeconfig.parent / "tap-ca.crt"
    import base64

    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    port = int(cluster["server"].rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=str(ca))
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)


def test_tap_requires_its_token_and_forwards_chunked_bodies_on_keepalive(tap: Tap, ns: str) -> None:
    token = yaml.safe_load(tap.kubeconfig.read_text())["users"][0]["user"]["token"]
    conn = _tap_connection(tap)
    try:
        for auth in ({}, {"Authorization": "Bearer wrong"}):
            conn.request("GET", "/api/v1/namespaces", headers=auth)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 401
            assert body["reason"] == "Unauthorized" and body["kind"] == "Status"
        # Same connection, now with the token; a chunked request body is forwarded.
        payload = json.dumps({"metadata": {"name": "chunky"}, "data": {"x": "y"}}).encode()
        conn.request(
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            body=iter([payload[:10], payload[10:]]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        created = json.loads(resp.read())
        assert resp.status == 201, created
        assert created["data"] == {"x": "y"}
    finally:
        conn.close()
    local = [r for r in tap.records if r["type"] == "response" and r.get("local")]
    assert [r["status"] for r in local] == [401, 401]
    posts = [r for r in tap.records if r["type"] == "request" and r["method"] == "POST"]
    assert posts and posts[0]["req"] == 3  # all three on one client connection


def test_bad_arguments_and_unreachable_upstream_fail_in_one_line(tmp_path: Path) -> None:
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": f"https://127.0.0.1:{_free_port()}",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    common = ["--cert-dir", str(tmp_path / "pki"), "--kubeconfig-out", str(tmp_path / "kc")]
    cases = {
        "cannot reach upstream": ["--upstream-kubeconfig", str(dead), "--connect-timeout", "3"],
        "cannot read kubeconfig": ["--upstream-kubeconfig", str(tmp_path / "missing")],
        'context "nope" does not exist': ["--upstream-kubeconfig", str(dead), "--context", "nope"],
        "--listen wants HOST:PORT": ["--upstream-kubeconfig", str(dead), "--listen", "nonsense"],
    }
    for message, args in cases.items():
        started = time.monotonic()
        done = _run_tap(*args, *common)
        assert done.returncode != 0, (args, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("strom tap: "), done.stderr
        assert message in lines[0]
        assert time.monotonic() - started < 20
        assert not (tmp_path / "kc").exists()  # nothing handed out for a tap that never ran
    replay_missing = _run_tap("--replay", str(tmp_path / "nothing.ndjson"))
    assert replay_missing.returncode != 0
    assert replay_missing.stderr.count("\n") == 1


def test_help_has_examples() -> None:
    done = _run_tap("--help")
    assert done.returncode == 0
    assert "examples:" in done.stdout and "--replay" in done.stdout


def test_kubectl_table_watch_events_name_the_row_object() -> None:
    from strom.tools.tap.records import describe_json_event

    line = json.dumps(
        {
            "type": "MODIFIED",
            "object": {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": "41"},
                "rows": [
                    {
                        "object": {
                            "metadata": {"name": "p", "namespace": "n", "resourceVersion": "42"}
                        }
                    }
                ],
            },
        }
    ).encode()
    fields = describe_json_event(line)
    assert (fields["eventType"], fields["namespace"], fields["name"]) == ("MODIFIED", "n", "p")
    assert fields["resourceVersion"] == "42"


def test_protobuf_watch_frames_are_counted_whatever_the_chunking() -> None:
    from strom.tools.tap.records import WatchDecoder

    frames = [b"\x0a\x05ADDED" + b"x" * 300, b"\x0a\x08MODIFIED", b""]
    wire = b"".join(len(f).to_bytes(4, "big") + f for f in frames)
    decoder = WatchDecoder("application/vnd.kubernetes.protobuf;stream=watch")
    found = [e for i in range(0, len(wire), 7) for e in decoder.feed(wire[i : i + 7])]
    assert [(e["encoding"], e["bytes"]) for e in found] == [("protobuf", len(f)) for f in frames]


class _EchoUpstream:
    """A minimal HTTPS API server: answers /version, and switches `Upgrade: echo` requests to
    a byte echo, as an exec/port-forward stream would be relayed."""

    def __init__(self, cert_dir: Path) -> None:
        from strom.pki.certs import ensure_pki

        pki = ensure_pki(cert_dir=cert_dir, sans=[])
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.server_crt, pki.server_key)
        self.ca = pki.ca_crt
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(20)
        self.port = int(self.sock.getsockname()[1])
        self.seen: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(2):  # the tap's /version probe, then the tunnelled client
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            with self.ctx.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(20)
                self._handle(conn)

    def _handle(self, conn: ssl.SSLSocket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            piece = conn.recv(4096)
            if not piece:
                return
            head += piece
        self.seen.append(head)
        if head.startswith(b"GET /version"):
            body = b'{"gitVersion":"v0.0.0-echo"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            return
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
        )
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            conn.sendall(rest)
        while data := conn.recv(4096):
            conn.sendall(data)


def test_upgraded_connections_are_relayed_both_ways(tmp_path: Path) -> None:
    upstream = _EchoUpstream(tmp_path / "upstream-pki")
    kubeconfig = tmp_path / "echo.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {
                        "name": "e",
                        "cluster": {
                            "server": f"https://localhost:{upstream.port}",
                            "certificate-authority": str(upstream.ca),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "upstream-secret"}}],
                "contexts": [{"name": "e", "context": {"cluster": "e", "user": "u"}}],
                "current-context": "e",
            }
        )
    )
    tap = _start_tap(kubeconfig, tmp_path / "tap")
    try:
        token = yaml.safe_load(tap.kubeconfig.read_text())["users"][0]["user"]["token"]
        conn = _tap_connection(tap)
        conn.connect()
        sock = conn.sock
        assert sock is not None
        sock.sendall(
            b"POST /api/v1/namespaces/n/pods/p/exec HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Connection: Upgrade\r\nUpgrade: echo\r\nContent-Length: 0\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 101 ")
        sock.sendall(b"ping")
        echoed = reply.split(b"\r\n\r\n", 1)[1]
        while len(echoed) < 4:
            echoed += sock.recv(4096)
        assert echoed == b"ping"
        conn.close()
        # The upstream got the upstream credentials and the upgrade, not the tap's token.
        forwarded = upstream.seen[-1].lower()
        assert b"authorization: bearer upstream-secret" in forwarded
        assert b"upgrade: echo" in forwarded and token.encode().lower() not in forwarded
        tap.wait_record(lambda r: r["type"] == "end" and r["bytes"] >= 4, what="tunnel end")
    finally:
        tap.stop()
        upstream.sock.close()


def test_upstream_client_certificate_context_is_used(strom: StromServer, tmp_path: Path) -> None:
    tap = _start_tap(strom.kubeconfig, tmp_path / "cert", "--context", f"strom-{strom.port}-cert")
    try:
        token = yaml.safe_load(tap.kubeconfig.read_text())["users"][0]["user"]["token"]
        conn = _tap_connection(tap)
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        conn.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body=json.dumps(review),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
    finally:
        tap.stop()
    assert resp.status == 201, body
    # The admin *certificate's* identity, not the admin token user's.
    assert body["status"]["userInfo"]["username"] == "kubernetes-admin"
    # and the tap said so when it started
    status = tap.stderr.read_text()
    assert "every client of the tap acts as the client certificate" in status
    assert "CN=kubernetes-admin" in status


def test_bodies_show_the_plaintext_and_replay_it(
    strom: StromServer, ns: str, tmp_path: Path
) -> None:
    """`--bodies`: `kubectl get configmap -o yaml` and `kubectl get configmaps -w` through the
    tap show the object bodies and each event's object, credentials masked; the saved capture
    replays to the same display."""
    tap = _start_tap(strom.kubeconfig, tmp_path, "--bodies")
    try:
        api = Api(strom)
        body = {"metadata": {"name": "shown"}, "data": {"greeting": "hello tap"}}
        assert api.post(f"/api/v1/namespaces/{ns}/configmaps", body).status == 201
        secret = {"metadata": {"name": "creds"}, "stringData": {"password": "do-not-show-me"}}
        assert api.post(f"/api/v1/namespaces/{ns}/secrets", secret).status == 201
        env = {**os.environ, "KUBECONFIG": str(tap.kubeconfig)}
        for kind, name in (("configmap", "shown"), ("secret", "creds")):
            got = subprocess.run(
                [kubectl_path(), "get", kind, name, "-n", ns, "-o", "yaml"],
                capture_output=True, text=True, timeout=60, env=env, check=True,
            )  # fmt: skip
            assert name in got.stdout
        watcher = subprocess.Popen(
            [kubectl_path(), "get", "configmaps", "-n", ns, "-w", "-o", "json",
             "--request-timeout=30s"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        try:
            _watch_started(tap, f"/namespaces/{ns}/configmaps")
            later = {"metadata": {"name": "later"}, "data": {"k": "v"}}
            assert api.post(f"/api/v1/namespaces/{ns}/configmaps", later).status == 201
            event = tap.wait_record(
                lambda r: r["type"] == "event" and r.get("name") == "later",
                what="the watch event of 'later'",
            )
            patch = {"data": {"k": "w"}}
            path = f"/api/v1/namespaces/{ns}/configmaps/later"
            assert api.patch(path, patch, "application/merge-patch+json").status == 200
            modified = tap.wait_record(
                lambda r: r["type"] == "event" and r.get("eventType") == "MODIFIED",
                what="the MODIFIED event of 'later'",
            )
        finally:
            watcher.kill()
            watcher.wait(10)
    finally:
        tap.stop()
    records = tap.records
    request = next(r for r in records if r["type"] == "request" and r["path"].endswith("/shown"))
    headers = dict(request["headers"])
    assert headers["Authorization"].startswith("Bearer <masked, ")  # the tap's own token
    response_body = next(
        r for r in records
        if r["type"] == "body" and r["direction"] == "response" and r["req"] == request["req"]
        and r["conn"] == request["conn"]
    )  # fmt: skip
    assert response_body["json"]["data"] == {"greeting": "hello tap"}
    capture = tap.capture.read_text()
    assert base64.b64encode(b"do-not-show-me").decode() not in capture  # the Secret's value
    secret_body = next(
        r for r in records if r["type"] == "body" and (r.get("json") or {}).get("kind") == "Secret"
    )
    assert secret_body["json"]["data"]["password"].startswith("<masked, ")
    assert event["object"]["kind"] == "ConfigMap" and event["object"]["data"] == {"k": "v"}
    assert modified["changes"] == ['data.k: "v" → "w"']  # against the version before
    replayed = _run_tap("--replay", str(tap.capture))
    assert replayed.returncode == 0, replayed.stderr
    assert "hello tap" in replayed.stdout  # the GET's body, shown as YAML
    assert "greeting: hello tap" in replayed.stdout
    assert "name: later" in replayed.stdout  # the watch event's object
    assert '~ data.k: "v" → "w"' in replayed.stdout
    again = _run_tap("--replay", str(tap.capture))
    assert again.stdout == replayed.stdout
    # narrowed as strom watch narrows: one object of one resource
    only = _run_tap("--replay", str(tap.capture), "--resource", "configmaps", "--name", "shown")
    assert "hello tap" in only.stdout and "name: later" not in only.stdout
    assert "creds" not in only.stdout
    documents = _run_tap("--replay", str(tap.capture), "-n", ns, "-o", "yaml").stdout
    assert documents.startswith("---\n") and "type: request" in documents


def test_raw_capture_replays_the_session_byte_for_byte(
    strom: StromServer, ns: str, tmp_path: Path
) -> None:
    """`--save-raw` keeps every byte each side sent, as it arrived (chunk framing included);
    `--replay --raw-out` gives them back: the client's requests and the API server's answers,
    parsed again, are what the client sent and what it got."""
    tap = _start_tap(strom.kubeconfig, tmp_path, "--save-raw")
    try:
        token = yaml.safe_load(tap.kubeconfig.read_text())["users"][0]["user"]["token"]
        conn = _tap_connection(tap)
        try:
            path = f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1"
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            got = conn.getresponse().read()  # the watch's events, until its timeout
        finally:
            conn.close()
        tap.wait_record(lambda r: r["type"] == "close", what="the connection's end")
    finally:
        tap.stop()
    out = tmp_path / "raw"
    replayed = _run_tap("--replay", str(tap.capture), "--raw-out", str(out))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout and "raw" not in replayed.stdout  # bytes go to files, not the display
    (up,) = sorted(out.glob("*.up"))
    (down,) = sorted(out.glob("*.down"))
    assert up.read_bytes().startswith(f"GET {path} HTTP/1.1\r\n".encode())
    answer = down.read_bytes()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in answer
    _, _, body = answer.partition(b"\r\n\r\n")
    payload, rest = bytearray(), body
    while rest:  # undo the server's chunking: what remains is what the client read
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        payload += rest[:size]
        rest = rest[size + 2 :]
    assert bytes(payload) == got
    assert b'"type":"ADDED"' in got  # the namespace's kube-root-ca.crt
