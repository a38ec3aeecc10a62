"""ValidatingAdmissionPolicy as a user meets it: a policy with a param (a ConfigMap holding the
limit) bound three ways denies, warns and audits as each binding says; a policy's compile
errors refuse it; auditAnnotations reach the audit log."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from .conftest import Api, wait_for
from .test_audit import ADMIN_TOKEN, Factory, audited_server, complete

ADMISSION = "/apis/admissionregistration.k8s.io/v1"


def _policy(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments"],
                    }
                ]
            },
            "variables": [{"name": "limit", "expression": "int(params.data.maxReplicas)"}],
            "validations": [
                {
                    "expression": "object.spec.replicas <= variables.limit",
                    "messageExpression": "'replicas must be at most ' + string(variables.limit)",
                }
            ],
            "auditAnnotations": [
                {"key": "replicas", "valueExpression": "string(object.spec.replicas)"}
            ],
        },
    }


def _binding(name: str, policy: str, ns: str, actions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "policyName": policy,
            "validationActions": actions,
            "paramRef": {"name": "limits", "namespace": ns, "parameterNotFoundAction": "Deny"},
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}
            },
        },
    }


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def _setup(api: Api, ns: str, actions: list[str]) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:6]
    policy, binding = f"max-replicas-{suffix}", f"max-replicas-{suffix}-b"
    limits = {"metadata": {"name": "limits"}, "data": {"maxReplicas": "3"}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", limits).status == 201
    reply = api.post(f"{ADMISSION}/validatingadmissionpolicies", _policy(policy))
    assert reply.status == 201, reply.body
    reply = api.post(
        f"{ADMISSION}/validatingadmissionpolicybindings", _binding(binding, policy, ns, actions)
    )
    assert reply.status == 201, reply.body
    return policy, binding


def test_deny_binding_refuses_with_kubes_message(api: Api, ns: str) -> None:
    policy, binding = _setup(api, ns, ["Deny"])
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    reply = api.post(base, _deployment("big", 5))
    assert reply.status == 422, reply.body
    body = reply.json
    text = (
        f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request:"
        " replicas must be at most 3"
    )
    assert body["reason"] == "Invalid"
    assert body["message"] == f'deployments.apps "big" is forbidden: {text}'
    assert body["details"] == {
        "name": "big",
        "group": "apps",
        "kind": "deployments",
        "causes": [{"message": text}],
    }
    assert api.get(f"{base}/big").status == 404
    assert api.post(base, _deployment("small", 2)).status == 201
    # the param is read per request: raising the limit lets the next one through
    api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/limits",
        {"data": {"maxReplicas": "10"}},
        "application/merge-patch+json",
    )
    wait_for(lambda: api.post(base, _deployment("big", 5)).status == 201, what="the new limit")
    # a missing param with parameterNotFoundAction Deny refuses
    assert api.delete(f"/api/v1/namespaces/{ns}/configmaps/limits").status == 200
    reply = wait_for(
        lambda: (r := api.post(base, _deployment("other", 1))).status == 422 and r,
        what="the missing param to refuse",
    )
    assert "no params found for policy binding with `Deny` parameterNotFoundAction" in (
        reply.json["message"]
    )


def test_warn_binding_lets_through_with_a_warning(api: Api, ns: str) -> None:
    policy, binding = _setup(api, ns, ["Warn"])
    reply = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("big", 5))
    assert reply.status == 201, reply.body
    assert reply.headers["warning"] == (
        f"299 - \"Validation failed for ValidatingAdmissionPolicy '{policy}' with binding"
        f" '{binding}': replicas must be at most 3\""
    )


def test_audit_binding_annotates_the_audit_event(
    strom_server_factory: Factory, tmp_path: Path
) -> None:
    server, log = audited_server(strom_server_factory, tmp_path, "- level: Metadata\n")
    api = Api(server, token=ADMIN_TOKEN)
    ns = f"t-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status == 201
    policy, binding = _setup(api, ns, ["Audit"])
    reply = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("big", 5))
    assert reply.status == 201, reply.body
    event = complete(log, reply.headers["audit-id"])
    annotations = event["annotations"]
    assert annotations[f"{policy}/replicas"] == "5"
    assert annotations["validation.policy.admission.k8s.io/validation_failure"] == (
        f'[{{"message":"replicas must be at most 3","policy":"{policy}","binding":"{binding}",'
        '"expressionIndex":0,"validationActions":["Audit"]}]'
    )
    assert annotations["authorization.k8s.io/decision"] == "allow"


def test_policy_that_does_not_compile_is_refused(api: Api) -> None:
    bad = _policy(f"bad-{uuid.uuid4().hex[:6]}")
    bad["spec"]["validations"] = [{"expression": "object.spec.replicas <="}]
    reply = api.post(f"{ADMISSION}/validatingadmissionpolicies", bad)
    assert reply.status == 422, reply.body
    cause = reply.json["details"]["causes"][0]
    assert cause["field"] == "spec.validations[0].expression"
    assert "compilation failed: ERROR: <input>:1:" in cause["message"]
    binding = {
        "metadata": {"name": f"bad-{uuid.uuid4().hex[:6]}"},
        "spec": {"policyName": "x", "validationActions": ["Deny", "Warn"]},
    }
    reply = api.post(f"{ADMISSION}/validatingadmissionpolicybindings", binding)
    assert reply.status == 422
    assert reply.json["details"]["causes"][0]["field"] == "spec.validationActions"
