"""`strom watch` end to end: a real server, the CLI as a subprocess, changes through the API.

Output is read by background threads and waited for with deadlines; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.client import load_config
from strom.client.discovery import discover, resolve_resource
from strom.client.http import HttpClient
from strom.testing.server import StromServer

from .conftest import Api, wait_for

_BASE = "/api/v1/namespaces/{ns}/configmaps"


class WatchProc:
    """`strom watch ...` running; stdout and stderr lines collected as they come."""

    def __init__(self, kubeconfig: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SSLKEYLOGFILE")}
        cmd = [sys.executable, "-m", "strom.cli.main", "watch", "--kubeconfig", str(kubeconfig)]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, into: list[str]) -> None:
        for line in iter(stream.readline, b""):
            into.append(line.decode().rstrip("\n"))

    def wait_out(
        self, check: Callable[[list[str]], bool], *, what: str, timeout: float = 30
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.out):
            if self.proc.poll() is not None and not check(self.out):
                self._threads[0].join(2)
                if check(self.out):
                    return
                pytest.fail(f"strom watch exited ({self.proc.returncode}) before {what}: {self}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}: {self}")
            time.sleep(0.02)  # poll interval; the loop is bounded by its deadline

    def wait_err(self, pattern: str, *, timeout: float = 30) -> str:
        regex = re.compile(pattern)
        found: list[str] = wait_for(
            lambda: [line for line in self.err if regex.search(line)],
            what=f"stderr matching {pattern!r}: {self}",
            timeout=timeout,
        )
        return found[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for thread in self._threads:
            thread.join(5)

    def __str__(self) -> str:
        return "\nstdout:\n" + "\n".join(self.out) + "\nstderr:\n" + "\n".join(self.err)


@pytest.fixture
def start_watch() -> Iterator[Callable[..., WatchProc]]:
    procs: list[WatchProc] = []

    def start(kubeconfig: Path, *args: str) -> WatchProc:
        proc = WatchProc(kubeconfig, *args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


_LABELS = {"test": "strom-watch"}


def _cm(name: str, *, labelled: bool = False, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labelled:
        meta["labels"] = _LABELS
    return {"metadata": meta, "data": data}


def _events(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _summary(lines: list[str], names: set[str]) -> list[tuple[str, str, str]]:
    """(type, name, rv) of the JSON events about `names`, in output order."""
    out = []
    for event in _events(lines):
        meta = event["object"]["metadata"]
        if meta["name"] in names:
            out.append((event["type"], meta["name"], meta["resourceVersion"]))
    return out


def _has(name: str, kind: str = "ADDED") -> Callable[[list[str]], bool]:
    return lambda lines: (
        (kind, name) in {(e["type"], e["object"]["metadata"]["name"]) for e in _events(lines)}
    )


def _change_one(api: Api, base: str, name: str) -> list[tuple[str, str, str]]:
    """Create, update, label, delete `name`; the events a watcher must see, in order."""
    rv = [api.post(base, _cm(name, k="v")).json["metadata"]["resourceVersion"]]
    obj = api.get(f"{base}/{name}").json
    rv.append(
        api.put(f"{base}/{name}", dict(obj, data={"k": "w"})).json["metadata"]["resourceVersion"]
    )
    labelled = api.patch(
        f"{base}/{name}",
        {"metadata": {"labels": {"tier": "web"}}},
        "application/merge-patch+json",
    )
    rv.append(labelled.json["metadata"]["resourceVersion"])
    assert api.delete(f"{base}/{name}").status == 200
    # A delete answers with a Status: the deletion's RV is only known to be the newest.
    kinds = ("ADDED", "MODIFIED", "MODIFIED", "DELETED")
    return [(kind, name, r) for kind, r in zip(kinds, [*rv, "?"], strict=True)]


def _matches(got: list[tuple[str, str, str]], expected: list[tuple[str, str, str]]) -> bool:
    """`expected` with "?" for an RV only known to be newer than the one before it."""
    if len(got) != len(expected):
        return False
    previous = 0
    for (g_type, g_name, g_rv), (e_type, e_name, e_rv) in zip(got, expected, strict=True):
        if (g_type, g_name) != (e_type, e_name) or int(g_rv) <= previous:
            return False
        if e_rv != "?" and g_rv != e_rv:
            return False
        previous = int(g_rv)
    return True


def test_json_events_in_order(
    server: StromServer, api: Api, ns: str, start_watch: Callable[..., WatchProc]
) -> None:
    base = _BASE.format(ns=ns)
    api.post(base, _cm("marker"))
    w = start_watch(server.kubeconfig, "configmaps", "-n", ns, "-o", "json")
    w.wait_out(_has("marker"), what="the listed marker")
    expected = _change_one(api, base, "subject")
    w.wait_out(_has("subject", "DELETED"), what="the DELETED event")
    assert _matches(_summary(w.out, {"subject"}), expected), (
        _summary(w.out, {"subject"}),
        expected,
    )
    events = _events(w.out)
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)
    assert all(e["object"]["apiVersion"] == "v1" for e in events)
    assert [
        e["object"].get("data") for e in events if e["object"]["metadata"]["name"] == "subject"
    ][:2] == [{"k": "v"}, {"k": "w"}]
    assert w.err == []


def test_pretty_lines_with_diffs(
    server: StromServer, api: Api, ns: str, start_watch: Callable[..., WatchProc]
) -> None:
    base = _BASE.format(ns=ns)
    api.post(base, _cm("marker"))
    w = start_watch(server.kubeconfig, "cm", "-n", ns)
    w.wait_out(lambda lines: any(f"{ns}/marker" in line for line in lines), what="marker")
    expected = _change_one(api, base, "subject")
    w.wait_out(lambda lines: any("DELETED" in line for line in lines), what="DELETED")
    lines = [line for line in w.out if f"{ns}/subject " in line]
    stamp = r"\d\d:\d\d:\d\d"
    rvs = [rv for _, _, rv in expected]
    assert re.fullmatch(rf"{stamp} ADDED    {ns}/subject rv={rvs[0]}", lines[0]), lines
    assert re.fullmatch(rf'{stamp} MODIFIED {ns}/subject rv={rvs[1]} data\.k: "v" → "w"', lines[1])
    assert re.fullmatch(
        rf'{stamp} MODIFIED {ns}/subject rv={rvs[2]} \+metadata\.labels: \{{"tier":"web"\}}',
        lines[2],
    )
    assert re.fullmatch(rf"{stamp} DELETED  {ns}/subject rv=\d+", lines[3])
    assert len(lines) == 4
    assert not any("\x1b[" in line for line in w.out)  # not a terminal: no colour


def test_resumes_after_kill_9_without_gaps_or_duplicates(
    strom_server_factory: Callable[..., StromServer], start_watch: Callable[..., WatchProc]
) -> None:
    server = strom_server_factory()
    base = _BASE.format(ns="default")
    api = Api(server)
    api.post(base, _cm("marker"))
    w = start_watch(server.kubeconfig, "cm", "-o", "json")
    w.wait_out(_has("marker"), what="marker")
    server.kill()
    server.start(port=server.port)
    api = Api(server)
    names = [f"after-{i}" for i in range(5)]
    expected = [
        ("ADDED", name, api.post(base, _cm(name)).json["metadata"]["resourceVersion"])
        for name in names
    ]
    assert api.delete(f"{base}/after-2").status == 200
    expected.append(("DELETED", "after-2", "?"))
    sentinel = api.post(base, _cm("sentinel")).json["metadata"]["resourceVersion"]
    w.wait_out(_has("sentinel"), what="the sentinel after the restart", timeout=60)
    assert _matches(_summary(w.out, set(names)), expected), (_summary(w.out, set(names)), expected)
    assert _summary(w.out, {"sentinel"}) == [("ADDED", "sentinel", sentinel)]
    assert _summary(w.out, {"marker"})[:1] == _summary(w.out, {"marker"})  # listed once
    w.wait_err(r"^strom watch: watch interrupted .*resuming from resourceVersion \d+")


@pytest.fixture
def compacting(strom_server_factory: Callable[..., StromServer]) -> StromServer:
    return strom_server_factory("--compaction-interval", "200ms", "--compaction-retain", "1")


def _wait_compacted(api: Api, base: str, rv: str) -> None:
    wait_for(
        lambda: api.get(f"{base}?resourceVersion={rv}&resourceVersionMatch=Exact").status == 410,
        what=f"compaction past {rv}",
        timeout=20,
    )


def test_since_a_compacted_rv_relists_and_says_so(
    compacting: StromServer, start_watch: Callable[..., WatchProc]
) -> None:
    api = Api(compacting)
    base = _BASE.format(ns="default")
    old_rv = api.post(base, _cm("old", labelled=True, v="0")).json["metadata"]["resourceVersion"]
    for i in range(1, 4):
        obj = api.get(f"{base}/old").json
        api.put(f"{base}/old", dict(obj, data={"v": str(i)}))
    api.post(base, _cm("kept", labelled=True))
    _wait_compacted(api, base, old_rv)
    w = start_watch(
        compacting.kubeconfig,
        "configmaps",
        "-l",
        "test=strom-watch",
        "--since",
        old_rv,
        "-o",
        "json",
    )
    line = w.wait_err("relisting")
    assert line == f"strom watch: resourceVersion {old_rv} expired (410 Gone); relisting"
    w.wait_out(lambda lines: len(lines) >= 2, what="the relisted state")
    api.post(base, _cm("later", labelled=True))
    w.wait_out(_has("later"), what="a change after the relist")
    events = _events(w.out)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "kept"),
        ("ADDED", "old"),
        ("ADDED", "later"),
    ]
    assert events[1]["object"]["data"] == {"v": "3"}  # the current state, not history


def test_relist_after_410_emits_only_differences(
    compacting: StromServer, start_watch: Callable[..., WatchProc]
) -> None:
    """Known state {same, changed, gone}; while the client cannot reach the server, `changed`
    is updated, `gone` deleted, `new` created and history compacted.  On reconnect: 410, relist,
    and exactly MODIFIED changed, ADDED new, DELETED gone; nothing for `same`."""
    api = Api(compacting)
    base = _BASE.format(ns="default")
    for name in ("same", "changed", "gone"):
        api.post(base, _cm(name, labelled=True, v="1"))
    w = start_watch(compacting.kubeconfig, "cm", "-l", "test=strom-watch", "-o", "json")
    w.wait_out(_has("gone"), what="the initial list")
    head_rv = api.get(base).json["metadata"]["resourceVersion"]  # >= the client's RV
    listed = len(w.out)
    port = compacting.port
    compacting.stop()
    compacting.start(port=0)  # elsewhere: the client keeps knocking on the old port
    api = Api(compacting)
    obj = api.get(f"{base}/changed").json
    api.put(f"{base}/changed", dict(obj, data={"v": "2"}))
    api.delete(f"{base}/gone")
    api.post(base, _cm("new", labelled=True))
    _wait_compacted(api, base, head_rv)
    compacting.stop()
    compacting.start(port=port)
    w.wait_err(r"^strom watch: resourceVersion \d+ expired \(410 Gone\); relisting$", timeout=60)
    w.wait_out(lambda lines: len(lines) >= listed + 3, what="the relist differences", timeout=30)
    api = Api(compacting)
    api.post(base, _cm("sentinel", labelled=True))
    w.wait_out(_has("sentinel"), what="the sentinel")
    after = [(e["type"], e["object"]["metadata"]["name"]) for e in _events(w.out[listed:])]
    assert sorted(after[:3]) == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "changed")]
    assert after[3:] == [("ADDED", "sentinel")]


def test_unknown_resource_is_one_line(server: StromServer) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "strom.cli.main",
            "watch",
            "--kubeconfig",
            str(server.kubeconfig),
            "nosuchthings",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == 'strom watch: the server doesn\'t have a resource type "nosuchthings"\n'


def test_unreachable_server_is_one_line(server: StromServer, tmp_path: Path) -> None:
    text = server.kubeconfig.read_text().replace(server.url, "https://127.0.0.1:1")
    config = tmp_path / "unreachable.kubeconfig"
    config.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "strom.cli.main", "watch", "--kubeconfig", str(config), "pods"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "strom watch: cannot reach https://127.0.0.1:1: connection refused\n"


def test_unwatchable_resource_is_one_line(server: StromServer) -> None:
    cmd = [sys.executable, "-m", "strom.cli.main", "watch"]
    proc = subprocess.run(
        [*cmd, "--kubeconfig", str(server.kubeconfig), "selfsubjectreviews"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        'strom watch: the server does not allow watching "selfsubjectreviews" (verbs: create)\n'
    )


def test_bad_arguments_and_help(server: StromServer) -> None:
    cmd = [sys.executable, "-m", "strom.cli.main", "watch"]
    both = subprocess.run(
        [*cmd, "pods", "-n", "x", "-A"], capture_output=True, text=True, timeout=30
    )
    assert both.returncode == 2 and "Traceback" not in both.stderr
    assert "not allowed with argument" in both.stderr
    missing = subprocess.run(
        [*cmd, "--kubeconfig", "/nonexistent/kc", "pods"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 1
    assert missing.stderr == "strom watch: kubeconfig /nonexistent/kc does not exist\n"
    helped = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "examples:" in helped.stdout and "--since" in helped.stdout


@pytest.mark.parametrize(
    ("typed", "qualified"),
    [
        ("po", "pods.v1."),
        ("pods", "pods.v1."),
        ("pod", "pods.v1."),
        ("PODS", "pods.v1."),
        ("pods.v1.", "pods.v1."),
        ("deploy", "deployments.v1.apps"),
        ("deployments.apps", "deployments.v1.apps"),
        ("deployments.v1.apps", "deployments.v1.apps"),
        ("Deployment", "deployments.v1.apps"),
        ("events", "events.v1."),
        ("events.events.k8s.io", "events.v1.events.k8s.io"),
        ("ns", "namespaces.v1."),
        ("crd", "customresourcedefinitions.v1.apiextensions.k8s.io"),
    ],
)
def test_resource_names_resolve_like_kubectl(
    server: StromServer, typed: str, qualified: str
) -> None:
    async def resolve() -> str:
        client = HttpClient(load_config(server.kubeconfig))
        try:
            return resolve_resource(typed, await discover(client)).qualified_name
        finally:
            await client.close()

    assert asyncio.run(resolve()) == qualified


def test_crd_names_resolve(server: StromServer, api: Api) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wdg"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert reply.status == 201, reply.body

    async def names() -> list[str]:
        client = HttpClient(load_config(server.kubeconfig))
        try:
            known = await discover(client)
        finally:
            await client.close()
        return [
            resolve_resource(t, known).qualified_name for t in ("wdg", "widget", f"widgets.{group}")
        ]

    wait_for(lambda: api.get(f"/apis/{group}/v1").status == 200, what="the CRD to be served")
    assert asyncio.run(names()) == [f"widgets.v1.{group}"] * 3


def test_ctrl_c_exits_quietly_with_130(
    server: StromServer, api: Api, ns: str, start_watch: Callable[..., WatchProc]
) -> None:
    api.post(_BASE.format(ns=ns), _cm("marker"))
    w = start_watch(server.kubeconfig, "cm", "-n", ns)
    w.wait_out(lambda lines: any("marker" in line for line in lines), what="marker")
    w.proc.send_signal(signal.SIGINT)
    assert w.proc.wait(15) == 130
    w.stop()
    assert w.err == []


def test_client_certificate_context(server: StromServer) -> None:
    async def namespaces() -> int:
        client = HttpClient(load_config(server.kubeconfig, context=f"strom-{server.port}-cert"))
        try:
            reply = await client.get("/api/v1/namespaces")
        finally:
            await client.close()
        return len(reply.json()["items"])

    assert asyncio.run(namespaces()) >= 1
