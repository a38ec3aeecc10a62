"""The platform kinds a v1.36 kube-apiserver serves by default: flow control (with kube's
bootstrap configuration), dynamic resource allocation, validated and printed as kube does."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from .conftest import Api, wait_for

_FLOW = "/apis/flowcontrol.apiserver.k8s.io/v1"
_DRA = "/apis/resource.k8s.io/v1"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_flow_control_bootstrap_configuration_is_there(api: Api, kubectl: Kubectl) -> None:
    levels = {
        o["metadata"]["name"]: o
        for o in api.get(f"{_FLOW}/prioritylevelconfigurations").json["items"]
    }
    assert {"exempt", "catch-all", "system", "workload-high", "global-default"} <= set(levels)
    assert levels["exempt"]["spec"] == {
        "type": "Exempt",
        "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0},
    }
    assert levels["catch-all"]["spec"]["limited"] == {
        "nominalConcurrencyShares": 5,
        "limitResponse": {"type": "Reject"},
        "lendablePercent": 0,
    }
    assert levels["system"]["metadata"]["annotations"] == {
        "apf.kubernetes.io/autoupdate-spec": "true"
    }
    schemas = api.get(f"{_FLOW}/flowschemas").json["items"]
    assert {s["metadata"]["name"] for s in schemas} >= {
        "exempt",
        "probes",
        "catch-all",
        "global-default",
    }
    # kubectl prints schemas in matching order, with kube's columns
    out = kubectl("get", "flowschemas").stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "PRIORITYLEVEL",
        "MATCHINGPRECEDENCE",
        "DISTINGUISHERMETHOD",
        "AGE",
        "MISSINGPL",
    ]
    names = [line.split()[0] for line in out[1:]]
    assert names[:2] == ["exempt", "probes"] and names[-1] == "catch-all"
    assert out[1].split()[1:4] == ["exempt", "1", "<none>"]
    levels_out = kubectl("get", "prioritylevelconfigurations", "system").stdout.splitlines()
    assert levels_out[1].split()[:6] == ["system", "Limited", "30", "64", "6", "50"]


def test_flow_schema_defaults_and_validation(api: Api) -> None:
    name = _name("fs")
    body: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "priorityLevelConfiguration": {"name": "workload-low"},
            "rules": [
                {
                    "subjects": [{"kind": "User", "user": {"name": "alice"}}],
                    "resourceRules": [
                        {
                            "verbs": ["get"],
                            "apiGroups": [""],
                            "resources": ["pods"],
                            "namespaces": ["*"],
                        }
                    ],
                }
            ],
        },
    }
    created = api.post(f"{_FLOW}/flowschemas", body)
    assert created.status == 201, created.body
    assert created.json["spec"]["matchingPrecedence"] == 1000
    assert created.json["status"] == {}
    bad = {
        "metadata": {"name": _name("fs")},
        "spec": {
            "matchingPrecedence": 20000,
            "distinguisherMethod": {"type": "ByColour"},
            "priorityLevelConfiguration": {"name": ""},
            "rules": [
                {
                    "subjects": [],
                    "resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
                }
            ],
        },
    }
    refused = api.post(f"{_FLOW}/flowschemas", bad)
    assert refused.status == 422, refused.body
    causes = {(c["field"], c["message"]) for c in refused.json["details"]["causes"]}
    assert (
        "spec.matchingPrecedence",
        "Invalid value: 20000: must not be greater than 10000",
    ) in causes
    assert (
        "spec.distinguisherMethod.type",
        'Unsupported value: "ByColour": supported values: "ByNamespace", "ByUser"',
    ) in causes
    assert (
        "spec.rules[0].subjects",
        "Required value: subjects must contain at least one value",
    ) in causes
    assert (
        "spec.rules[0].resourceRules[0].namespaces",
        "Required value: resource rules that are not cluster scoped must supply at least one"
        " namespace",
    ) in causes
    assert api.get(f"{_FLOW}/flowschemas/{bad['metadata']['name']}").status == 404
    assert api.delete(f"{_FLOW}/flowschemas/{name}").status == 200


def test_priority_level_defaults_and_validation(api: Api) -> None:
    name = _name("pl")
    body = {
        "metadata": {"name": name},
        "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}},
    }
    created = api.post(f"{_FLOW}/prioritylevelconfigurations", body)
    assert created.status == 201, created.body
    assert created.json["spec"]["limited"] == {
        "nominalConcurrencyShares": 30,
        "limitResponse": {
            "type": "Queue",
            "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50},
        },
        "lendablePercent": 0,
    }
    bad = {
        "metadata": {"name": _name("pl")},
        "spec": {
            "type": "Limited",
            "limited": {
                "lendablePercent": 101,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 4, "handSize": 8}},
            },
        },
    }
    refused = api.post(f"{_FLOW}/prioritylevelconfigurations", bad)
    assert refused.status == 422, refused.body
    messages = {c["field"]: c["message"] for c in refused.json["details"]["causes"]}
    assert (
        messages["spec.limited.lendablePercent"]
        == "Invalid value: 101: must be between 0 and 100, inclusive"
    )
    assert messages["spec.limited.limitResponse.queuing.handSize"] == (
        "Invalid value: 8: should not be greater than queues (4)"
    )
    exempt_named = {"metadata": {"name": "exempt-x"}, "spec": {"type": "Exempt"}}
    refused = api.post(f"{_FLOW}/prioritylevelconfigurations", exempt_named)
    assert refused.status == 422
    assert "type must be 'Exempt' if and only if name is 'exempt'" in refused.json["message"]


def test_bootstrap_respects_a_user_who_took_an_object_over(api: Api) -> None:
    path = f"{_FLOW}/prioritylevelconfigurations/workload-low"
    current = api.get(path).json
    current["metadata"]["annotations"]["apf.kubernetes.io/autoupdate-spec"] = "false"
    current["spec"]["limited"]["nominalConcurrencyShares"] = 7
    updated = api.put(path, current)
    assert updated.status == 200, updated.body
    assert updated.json["spec"]["limited"]["nominalConcurrencyShares"] == 7
    # put it back so the session's other tests see kube's configuration
    restored = updated.json
    restored["metadata"]["annotations"]["apf.kubernetes.io/autoupdate-spec"] = "true"
    restored["spec"]["limited"]["nominalConcurrencyShares"] = 100
    assert api.put(path, restored).status == 200


def test_resource_claims_and_slices(api: Api, ns: str, kubectl: Kubectl) -> None:
    klass = _name("gpu")
    assert api.post(f"{_DRA}/deviceclasses", {"metadata": {"name": klass}}).status == 201
    claim = {
        "metadata": {"name": "c1"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": klass}}]}},
    }
    created = api.post(f"{_DRA}/namespaces/{ns}/resourceclaims", claim)
    assert created.status == 201, created.body
    assert created.json["status"] == {}
    rows = kubectl("get", "resourceclaims", "-n", ns).stdout.splitlines()
    assert rows[0].split() == ["NAME", "STATE", "AGE"]
    assert rows[1].split()[:2] == ["c1", "pending"]
    # a claim's spec cannot change once created
    changed = created.json
    changed["spec"]["devices"]["requests"][0]["name"] = "other"
    refused = api.put(f"{_DRA}/namespaces/{ns}/resourceclaims/c1", changed)
    assert refused.status == 422
    assert (
        "spec: Invalid value" in refused.json["message"]
        and "field is immutable" in refused.json["message"]
    )
    # a request must say what it wants
    bad = {"metadata": {"name": "c2"}, "spec": {"devices": {"requests": [{"name": "Bad_Name"}]}}}
    refused = api.post(f"{_DRA}/namespaces/{ns}/resourceclaims", bad)
    assert refused.status == 422
    fields = {c["field"] for c in refused.json["details"]["causes"]}
    assert fields == {"spec.devices.requests[0].name", "spec.devices.requests[0]"}
    slice_name = _name("slice")
    good_slice = {
        "metadata": {"name": slice_name},
        "spec": {
            "driver": "gpu.example.com",
            "pool": {"name": "pool-a", "generation": 1, "resourceSliceCount": 1},
            "nodeName": "node-1",
            "devices": [{"name": "gpu-0"}],
        },
    }
    assert api.post(f"{_DRA}/resourceslices", good_slice).status == 201
    rows = kubectl("get", "resourceslices", slice_name).stdout.splitlines()
    assert rows[1].split()[:4] == [slice_name, "node-1", "gpu.example.com", "pool-a"]
    no_node = {**good_slice, "metadata": {"name": _name("slice")}}
    no_node["spec"] = {k: v for k, v in good_slice["spec"].items() if k != "nodeName"}
    refused = api.post(f"{_DRA}/resourceslices", no_node)
    assert refused.status == 422
    assert (
        "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is"
        " required" in (refused.json["message"])
    )


_NET = "/apis/networking.k8s.io/v1"


def _service(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


def test_service_ips_have_ip_address_objects(api: Api, ns: str, kubectl: Kubectl) -> None:
    default = api.get(f"{_NET}/servicecidrs/kubernetes").json
    assert default["spec"]["cidrs"] == ["10.96.0.0/12"]
    assert [(c["type"], c["status"]) for c in default["status"]["conditions"]] == [
        ("Ready", "True")
    ]
    created = api.post(f"/api/v1/namespaces/{ns}/services", _service("web"))
    assert created.status == 201, created.body
    ip = created.json["spec"]["clusterIP"]
    found = wait_for(
        lambda: (
            api.get(f"{_NET}/ipaddresses/{ip}").json
            if api.get(f"{_NET}/ipaddresses/{ip}").status == 200
            else None
        ),
        what=f"IPAddress {ip}",
    )
    assert found["spec"]["parentRef"] == {
        "group": "",
        "resource": "services",
        "namespace": ns,
        "name": "web",
    }
    assert found["metadata"]["labels"] == {
        "ipaddress.kubernetes.io/ip-family": "IPv4",
        "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
    }
    row = kubectl("get", "ipaddress", ip).stdout.splitlines()[1].split()
    assert row[:2] == [ip, f"services/{ns}/web"]
    assert api.delete(f"/api/v1/namespaces/{ns}/services/web").status == 200
    wait_for(lambda: api.get(f"{_NET}/ipaddresses/{ip}").status == 404, what=f"IPAddress {ip} gone")


def test_ip_address_reserves_and_service_cidr_extends(api: Api, ns: str) -> None:
    reserved = "10.96.200.7"
    hold = {
        "metadata": {"name": reserved},
        "spec": {
            "parentRef": {
                "group": "gateway.networking.k8s.io",
                "resource": "gateways",
                "name": "gw",
                "namespace": ns,
            }
        },
    }
    assert api.post(f"{_NET}/ipaddresses", hold).status == 201
    try:
        taken = api.post(f"/api/v1/namespaces/{ns}/services", _service("a", clusterIP=reserved))
        assert taken.status == 422, taken.body
        assert "provided IP is already allocated" in taken.json["message"]
    finally:
        assert api.delete(f"{_NET}/ipaddresses/{reserved}").status == 200
    bad_ip = {"metadata": {"name": "10.96.0.010"}, "spec": hold["spec"]}
    refused = api.post(f"{_NET}/ipaddresses", bad_ip)
    assert refused.status == 422
    cidr = _name("extra")
    assert (
        api.post(
            f"{_NET}/servicecidrs",
            {"metadata": {"name": cidr}, "spec": {"cidrs": ["10.250.0.0/24"]}},
        ).status
        == 201
    )
    try:
        extra = api.post(
            f"/api/v1/namespaces/{ns}/services", _service("b", clusterIP="10.250.0.10")
        )
        assert extra.status == 201, extra.body
        outside = api.post(
            f"/api/v1/namespaces/{ns}/services", _service("c", clusterIP="10.251.0.10")
        )
        assert outside.status == 422
    finally:
        assert api.delete(f"/api/v1/namespaces/{ns}/services/b").status in (200, 404)
        assert api.delete(f"{_NET}/servicecidrs/{cidr}").status == 200
    not_canonical = api.post(
        f"{_NET}/servicecidrs",
        {"metadata": {"name": _name("x")}, "spec": {"cidrs": ["10.0.0.1/24"]}},
    )
    assert not_canonical.status == 422


def test_hpa_v1_and_v2_are_one_object(api: Api, ns: str, kubectl: Kubectl) -> None:
    v1 = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    v2 = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 60,
        },
    }
    created = api.post(v1, body)
    assert created.status == 201, created.body
    assert created.json["apiVersion"] == "autoscaling/v1"
    assert created.json["spec"] == {
        "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
        "minReplicas": 1,
        "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 60,
    }
    as_v2 = api.get(f"{v2}/web").json
    assert as_v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
    # a v2 metric v1 cannot express travels in kube's annotation, and comes back unchanged
    as_v2["spec"]["metrics"].insert(
        0,
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "qps"},
                "target": {"type": "AverageValue", "averageValue": "10"},
            },
        },
    )
    assert api.put(f"{v2}/web", as_v2).status == 200
    seen = api.get(f"{v1}/web").json
    assert seen["spec"]["targetCPUUtilizationPercentage"] == 60
    annotation = seen["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]
    assert json.loads(annotation) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}
    ]
    seen["spec"]["maxReplicas"] = 7
    assert api.put(f"{v1}/web", seen).status == 200
    back = api.get(f"{v2}/web").json
    assert back["spec"]["maxReplicas"] == 7
    assert [m["type"] for m in back["spec"]["metrics"]] == ["Pods", "Resource"]
    assert "annotations" not in back["metadata"]
    listed = api.get(v1).json
    assert (
        listed["kind"] == "HorizontalPodAutoscalerList" and listed["apiVersion"] == "autoscaling/v1"
    )
    assert listed["items"][0]["spec"]["targetCPUUtilizationPercentage"] == 60
    row = kubectl("get", "hpa.v1.autoscaling", "web", "-n", ns).stdout.splitlines()[1].split()
    assert row[:2] == ["web", "Deployment/web"]
    assert "cpu:" in " ".join(row)


def test_component_statuses_are_probed(api: Api, kubectl: Kubectl) -> None:
    listed = api.get("/api/v1/componentstatuses")
    assert listed.status == 200, listed.body
    assert listed.headers["warning"] == '299 - "v1 ComponentStatus is deprecated in v1.19+"'
    items = {i["metadata"]["name"]: i["conditions"][0] for i in listed.json["items"]}
    storage = next(n for n in items if n not in ("controller-manager", "scheduler"))
    assert storage in ("sqlite", "etcd-0") and len(items) == 3
    assert items[storage] == {"type": "Healthy", "status": "True", "message": "ok"}
    for name in ("controller-manager", "scheduler"):
        # nothing of kube's runs here: the probe says why, as kube's does
        if items[name]["status"] == "False":
            assert "/healthz" in items[name]["error"]
    one = api.get(f"/api/v1/componentstatuses/{storage}")
    assert one.json["kind"] == "ComponentStatus" and one.json["conditions"][0]["status"] == "True"
    assert api.get("/api/v1/componentstatuses/nope").status == 404
    assert api.post("/api/v1/componentstatuses", {"metadata": {"name": "x"}}).status == 405
    out = kubectl("get", "cs").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    assert any(line.split()[:3] == [storage, "Healthy", "ok"] for line in out[1:])
