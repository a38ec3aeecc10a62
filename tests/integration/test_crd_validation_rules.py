"""CRDs in depth, as a user meets them: CEL rules (`x-kubernetes-validations`) refuse what
they should with the rule's message and path, transition rules see the old object, a rule that
does not compile refuses the CRD, and schema defaults appear on what is created and read."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .test_watch import RawWatch

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _crd(group: str, spec_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"ruledwidgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "ruledwidgets", "singular": "ruledwidget", "kind": "RuledWidget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec_schema},
                        }
                    },
                }
            ],
        },
    }


_SPEC = {
    "type": "object",
    "x-kubernetes-validations": [
        {
            "rule": "self.minReplicas <= self.replicas",
            "message": "replicas must be at least minReplicas",
        },
        {
            "rule": "self.replicas >= oldSelf.replicas",
            "messageExpression": "'replicas may not shrink below ' + string(oldSelf.replicas)",
            "fieldPath": ".replicas",
            "reason": "FieldValueForbidden",
        },
    ],
    "properties": {
        "replicas": {"type": "integer"},
        "minReplicas": {"type": "integer", "default": 1},
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() <= 10"}]},
        "mode": {"type": "string", "default": "fast"},
        "limits": {
            "type": "object",
            "default": {},
            "properties": {"memory": {"type": "string", "default": "64Mi"}},
            "x-kubernetes-validations": [
                {
                    "rule": "quantity(self.memory).isLessThan(quantity('1Gi'))",
                    "message": "memory must stay under 1Gi",
                }
            ],
        },
    },
}


def _served(api: Api, group: str, ns: str) -> str:
    assert api.post(CRDS, _crd(group, _SPEC)).status == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/ruledwidgets"
    wait_for(lambda: api.get(base).status == 200, what="the CRD served")
    return base


def _widget(group: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "RuledWidget",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_rules_refuse_with_message_and_path(api: Api, ns: str) -> None:
    group = f"r{uuid.uuid4().hex[:6]}.example.org"
    base = _served(api, group, ns)
    reply = api.post(base, _widget(group, "w", {"replicas": 1, "minReplicas": 3, "name": "x" * 11}))
    assert reply.status == 422, reply.body
    body = reply.json
    assert body["reason"] == "Invalid"
    causes = {(c["field"], c["message"]) for c in body["details"]["causes"]}
    assert causes == {
        ("spec", 'Invalid value: "object": replicas must be at least minReplicas'),
        ("spec.name", 'Invalid value: "string": failed rule: self.size() <= 10'),
    }
    assert body["message"].startswith(f'RuledWidget.{group} "w" is invalid: [')
    assert api.get(f"{base}/w").status == 404  # nothing written
    reply = api.post(base, _widget(group, "big", {"replicas": 1, "limits": {"memory": "2Gi"}}))
    assert reply.status == 422
    assert reply.json["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": memory must stay under 1Gi',
            "field": "spec.limits",
        }
    ]


def test_transition_rule_sees_the_old_object(api: Api, ns: str) -> None:
    group = f"t{uuid.uuid4().hex[:6]}.example.org"
    base = _served(api, group, ns)
    # a transition rule does not run on create
    assert api.post(base, _widget(group, "w", {"replicas": 3})).status == 201
    shrink = api.patch(f"{base}/w", {"spec": {"replicas": 2}}, "application/merge-patch+json")
    assert shrink.status == 422, shrink.body
    assert shrink.json["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: replicas may not shrink below 3",
            "field": "spec.replicas",
        }
    ]
    grow = api.patch(f"{base}/w", {"spec": {"replicas": 5}}, "application/merge-patch+json")
    assert grow.status == 200, grow.body
    assert grow.json["spec"]["replicas"] == 5


def test_defaults_appear_on_create_and_read(api: Api, kubectl: Kubectl, ns: str) -> None:
    group = f"d{uuid.uuid4().hex[:6]}.example.org"
    base = _served(api, group, ns)
    created = api.post(base, _widget(group, "w", {"replicas": 2, "mode": None}))
    assert created.status == 201, created.body
    expected = {
        "replicas": 2,
        "minReplicas": 1,
        "mode": "fast",  # null where null is not allowed takes the default
        "limits": {"memory": "64Mi"},
    }
    assert created.json["spec"] == expected
    assert api.get(f"{base}/w").json["spec"] == expected
    out = kubectl("get", f"ruledwidgets.{group}", "w", "-n", ns, "-o", "json").stdout
    assert json.loads(out)["spec"] == expected


def test_rule_that_does_not_compile_refuses_the_crd(api: Api) -> None:
    group = f"c{uuid.uuid4().hex[:6]}.example.org"
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.size > 1 &&"},
            {"rule": "has(self.namespace)", "message": "needs a namespace"},
        ],
    }
    reply = api.post(CRDS, _crd(group, spec))
    assert reply.status == 422, reply.body
    causes = reply.json["details"]["causes"]
    path = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations"
    assert [c["field"] for c in causes] == [f"{path}[0].rule", f"{path}[1].rule"]
    assert causes[0]["message"].startswith(
        'Invalid value: apiextensions.ValidationRule{Rule:"self.size > 1 &&", Message:"",'
        ' MessageExpression:"", Reason:(*apiextensions.FieldValueErrorReason)(nil),'
        ' FieldPath:"", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:'
    )
    assert causes[1]["message"].endswith(
        "compilation failed: ERROR: <input>:1:4: undefined field 'namespace'\n"
        " | has(self.namespace)\n | ...^"
    )
    assert api.get(f"{CRDS}/ruledwidgets.{group}").status == 404


def test_deprecated_version_warns_and_list_types_are_checked(api: Api, ns: str) -> None:
    group = f"v{uuid.uuid4().hex[:6]}.example.org"
    spec = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                },
            },
        },
    }
    crd = _crd(group, spec)
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [
        {**v1, "storage": False, "deprecated": True},
        {**v1, "name": "v2"},
    ]
    assert api.post(CRDS, crd).status == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/ruledwidgets"
    reply = wait_for(lambda: (r := api.get(base)).status == 200 and r, what="the CRD served")
    assert (
        reply.headers["warning"]
        == f'299 - "{group}/v1 RuledWidget is deprecated; use {group}/v2 RuledWidget"'
    )
    body = _widget(group, "w", {"tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x"}]})
    reply = api.post(base, body)
    assert reply.status == 422, reply.body
    assert [(c["field"], c["message"]) for c in reply.json["details"]["causes"]] == [
        ("spec.tags[1]", 'Duplicate value: "a"'),
        ("spec.ports[1]", 'Duplicate value: map[string]interface {}{"name":"x"}'),
    ]
    assert "warning" not in api.get(f"/apis/{group}/v2/namespaces/{ns}/ruledwidgets").headers


def test_defaults_added_later_show_on_read(api: Api, ns: str, server: StromServer) -> None:
    """As kube defaults what it reads from storage: an object stored before its CRD had a
    default shows the default on get, list and watch (without being written again)."""
    group = f"l{uuid.uuid4().hex[:6]}.example.org"
    spec = {"type": "object", "properties": {"size": {"type": "integer"}}}
    assert api.post(CRDS, _crd(group, spec)).status == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/ruledwidgets"
    wait_for(lambda: api.get(base).status == 200, what="the CRD served")
    created = api.post(base, _widget(group, "old", {"size": 1}))
    assert created.status == 201
    rv = created.json["metadata"]["resourceVersion"]
    crd = api.get(f"{CRDS}/ruledwidgets.{group}").json
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props["properties"]["tier"] = {"type": "string", "default": "gold"}
    assert api.put(f"{CRDS}/ruledwidgets.{group}", crd).status == 200
    wait_for(
        lambda: api.get(f"{base}/old").json["spec"].get("tier") == "gold",
        what="the new default on read",
    )
    assert api.get(base).json["items"][0]["spec"] == {"size": 1, "tier": "gold"}
    watch = RawWatch(server, f"{base}?watch=true&timeoutSeconds=5")
    try:
        (event,) = watch.wait_events(1)
    finally:
        watch.close()
    assert event["object"]["spec"] == {"size": 1, "tier": "gold"}
    # read defaulting writes nothing: the stored object keeps its revision
    assert api.get(f"{base}/old").json["metadata"]["resourceVersion"] == rv
