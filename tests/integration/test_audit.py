"""The audit log of a real server: event shape and stages, policy levels, omitted stages and
managed fields, failed authentication, rotation, a blocked sink, and bad policy files.

Every wait polls the log (or the FIFO reader) against a deadline."""

from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strom.testing.server import StromServer

from .conftest import Api, kubectl_path

Factory = Callable[..., StromServer]

ADMIN_TOKEN = "tok"
ALICE_TOKEN = "alicetok"
DEADLINE = 15.0
HEADER = "apiVersion: audit.k8s.io/v1\nkind: Policy\n"


def write_tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(
        f'{ADMIN_TOKEN},admin,admin,"system:masters"\n{ALICE_TOKEN},alice,alice-uid,"dev"\n'
    )
    return path


def audited_server(
    factory: Factory,
    tmp_path: Path,
    rules: str,
    *extra: str,
    log: Path | None = None,
    top: str = "",
) -> tuple[StromServer, Path]:
    """A server with its own token file and a policy of `rules` (and top-level `top`)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEADER + top + "rules:\n" + rules)
    log = log or tmp_path / "audit" / "audit.log"
    server = factory(
        "--token-auth-file",
        str(write_tokens(tmp_path)),
        "--audit-policy-file",
        str(policy),
        "--audit-log-path",
        str(log),
        *extra,
    )
    return server, log


def bind_alice_view(server: StromServer) -> None:
    """alice may read (RBAC `view`) in the default namespace."""
    reply = Api(server, token=ADMIN_TOKEN).post(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        {
            "metadata": {"name": "alice-view"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}
            ],
        },
    )
    assert reply.status == 201, reply.body


def read_events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def wait_for(
    log: Path, done: Callable[[list[dict[str, Any]]], bool], *, what: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        events = read_events(log)
        if done(events):
            return events
        if time.monotonic() > deadline:
            pytest.fail(f"audit log never showed {what}; it has: {events}")
        time.sleep(0.02)  # poll interval; the loop is bounded by its deadline


def events_of(log: Path, audit_id: str, stages: int) -> list[dict[str, Any]]:
    """The events of one request, once `stages` of them are in the log."""
    events = wait_for(
        log,
        lambda evs: sum(e["auditID"] == audit_id for e in evs) >= stages,
        what=f"{stages} events of {audit_id}",
    )
    return [e for e in events if e["auditID"] == audit_id]


def complete(log: Path, audit_id: str) -> dict[str, Any]:
    wait_for(
        log,
        lambda evs: any(e["auditID"] == audit_id and e["stage"] == "ResponseComplete" for e in evs),
        what=f"ResponseComplete of {audit_id}",
    )
    (event,) = [
        e for e in read_events(log) if e["auditID"] == audit_id and e["stage"] == "ResponseComplete"
    ]
    return event


MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# --------------------------------------------------------------------------- event shape


def test_watch_by_named_user_logs_three_stages(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    server, log = audited_server(
        strom_server_factory,
        tmp_path,
        "- level: Metadata\n  users: [alice]\n  verbs: [watch]\n",
    )
    bind_alice_view(server)
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    conn.request(
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true",
        headers={"Authorization": f"Bearer {ALICE_TOKEN}", "User-Agent": "audit-test/1.0"},
    )
    response = conn.getresponse()
    assert response.status == 200
    audit_id = response.getheader("Audit-Id")
    assert audit_id
    started = events_of(log, audit_id, 2)
    assert [e["stage"] for e in started] == ["RequestReceived", "ResponseStarted"]
    conn.close()  # the client goes away; the server ends the watch
    events = events_of(log, audit_id, 3)
    assert [e["stage"] for e in events] == [
        "RequestReceived",
        "ResponseStarted",
        "ResponseComplete",
    ]
    for event in events:
        assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
        assert event["level"] == "Metadata"
        assert event["verb"] == "watch"
        assert event["requestURI"] == (
            "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true"
        )
        assert event["user"] == {
            "username": "alice",
            "uid": "alice-uid",
            "groups": ["dev", "system:authenticated"],
        }
        assert event["objectRef"] == {
            "resource": "configmaps",
            "namespace": "default",
            "apiVersion": "v1",
        }
        assert event["sourceIPs"] == ["127.0.0.1"]
        assert event["userAgent"] == "audit-test/1.0"
        assert MICRO_TIME.match(event["requestReceivedTimestamp"])
        assert MICRO_TIME.match(event["stageTimestamp"])
        assert "requestObject" not in event and "responseObject" not in event
    received, started_ev, done = events
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert "responseStatus" not in received and "annotations" not in received
    assert started_ev["responseStatus"] == {"metadata": {}, "code": 200}
    assert done["responseStatus"] == {"metadata": {}, "code": 200}
    assert done["annotations"] == {
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason": 'RBAC: allowed by RoleBinding "alice-view/default" of'
        ' ClusterRole "view" to User "alice"',
    }
    assert received["stageTimestamp"] <= started_ev["stageTimestamp"] <= done["stageTimestamp"]
    # Only alice's watches match the policy: the admin's are not logged.
    api = Api(server, token=ADMIN_TOKEN)
    admin_id = api.get("/api/v1/namespaces/default/configmaps").headers["audit-id"]
    alice_id = Api(server, token=ALICE_TOKEN).get("/api/v1/namespaces").headers["audit-id"]
    assert all(e["auditID"] not in (admin_id, alice_id) for e in read_events(log))


def test_levels_decide_request_and_response_objects(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    rules = "".join(
        f"- level: {level}\n  namespaces: [{ns}]\n"
        for level, ns in (
            ("None", "lvl-none"),
            ("Metadata", "lvl-meta"),
            ("Request", "lvl-req"),
            ("RequestResponse", "lvl-rr"),
        )
    )
    server, log = audited_server(strom_server_factory, tmp_path, rules)
    api = Api(server, token=ADMIN_TOKEN)
    ids: dict[str, str] = {}
    for ns in ("lvl-none", "lvl-meta", "lvl-req", "lvl-rr"):
        assert api.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status == 201
        body = {"metadata": {"name": "cfg"}, "data": {"k": ns}}
        reply = api.post(f"/api/v1/namespaces/{ns}/configmaps", body)
        assert reply.status == 201
        ids[ns] = reply.headers["audit-id"]
    get = api.get("/api/v1/namespaces/lvl-rr/configmaps/cfg")
    missing = api.get("/api/v1/namespaces/lvl-meta/configmaps/nope")
    assert missing.status == 404
    deleted = api.delete("/api/v1/namespaces/lvl-meta/configmaps/cfg")
    assert deleted.status == 200 and deleted.json["status"] == "Success"

    meta = complete(log, ids["lvl-meta"])
    assert meta["level"] == "Metadata" and meta["verb"] == "create"
    assert meta["objectRef"] == {
        "resource": "configmaps",
        "namespace": "lvl-meta",
        "name": "cfg",  # from the request body, as kube's LogRequestObject fills it
        "apiVersion": "v1",
    }
    assert meta["responseStatus"] == {"metadata": {}, "code": 201}
    assert "requestObject" not in meta and "responseObject" not in meta

    req = complete(log, ids["lvl-req"])
    assert req["level"] == "Request"
    assert req["requestObject"] == {"metadata": {"name": "cfg"}, "data": {"k": "lvl-req"}}
    assert "responseObject" not in req

    rr = complete(log, ids["lvl-rr"])
    assert rr["level"] == "RequestResponse"
    assert rr["requestObject"] == {"metadata": {"name": "cfg"}, "data": {"k": "lvl-rr"}}
    created = rr["responseObject"]
    assert created["kind"] == "ConfigMap" and created["data"] == {"k": "lvl-rr"}

    got = complete(log, get.headers["audit-id"])
    assert got["verb"] == "get" and got["responseObject"] == get.json
    assert "requestObject" not in got  # a GET has no body

    not_found = complete(log, missing.headers["audit-id"])
    assert not_found["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"},
        "code": 404,
    }
    # A delete answered with a Status of success: its fields are the responseStatus, as kube's
    # LogResponseObject copies them.
    gone = complete(log, deleted.headers["audit-id"])
    assert gone["responseStatus"] == {
        "metadata": {},
        "status": "Success",
        "details": deleted.json["details"],
        "code": 200,
    }
    assert gone["responseStatus"]["details"]["name"] == "cfg"
    # Level None: nothing at all for that namespace.
    assert not [e for e in read_events(log) if e["auditID"] == ids["lvl-none"]]
    assert not [
        e for e in read_events(log) if e.get("objectRef", {}).get("namespace") == "lvl-none"
    ]


def test_omit_stages_and_managed_fields(strom_server_factory: Factory, tmp_path: Path) -> None:
    rules = (
        "- level: RequestResponse\n  namespaces: [keep]\n"
        "- level: RequestResponse\n  namespaces: [omit]\n  omitStages: [ResponseComplete]\n"
        "- level: RequestResponse\n  namespaces: [strip]\n  omitManagedFields: true\n"
    )
    server, log = audited_server(
        strom_server_factory, tmp_path, rules, top="omitStages: [RequestReceived]\n"
    )
    api = Api(server, token=ADMIN_TOKEN)
    managed = [
        {
            "manager": "audit-test",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-11-25T13:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:k": {}}},
        }
    ]
    ids = {}
    for ns in ("omit", "strip", "keep"):  # "keep" last: its event is written after the rest
        assert api.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status == 201
        body = {"metadata": {"name": "cfg", "managedFields": managed}, "data": {"k": "v"}}
        reply = api.post(f"/api/v1/namespaces/{ns}/configmaps", body)
        assert reply.status == 201
        ids[ns] = reply.headers["audit-id"]
    kept = complete(log, ids["keep"])
    events = read_events(log)
    # The policy's omitStages applies to every rule; a rule's adds to it.
    assert [e["stage"] for e in events if e["auditID"] == ids["keep"]] == ["ResponseComplete"]
    assert [e for e in events if e["auditID"] == ids["omit"]] == []
    assert kept["requestObject"]["metadata"]["managedFields"] == managed
    stripped = complete(log, ids["strip"])
    assert "managedFields" not in stripped["requestObject"]["metadata"]
    assert "managedFields" not in stripped["responseObject"]["metadata"]
    assert stripped["requestObject"]["data"] == {"k": "v"}
    assert stripped["responseObject"]["data"] == {"k": "v"}


def test_protobuf_create_is_logged_as_the_object_it_decoded_to(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    # kubectl's imperative create sends protobuf; audit logs the object the handler decoded
    # (it decodes nothing itself), as JSON, as kube's LogRequestObject does.
    server, log = audited_server(strom_server_factory, tmp_path, "- level: RequestResponse\n")
    env = {
        **os.environ,
        "KUBECONFIG": str(server.token_kubeconfig(ADMIN_TOKEN, "admin")),
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
    }
    done = subprocess.run(
        [kubectl_path(), "-v=8", "create", "configmap", "pb", "--from-literal=k=v"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sent = [line for line in done.stderr.splitlines() if "Content-Type:" in line]
    assert any("application/vnd.kubernetes.protobuf" in line for line in sent), sent
    (event,) = [
        e
        for e in wait_for(
            log,
            lambda evs: any(
                e["verb"] == "create" and e["stage"] == "ResponseComplete" for e in evs
            ),
            what="the create's ResponseComplete",
        )
        if e["verb"] == "create" and e["stage"] == "ResponseComplete"
    ]
    assert event["objectRef"]["name"] == "pb"
    sent_object = event["requestObject"]
    assert sent_object["kind"] == "ConfigMap" and sent_object["apiVersion"] == "v1"
    assert sent_object["metadata"]["name"] == "pb"
    assert sent_object["data"] == {"k": "v"}
    assert event["responseObject"]["data"] == {"k": "v"}
    assert event["responseStatus"] == {"metadata": {}, "code": 201}


def test_failed_authentication_logs_response_started_only(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    server, log = audited_server(strom_server_factory, tmp_path, "- level: Metadata\n")
    reply = Api(server, token="wrong").get("/api/v1/namespaces/default/pods")
    assert reply.status == 401
    (event,) = events_of(log, reply.headers["audit-id"], 1)
    assert event["stage"] == "ResponseStarted"
    assert event["user"] == {}
    assert event["verb"] == "list"
    assert event["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert "annotations" not in event
    # A client-chosen Audit-ID is the event's auditID and is echoed back.
    echoed = Api(server, token=ADMIN_TOKEN).get("/healthz", headers={"Audit-ID": "my-audit-id"})
    assert echoed.headers["audit-id"] == "my-audit-id"
    stages = [e["stage"] for e in events_of(log, "my-audit-id", 2)]
    assert stages == ["RequestReceived", "ResponseComplete"]


# --------------------------------------------------------------------------- rotation


BACKUP_NAME = re.compile(r"^audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log$")


def test_rotation_keeps_maxbackup_files(strom_server_factory: Factory, tmp_path: Path) -> None:
    server, log = audited_server(
        strom_server_factory,
        tmp_path,
        "- level: RequestResponse\n  resources:\n  - group: ''\n    resources: [configmaps]\n",
        "--audit-log-maxsize",
        "1",
        "--audit-log-maxbackup",
        "2",
    )
    api = Api(server, token=ADMIN_TOKEN)
    payload = "x" * 300_000  # each create logs it twice: ~600 KB per event, < 1 MB
    last = ""
    for i in range(6):
        reply = api.post(
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": f"big-{i}"}, "data": {"k": payload}},
        )
        assert reply.status == 201
        last = reply.headers["audit-id"]
    complete(log, last)  # the writer is sequential: everything before it was handled
    backups = sorted(p.name for p in log.parent.iterdir() if p != log)
    assert len(backups) == 2, backups
    assert all(BACKUP_NAME.match(name) for name in backups), backups
    for path in log.parent.iterdir():
        assert path.stat().st_size <= 1024 * 1024
        for line in path.read_text().splitlines():
            assert json.loads(line)["kind"] == "Event"


# --------------------------------------------------------------------------- blocked sink


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_blocked_sink_drops_events_but_never_slows_requests(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    server, _ = audited_server(
        strom_server_factory,
        tmp_path,
        "- level: Metadata\n",
        "--audit-log-maxsize",
        "0",
        "--audit-log-batch-buffer-size",
        "50",
        log=fifo,
    )
    # Nobody reads the FIFO: the writer thread is stuck opening it for the whole burst.
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    latencies = []
    for _ in range(300):
        started = time.perf_counter()
        conn.request("GET", "/api/v1/namespaces/default/configmaps", headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200
    conn.request("GET", "/metrics", headers=headers)
    metrics = conn.getresponse().read().decode()
    conn.close()
    # Generous: an unaudited list takes a few ms; a request waiting on the sink never returns.
    assert statistics.median(latencies) < 0.25
    events = metric(metrics, "apiserver_audit_event_total")
    dropped = metric(metrics, 'apiserver_audit_error_total{plugin="buffered"}')
    assert events >= 600  # RequestReceived + ResponseComplete per list
    assert dropped > 0
    assert events - dropped <= 50 + 400  # the buffer, plus one batch the writer holds
    assert metric(metrics, 'apiserver_audit_error_total{plugin="log"}') == 0
    assert metric(metrics, 'apiserver_audit_level_total{level="Metadata"}') >= 300

    # Now a reader drains the FIFO; what was kept is valid JSON lines, written at shutdown.
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(fifo.open("rb")), daemon=True)
    reader.start()
    assert server.stop() == 0
    reader.join(DEADLINE)
    assert not reader.is_alive()
    assert lines and all(json.loads(line)["kind"] == "Event" for line in lines)
    assert len(lines) <= events - dropped + 4  # the /metrics request's own events


# --------------------------------------------------------------------------- bad policies


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (HEADER + "rules:\n- level: Loud\n", 'rules[0].level: Unsupported value: "Loud"'),
        (
            "apiVersion: audit.k8s.io/v2\nkind: Policy\nrules:\n- level: None\n",
            'no kind "Policy" is registered for version "audit.k8s.io/v2"',
        ),
        (HEADER + "rules:\n- level: [None\n", "failed decoding: error converting YAML to JSON"),
    ],
)
def test_invalid_policy_stops_startup(tmp_path: Path, policy: str, problem: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "strom.cli.main",
            "serve",
            "--secure-port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--audit-policy-file",
            str(path),
            "--audit-log-path",
            str(tmp_path / "audit.log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("strom: loading audit policy file: ")
    assert problem in lines[0]
    assert lines[0].endswith(f": from file {path}")
    assert not (tmp_path / "data").exists()  # nothing was started


# --------------------------------------------------------------------------- authorization


def test_forbidden_and_impersonated_requests(strom_server_factory: Factory, tmp_path: Path) -> None:
    """The decision annotations come from the real authorizer; an impersonated request records
    both the requestor (`user`) and whom it acts as (`impersonatedUser`)."""
    server, log = audited_server(strom_server_factory, tmp_path, "- level: Metadata\n")
    alice = Api(server, token=ALICE_TOKEN)
    denied = alice.get("/api/v1/namespaces/kube-system/secrets")
    assert denied.status == 403
    event = complete(log, denied.headers["audit-id"])
    assert event["annotations"] == {
        "authorization.k8s.io/decision": "forbid",
        "authorization.k8s.io/reason": "",
    }
    assert event["responseStatus"]["code"] == 403
    admin = Api(server, token=ADMIN_TOKEN)
    acting = admin.get(
        "/api/v1/namespaces/default/configmaps",
        headers={"Impersonate-User": "alice", "Impersonate-Group": "dev"},
    )
    assert acting.status == 403  # alice (group dev) may not list there
    event = complete(log, acting.headers["audit-id"])
    assert event["user"]["username"] == "admin"
    assert event["impersonatedUser"] == {
        "username": "alice",
        "groups": ["dev", "system:authenticated"],
    }
    assert event["annotations"]["authorization.k8s.io/decision"] == "forbid"
