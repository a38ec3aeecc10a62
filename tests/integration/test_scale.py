"""The scale subresource: `kubectl scale` on built-in workloads and a custom resource, a real
autoscaling/v1 Scale on GET, writes that change only the replicas, kube's errors."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable

from .conftest import Api, wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _deployment(name: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def test_kubectl_scale_deployment(kubectl: Kubectl, api: Api, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    assert api.post(base, _deployment("web")).status == 201
    kubectl("scale", "deployment", "web", "--replicas=3", "-n", ns)
    scale = api.get(f"{base}/web/scale")
    assert scale.status == 200
    body = scale.json
    assert body["kind"] == "Scale" and body["apiVersion"] == "autoscaling/v1"
    assert body["spec"] == {"replicas": 3}
    assert body["status"] == {"replicas": 0, "selector": "app=web"}
    dep = api.get(f"{base}/web").json
    assert dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"  # untouched
    entry = next(e for e in dep["metadata"]["managedFields"] if e.get("subresource") == "scale")
    assert entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_scale_put_patch_and_errors(api: Api, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/replicasets"
    rs = _deployment("rs")
    rs["kind"] = "ReplicaSet"
    assert api.post(base, rs).status == 201
    scale = api.get(f"{base}/rs/scale").json
    scale["spec"]["replicas"] = 5
    put = api.put(f"{base}/rs/scale", scale)
    assert put.status == 200, put.body
    assert put.json["spec"] == {"replicas": 5}
    # a PATCH of the Scale: only the replicas reach the ReplicaSet
    patched = api.patch(
        f"{base}/rs/scale",
        {"spec": {"replicas": 2}, "metadata": {"labels": {"ignored": "yes"}}},
        "application/merge-patch+json",
    )
    assert patched.status == 200, patched.body
    stored = api.get(f"{base}/rs").json
    assert stored["spec"]["replicas"] == 2 and "labels" not in stored["metadata"]
    # the scale PUT with a stale resourceVersion conflicts
    stale = api.put(f"{base}/rs/scale", scale)
    assert stale.status == 409 and stale.json["reason"] == "Conflict"
    negative = api.patch(
        f"{base}/rs/scale", {"spec": {"replicas": -1}}, "application/merge-patch+json"
    )
    assert negative.status == 422
    assert negative.json["message"] == (
        'Scale.autoscaling "rs" is invalid: spec.replicas: Invalid value: -1: must be greater'
        " than or equal to 0"
    )
    assert api.get(f"{base}/rs").json["spec"]["replicas"] == 2  # nothing written
    assert api.delete(f"{base}/rs/scale").status == 405
    assert api.get(f"{base}/missing/scale").status == 404
    # kinds without a scale subresource have no such path
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/x/scale").status == 404


def test_scale_apply_owns_replicas(api: Api, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    assert api.post(base, _deployment("a")).status == 201
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "a"},
        "spec": {"replicas": 4},
    }
    path = f"{base}/a/scale?fieldManager=hpa"
    reply = api.patch(path, json.dumps(body).encode(), "application/apply-patch+yaml")
    assert reply.status == 409  # the creator owns spec.replicas
    assert reply.json["details"]["causes"][0]["field"] == ".spec.replicas"
    reply = api.patch(
        f"{path}&force=true", json.dumps(body).encode(), "application/apply-patch+yaml"
    )
    assert reply.status == 200, reply.body
    dep = api.get(f"{base}/a").json
    entry = next(e for e in dep["metadata"]["managedFields"] if e["manager"] == "hpa")
    assert entry["operation"] == "Apply" and entry["subresource"] == "scale"
    assert dep["spec"]["replicas"] == 4


def test_kubectl_scale_custom_resource(kubectl: Kubectl, api: Api, ns: str) -> None:
    group = f"s{uuid.uuid4().hex[:6]}.example.org"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"pools.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "pools",
                "singular": "pool",
                "kind": "Pool",
                "listKind": "PoolList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "image": {"type": "string"},
                                    },
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {
                                        "ready": {"type": "integer"},
                                        "sel": {"type": "string"},
                                    },
                                },
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.size",
                            "statusReplicasPath": ".status.ready",
                            "labelSelectorPath": ".status.sel",
                        },
                    },
                }
            ],
        },
    }
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    base = f"/apis/{group}/v1/namespaces/{ns}/pools"
    wait_for(lambda: api.get(base).status == 200, what="the CRD served")
    pool = {
        "apiVersion": f"{group}/v1",
        "kind": "Pool",
        "metadata": {"name": "p"},
        "spec": {"size": 1, "image": "x"},
    }
    assert api.post(base, pool).status == 201
    status = api.get(f"{base}/p").json
    status["status"] = {"ready": 1, "sel": "app=p"}
    assert api.put(f"{base}/p/status", status).status == 200
    kubectl("scale", f"pools.{group}", "p", "--replicas=7", "-n", ns)
    scale = api.get(f"{base}/p/scale").json
    assert scale["spec"] == {"replicas": 7}
    assert scale["status"] == {"replicas": 1, "selector": "app=p"}
    assert api.get(f"{base}/p").json["spec"] == {"size": 7, "image": "x"}
