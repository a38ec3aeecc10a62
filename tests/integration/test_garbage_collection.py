"""Garbage collection by ownerReferences: background, foreground and orphan deletion, across
kinds and for custom resources, with kubectl and over the API."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from .conftest import Api, wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _cm(api: Api, ns: str, name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = owners
    reply = api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": meta})
    assert reply.status == 201, reply.body
    return reply.json


def _ref(
    owner: dict[str, Any], kind: str, api_version: str, *, block: bool = False
) -> dict[str, Any]:
    ref = {
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _secret_owner(api: Api, ns: str, name: str) -> dict[str, Any]:
    reply = api.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": name}})
    assert reply.status == 201, reply.body
    return reply.json


def _gone(api: Api, path: str) -> bool:
    return api.get(path).status == 404


def test_background_deletes_dependents_across_kinds(kubectl: Kubectl, api: Api, ns: str) -> None:
    owner = _secret_owner(api, ns, "owner")
    _cm(api, ns, "child", [_ref(owner, "Secret", "v1")])
    grandchild_owner = api.get(f"/api/v1/namespaces/{ns}/configmaps/child").json
    _cm(api, ns, "grandchild", [_ref(grandchild_owner, "ConfigMap", "v1")])
    kubectl("delete", "secret", "owner", "-n", ns)
    wait_for(
        lambda: _gone(api, f"/api/v1/namespaces/{ns}/configmaps/child"), what="child collected"
    )
    wait_for(
        lambda: _gone(api, f"/api/v1/namespaces/{ns}/configmaps/grandchild"),
        what="grandchild collected",
    )


def test_dependent_keeps_living_while_another_owner_does(api: Api, ns: str) -> None:
    a = _secret_owner(api, ns, "a")
    b = _secret_owner(api, ns, "b")
    _cm(api, ns, "shared", [_ref(a, "Secret", "v1"), _ref(b, "Secret", "v1")])
    assert api.delete(f"/api/v1/namespaces/{ns}/secrets/a").status == 200
    wait_for(
        lambda: (
            [
                r["name"]
                for r in api.get(f"/api/v1/namespaces/{ns}/configmaps/shared")
                .json["metadata"]
                .get("ownerReferences", [])
            ]
            == ["b"]
        ),
        what="the dangling reference removed",
    )


def test_dependent_of_a_missing_owner_is_collected(api: Api, ns: str) -> None:
    ghost = {"apiVersion": "v1", "kind": "Secret", "name": "ghost", "uid": str(uuid.uuid4())}
    _cm(api, ns, "orphaned-at-birth", [ghost])
    wait_for(
        lambda: _gone(api, f"/api/v1/namespaces/{ns}/configmaps/orphaned-at-birth"),
        what="collected",
    )


def test_foreground_owner_waits_for_blocking_dependents(api: Api, ns: str) -> None:
    owner = _secret_owner(api, ns, "fg")
    child = _cm(api, ns, "fg-child", [_ref(owner, "Secret", "v1", block=True)])
    # a finalizer on the dependent keeps it, and so the owner, around
    child["metadata"]["finalizers"] = ["example.com/hold"]
    assert api.put(f"/api/v1/namespaces/{ns}/configmaps/fg-child", child).status == 200
    reply = api.delete(f"/api/v1/namespaces/{ns}/secrets/fg", {"propagationPolicy": "Foreground"})
    assert reply.status == 200, reply.body
    assert reply.json["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert reply.json["metadata"]["deletionTimestamp"]
    wait_for(
        lambda: (
            api.get(f"/api/v1/namespaces/{ns}/configmaps/fg-child")
            .json["metadata"]
            .get("deletionTimestamp")
        ),
        what="the dependent being deleted",
    )
    owner_now = api.get(f"/api/v1/namespaces/{ns}/secrets/fg")
    assert owner_now.status == 200  # still there: its blocking dependent is not gone yet
    held = api.get(f"/api/v1/namespaces/{ns}/configmaps/fg-child").json
    held["metadata"]["finalizers"] = []
    assert api.put(f"/api/v1/namespaces/{ns}/configmaps/fg-child", held).status == 200
    wait_for(
        lambda: _gone(api, f"/api/v1/namespaces/{ns}/configmaps/fg-child"), what="dependent gone"
    )
    wait_for(lambda: _gone(api, f"/api/v1/namespaces/{ns}/secrets/fg"), what="owner gone after it")


def test_orphan_keeps_dependents_without_the_reference(kubectl: Kubectl, api: Api, ns: str) -> None:
    owner = _secret_owner(api, ns, "or")
    _cm(api, ns, "or-child", [_ref(owner, "Secret", "v1")])
    kubectl("delete", "secret", "or", "-n", ns, "--cascade=orphan")
    wait_for(lambda: _gone(api, f"/api/v1/namespaces/{ns}/secrets/or"), what="owner gone")
    child = api.get(f"/api/v1/namespaces/{ns}/configmaps/or-child")
    assert child.status == 200
    assert "ownerReferences" not in child.json["metadata"]


def test_deletecollection_honours_the_policy(api: Api, ns: str) -> None:
    owners = [_secret_owner(api, ns, f"dc-{i}") for i in range(3)]
    for i, owner in enumerate(owners):
        _cm(api, ns, f"dc-child-{i}", [_ref(owner, "Secret", "v1")])
    reply = api.delete(f"/api/v1/namespaces/{ns}/secrets?propagationPolicy=Orphan")
    assert reply.status == 200, reply.body
    for i in range(3):
        wait_for(
            lambda i=i: _gone(api, f"/api/v1/namespaces/{ns}/secrets/dc-{i}"), what="owners gone"
        )
        child = api.get(f"/api/v1/namespaces/{ns}/configmaps/dc-child-{i}")
        assert child.status == 200 and "ownerReferences" not in child.json["metadata"]


def test_custom_resource_owner_and_deployment_dependent(api: Api, ns: str) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.org"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"apps.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "apps", "singular": "app", "kind": "App"},
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
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/apps"
    wait_for(lambda: api.get(base).status == 200, what="CRD served")
    owner = api.post(
        base, {"apiVersion": f"{group}/v1", "kind": "App", "metadata": {"name": "a"}}
    ).json
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "owned", "ownerReferences": [_ref(owner, "App", f"{group}/v1")]},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    assert api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", dep).status == 201
    assert api.delete(f"{base}/a").status == 200
    wait_for(
        lambda: _gone(api, f"/apis/apps/v1/namespaces/{ns}/deployments/owned"),
        what="deployment collected",
    )


def test_orphan_and_policy_together_is_invalid(api: Api, ns: str) -> None:
    _secret_owner(api, ns, "both")
    reply = api.delete(
        f"/api/v1/namespaces/{ns}/secrets/both",
        {"orphanDependents": True, "propagationPolicy": "Foreground"},
    )
    assert reply.status == 422
    assert reply.json["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Foreground":'
        " orphanDependents and deletionPropagation cannot be both set"
    )
    assert api.get(f"/api/v1/namespaces/{ns}/secrets/both").status == 200
