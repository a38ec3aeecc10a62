"""pods/binding, the bindings collection and pods/eviction with PodDisruptionBudgets, answered
as kube-apiserver answers them."""

from __future__ import annotations

from typing import Any

from .conftest import Api

CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _pod(api: Api, ns: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    body = {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    reply = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    assert reply.status == 201, reply.body
    return reply.json


def _binding(name: str, node: str = "node-1", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, **extra},
        "target": {"kind": "Node", "name": node},
    }


def test_binding_assigns_the_node_once(api: Api, ns: str) -> None:
    _pod(api, ns, "p")
    path = f"/api/v1/namespaces/{ns}/pods/p/binding"
    reply = api.post(path, _binding("p", annotations={"scheduler": "mine"}))
    assert reply.status == 201, reply.body
    assert reply.json == CREATED
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/p").json
    assert pod["spec"]["nodeName"] == "node-1"
    assert pod["metadata"]["annotations"]["scheduler"] == "mine"
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled and scheduled[0]["status"] == "True"
    again = api.post(path, _binding("p", "node-2"))
    assert again.status == 409
    assert again.json["message"] == (
        'Operation cannot be fulfilled on pods "p": pod p is already assigned to node "node-1"'
    )
    # the collection form takes the pod's name from the Binding
    _pod(api, ns, "q")
    assert api.post(f"/api/v1/namespaces/{ns}/bindings", _binding("q")).status == 201
    assert api.get(f"/api/v1/namespaces/{ns}/pods/q").json["spec"]["nodeName"] == "node-1"


def test_binding_bad_input(api: Api, ns: str) -> None:
    _pod(api, ns, "b")
    path = f"/api/v1/namespaces/{ns}/pods/b/binding"
    mismatch = api.post(path, _binding("other"))
    assert mismatch.status == 400
    assert mismatch.json["message"] == "name in URL does not match name in Binding object"
    no_target = api.post(path, {"metadata": {"name": "b"}, "target": {"kind": "Pod"}})
    assert no_target.status == 422
    assert [c["field"] for c in no_target.json["details"]["causes"]] == [
        "target.kind",
        "target.name",
    ]
    assert (
        api.post(f"/api/v1/namespaces/{ns}/pods/missing/binding", _binding("missing")).status == 404
    )
    assert api.get(path).status == 405
    assert "nodeName" not in api.get(f"/api/v1/namespaces/{ns}/pods/b").json["spec"]


def _running(api: Api, ns: str, name: str, labels: dict[str, str]) -> None:
    pod = _pod(api, ns, name, labels)
    pod["status"] = {"phase": "Running"}
    assert api.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", pod).status == 200


def _eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


def test_eviction_honours_the_disruption_budget(api: Api, ns: str) -> None:
    labels = {"app": "db"}
    _running(api, ns, "db-0", labels)
    _running(api, ns, "db-1", labels)
    pdbs = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    pdb = {
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
    }
    assert api.post(pdbs, pdb).status == 201
    # no disruption controller has looked at the budget yet: observedGeneration < generation
    pending = api.post(f"/api/v1/namespaces/{ns}/pods/db-0/eviction", _eviction("db-0"))
    assert pending.status == 429
    assert pending.headers.get("retry-after") == "10"
    assert pending.json["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget db is still being processed by the server.",
        }
    ]
    # as the disruption controller would: one disruption allowed
    current = api.get(f"{pdbs}/db").json
    current["status"] = {
        "observedGeneration": current["metadata"]["generation"],
        "disruptionsAllowed": 1,
        "currentHealthy": 2,
        "desiredHealthy": 1,
        "expectedPods": 2,
    }
    assert api.put(f"{pdbs}/db/status", current).status == 200
    evicted = api.post(f"/api/v1/namespaces/{ns}/pods/db-0/eviction", _eviction("db-0"))
    assert evicted.status == 201, evicted.body
    assert evicted.json == CREATED
    assert api.get(f"/api/v1/namespaces/{ns}/pods/db-0").status == 404
    budget = api.get(f"{pdbs}/db").json["status"]
    assert budget["disruptionsAllowed"] == 0 and "db-0" in budget["disruptedPods"]
    refused = api.post(f"/api/v1/namespaces/{ns}/pods/db-1/eviction", _eviction("db-1"))
    assert refused.status == 429
    assert (
        refused.json["message"]
        == "Cannot evict pod as it would violate the pod's disruption budget."
    )
    assert refused.json["details"]["causes"][0]["message"] == (
        "The disruption budget db needs 1 healthy pods and has 2 currently"
    )
    assert api.get(f"/api/v1/namespaces/{ns}/pods/db-1").status == 200


def test_eviction_without_budget_or_of_pending_pod_deletes(api: Api, ns: str) -> None:
    _pod(api, ns, "free")
    reply = api.post(f"/api/v1/namespaces/{ns}/pods/free/eviction", _eviction("free"))
    assert reply.status == 201, reply.body
    assert api.get(f"/api/v1/namespaces/{ns}/pods/free").status == 404
    wrong = api.post(f"/api/v1/namespaces/{ns}/pods/x/eviction", _eviction("y"))
    assert wrong.status == 400
    assert wrong.json["message"] == "name in URL does not match name in Eviction object"


def test_ephemeral_containers_through_kubectl_debug(kubectl: Any, api: Api, ns: str) -> None:
    _pod(api, ns, "app")
    out = kubectl("debug", "app", "-n", ns, "--image=busybox", "--container=dbg", "--target=c")
    assert out.returncode == 0 and 'Targeting container "c"' in out.stdout
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/app").json
    [debugger] = pod["spec"]["ephemeralContainers"]
    assert debugger["name"] == "dbg" and debugger["image"] == "busybox"
    assert debugger["targetContainerName"] == "c"
    assert debugger["terminationMessagePolicy"] == "File"  # defaulted as a container
    entry = next(e for e in pod["metadata"]["managedFields"] if e.get("subresource"))
    assert entry["subresource"] == "ephemeralcontainers"
    path = f"/api/v1/namespaces/{ns}/pods/app/ephemeralcontainers"
    # an existing ephemeral container may not change
    changed = api.get(path).json
    changed["spec"]["ephemeralContainers"][0]["image"] = "alpine"
    refused = api.put(path, changed)
    assert refused.status == 422
    assert refused.json["details"]["causes"][0] == {
        "reason": "FieldValueForbidden",
        "message": 'Forbidden: existing ephemeral containers "dbg" may not be changed',
        "field": "spec.ephemeralContainers[0]",
    }
    # a new one may not have ports; other spec changes through this endpoint are dropped
    adding = api.get(path).json
    adding["spec"]["containers"][0]["image"] = "ignored"
    adding["spec"]["ephemeralContainers"].append(
        {"name": "two", "image": "busybox", "ports": [{"containerPort": 80}]}
    )
    with_ports = api.put(path, adding)
    assert with_ports.status == 422
    assert with_ports.json["details"]["causes"][0]["field"] == "spec.ephemeralContainers[1].ports"
    del adding["spec"]["ephemeralContainers"][1]["ports"]
    added = api.put(path, adding)
    assert added.status == 200, added.body
    assert [c["name"] for c in added.json["spec"]["ephemeralContainers"]] == ["dbg", "two"]
    assert added.json["spec"]["containers"][0]["image"] == "nginx"
