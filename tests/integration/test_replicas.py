"""Several strom replicas on one 3-member etcd cluster (issue: etcd and high availability).

Writes spread over the replicas reach the watchers of every replica as one identical
sequence; an etcd member killed mid-write costs nothing acknowledged; a client that loses its
replica resumes on another from its last resourceVersion and misses nothing.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.testing.etcd import EtcdCluster, start_etcd
from strom.testing.server import StromServer

from .conftest import Api
from .test_watch import RawWatch


@pytest.fixture(scope="module")
def etcd3() -> Iterator[EtcdCluster]:
    cluster = start_etcd(members=3)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def replicas(etcd3: EtcdCluster, tmp_path: Path) -> Iterator[list[StromServer]]:
    """Three strom processes sharing one etcd prefix, one PKI and one token file."""
    prefix = f"/ha-{uuid.uuid4().hex[:8]}"
    endpoints = ",".join(f"http://{e}" for e in etcd3.endpoints)
    first = StromServer(
        data_dir=tmp_path / "r0",
        extra_args=("--storage", "etcd", "--etcd-servers", endpoints, "--etcd-prefix", prefix),
    )
    first.start()
    shared = (
        "--cert-dir",
        str(first.data_dir / "pki"),
        "--token-auth-file",
        str(first.data_dir / "tokens.csv"),
    )
    servers = [first]
    try:
        for i in (1, 2):
            server = StromServer(
                data_dir=tmp_path / f"r{i}",
                extra_args=(
                    "--storage",
                    "etcd",
                    "--etcd-servers",
                    endpoints,
                    "--etcd-prefix",
                    prefix,
                    *shared,
                ),
            )
            server.start()
            servers.append(server)
        yield servers
    finally:
        for server in servers:
            server.stop()


def _cm(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"n": name}}


def _sequence(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
        for e in events
        if e["type"] != "BOOKMARK"
    ]


def test_writes_on_any_replica_reach_watchers_of_all_in_one_order(
    replicas: list[StromServer],
) -> None:
    apis = [Api(server) for server in replicas]
    base = "/api/v1/namespaces/default/configmaps"
    rv = apis[0].get(base).json["metadata"]["resourceVersion"]
    watches = [
        RawWatch(server, f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=120", timeout=60)
        for server in replicas
    ]
    try:
        total = 1000

        def write(i: int) -> int:
            return apis[i % 3].post(base, _cm(f"w{i:04d}")).status

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(write, range(total)))
        assert statuses == [201] * total
        sequences = [_sequence(w.wait_events(total, timeout=90))[:total] for w in watches]
        assert len(sequences[0]) == total
        assert sequences[0] == sequences[1] == sequences[2]
        revs = [int(r) for _, _, r in sequences[0]]
        assert revs == sorted(revs) and len(set(revs)) == total
        # A CRD-free sanity check that reads agree too: every replica lists all objects.
        for api in apis:
            names = {i["metadata"]["name"] for i in api.get(base).json["items"]}
            assert {f"w{i:04d}" for i in range(total)} <= names
    finally:
        for w in watches:
            w.close()


def test_etcd_member_killed_during_writes(replicas: list[StromServer], etcd3: EtcdCluster) -> None:
    api = Api(replicas[0])
    base = "/api/v1/namespaces/default/configmaps"
    acked: list[str] = []
    for i in range(40):
        if i == 15:
            etcd3.kill_member(2)  # kill -9 one of the three members mid-stream
        name = f"k{i:03d}"
        reply = api.post(base, _cm(name), timeout=30)
        if reply.status == 201:
            acked.append(name)
    assert len(acked) == 40  # the surviving two keep quorum: every write goes through
    for server in replicas:
        names = {i["metadata"]["name"] for i in Api(server).get(base).json["items"]}
        assert set(acked) <= names


def test_client_resumes_on_another_replica(replicas: list[StromServer]) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    a, b = replicas[0], replicas[1]
    api_a = Api(a)
    first = api_a.post(base, _cm("before")).json
    last_rv = first["metadata"]["resourceVersion"]
    a.kill()  # the client's replica dies
    api_b = Api(b)
    written = [api_b.post(base, _cm(f"after-{i}")).json for i in range(5)]
    w = RawWatch(b, f"{base}?watch=true&resourceVersion={last_rv}&timeoutSeconds=2")
    try:
        events = w.wait_end(timeout=15)
    finally:
        w.close()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", f"after-{i}") for i in range(5)
    ]
    assert [e["object"]["metadata"]["resourceVersion"] for e in events] == [
        o["metadata"]["resourceVersion"] for o in written
    ]


def test_one_replica_leads_the_garbage_collector(replicas: list[StromServer]) -> None:
    from .conftest import wait_for

    api = Api(replicas[0])
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/strom-controllers"

    def lease() -> dict[str, Any] | None:
        reply = api.get(path)
        return reply.json if reply.status == 200 else None

    first = wait_for(lease, what="the controllers' lease", timeout=15)
    holder = first["spec"]["holderIdentity"]
    renewed = wait_for(
        lambda: (now := lease()) and now["spec"]["renewTime"] != first["spec"]["renewTime"] and now,
        what="a renewal",
        timeout=15,
    )
    assert renewed["spec"]["holderIdentity"] == holder  # one leader, renewing
    assert renewed["spec"]["leaseDurationSeconds"] == 15
    # the collector works whichever replica the writes go to
    writer = Api(replicas[2])
    owner = writer.post(
        "/api/v1/namespaces/default/secrets", {"metadata": {"name": "gc-owner"}}
    ).json
    ref = {
        "apiVersion": "v1",
        "kind": "Secret",
        "name": "gc-owner",
        "uid": owner["metadata"]["uid"],
    }
    body = {"metadata": {"name": "gc-dependent", "ownerReferences": [ref]}}
    assert writer.post("/api/v1/namespaces/default/configmaps", body).status == 201
    assert Api(replicas[1]).delete("/api/v1/namespaces/default/secrets/gc-owner").status == 200
    wait_for(
        lambda: writer.get("/api/v1/namespaces/default/configmaps/gc-dependent").status == 404,
        what="the dependent collected",
    )
