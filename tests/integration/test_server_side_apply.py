"""Server-side apply through real clients: kubectl, the official Python client and lightkube
(kr8s 0.20 has no server-side apply to try); managedFields on every write; apply's bad input
answered as kube-apiserver answers it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from strom.testing.server import StromServer

from .conftest import Api, wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
APPLY = "application/apply-patch+yaml"


def deployment(ns: str, image: str, *, replicas: int | None = 2) -> str:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": spec,
        }
    )


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields") or ()}


def test_kubectl_apply_conflict_force_and_prune(kubectl: Kubectl, ns: str) -> None:
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app, namespace: {ns}}}\n"
    cm = head + "data: {a: '1', b: '2'}\n"
    out = kubectl("apply", "--server-side", "-f", "-", input=cm)
    assert "serverside-applied" in out.stdout
    kubectl("apply", "--server-side", "-f", "-", input=deployment(ns, "nginx:1.25"))

    # a second manager changing an owned field: a conflict naming the field and the owner
    failed = kubectl(
        "apply",
        "--server-side",
        "--field-manager=ci",
        "-f",
        "-",
        input=deployment(ns, "nginx:1.26"),
        check=False,
    )
    assert failed.returncode != 0
    assert (
        'conflict with "kubectl": .spec.template.spec.containers[name="web"].image' in failed.stderr
    )
    dep = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert (
        dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    )  # nothing written

    kubectl(
        "apply",
        "--server-side",
        "--field-manager=ci",
        "--force-conflicts",
        "-f",
        "-",
        input=deployment(ns, "nginx:1.26"),
    )
    shown = yaml.safe_load(
        kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml", "--show-managed-fields").stdout
    )
    owners = managers(shown)
    assert set(owners) == {"kubectl", "ci"}
    ci_container = owners["ci"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"web"}'
    ]
    assert "f:image" in ci_container
    kubectl_container = owners["kubectl"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"][
        "f:containers"
    ]['k:{"name":"web"}']
    assert "f:image" not in kubectl_container  # taken over
    assert shown["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    hidden = yaml.safe_load(kubectl("get", "deploy", "web", "-n", ns, "-o", "yaml").stdout)
    assert "managedFields" not in hidden["metadata"]  # kubectl strips them by default

    # removing a field from the applied manifest removes it from the object
    cm_without_b = head + "data: {a: '1'}\n"
    kubectl("apply", "--server-side", "-f", "-", input=cm_without_b)
    data = json.loads(kubectl("get", "cm", "app", "-n", ns, "-o", "json").stdout)["data"]
    assert data == {"a": "1"}


def test_every_write_records_its_manager(kubectl: Kubectl, api: Api, ns: str) -> None:
    kubectl("create", "configmap", "c", "-n", ns, "--from-literal=k=v")
    obj = api.get(f"/api/v1/namespaces/{ns}/configmaps/c").json
    entry = managers(obj)["kubectl-create"]
    assert entry["operation"] == "Update" and entry["apiVersion"] == "v1"
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}
    reply = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/c?fieldManager=my-controller",
        {"data": {"k2": "v2"}},
        "application/merge-patch+json",
    )
    assert reply.status == 200, reply.body
    entry = managers(reply.json)["my-controller"]
    assert entry["fieldsV1"] == {"f:data": {"f:k2": {}}}
    # a write that changes nothing leaves the object (and its resourceVersion) as it was
    again = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/c?fieldManager=other",
        {"data": {"k2": "v2"}},
        "application/merge-patch+json",
    )
    assert again.json["metadata"]["resourceVersion"] == reply.json["metadata"]["resourceVersion"]
    assert "other" not in managers(again.json)


def test_apply_creates_with_201_and_records_apply(api: Api, ns: str) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    )
    path = f"/api/v1/namespaces/{ns}/configmaps/ssa?fieldManager=wire"
    reply = api.patch(path, body.encode(), APPLY)
    assert reply.status == 201, reply.body
    assert reply.json["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}}}
    again = api.patch(path, body.encode(), APPLY)
    assert again.status == 200
    assert again.json["metadata"]["resourceVersion"] == reply.json["metadata"]["resourceVersion"]
    # YAML bodies as Go reads them: a date stays a string
    dated = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\n"
    dated += b"data: {a: '1', when: 2020-01-01}\n"
    reply = api.patch(path, dated, APPLY)
    assert reply.status == 200, reply.body
    assert reply.json["data"] == {"a": "1", "when": "2020-01-01"}


def test_apply_conflict_status_body(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/c"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert api.patch(f"{path}?fieldManager=one", json.dumps(cm).encode(), APPLY).status == 201
    cm["data"] = {"a": "2"}
    reply = api.patch(f"{path}?fieldManager=two", json.dumps(cm).encode(), APPLY)
    assert reply.status == 409
    assert reply.json == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "one": .data.a',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "one"',
                    "field": ".data.a",
                }
            ]
        },
        "code": 409,
    }
    forced = api.patch(f"{path}?fieldManager=two&force=true", json.dumps(cm).encode(), APPLY)
    assert forced.status == 200 and forced.json["data"] == {"a": "2"}
    dry = api.patch(
        f"{path}?fieldManager=three&force=true&dryRun=All",
        json.dumps({**cm, "data": {"a": "3"}}).encode(),
        APPLY,
    )
    assert dry.status == 200 and dry.json["data"] == {"a": "3"}
    assert api.get(path).json["data"] == {"a": "2"}


def test_apply_bad_input(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/bad"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"a": "1"}}
    no_manager = api.patch(path, json.dumps(cm).encode(), APPLY)
    assert no_manager.status == 422
    assert no_manager.json["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for'
        " apply patch"
    )
    malformed = api.patch(f"{path}?fieldManager=m", b"{a: [1, 2", APPLY)
    assert malformed.status == 400 and malformed.json["message"].startswith("error decoding YAML: ")
    other_kind = api.patch(
        f"{path}?fieldManager=m", json.dumps({**cm, "kind": "Secret"}).encode(), APPLY
    )
    assert other_kind.status == 400
    assert other_kind.json["message"] == "invalid object type: /v1, Kind=Secret"
    other_version = api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/x?fieldManager=m",
        json.dumps(
            {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "x"}}
        ).encode(),
        APPLY,
    )
    assert other_version.status == 400
    assert other_version.json["message"] == "invalid object type: apps/v1beta1, Kind=Deployment"
    managed = api.patch(
        f"{path}?fieldManager=m",
        json.dumps(
            {**cm, "metadata": {"name": "bad", "managedFields": [{"manager": "x"}]}}
        ).encode(),
        APPLY,
    )
    assert managed.status == 400 and managed.json["message"] == "metadata.managedFields must be nil"
    forced_merge = api.patch(f"{path}?force=true", {"data": {}}, "application/merge-patch+json")
    assert forced_merge.status == 422
    assert (
        "force: Forbidden: may not be specified for non-apply patch" in forced_merge.json["message"]
    )
    assert api.get(path).status == 404  # nothing was written


def test_official_client_server_side_apply(server: StromServer, ns: str) -> None:
    import kubernetes

    client = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    dyn = kubernetes.dynamic.DynamicClient(client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "py", "namespace": ns},
        "data": {"x": "1"},
    }
    result = cms.server_side_apply(body=body, namespace=ns, field_manager="python").to_dict()
    assert result["data"] == {"x": "1"}
    assert managers(result)["python"]["operation"] == "Apply"


def test_lightkube_apply(server: StromServer, ns: str) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    client = Client(
        config=KubeConfig.from_file(str(server.kubeconfig)), field_manager="lightkube-test"
    )
    cm = ConfigMap(metadata=ObjectMeta(name="lk", namespace=ns), data={"k": "1"})
    applied = client.apply(cm)
    assert applied.data == {"k": "1"}
    assert applied.metadata is not None and applied.metadata.managedFields is not None
    assert applied.metadata.managedFields[0].manager == "lightkube-test"
    cm.data = {"k": "2"}
    assert client.apply(cm).data == {"k": "2"}


def test_client_side_apply_hands_over_to_server_side(kubectl: Kubectl, api: Api, ns: str) -> None:
    """kubectl apply, then kubectl apply --server-side: no conflict on what the client-side
    apply set, and its last-applied annotation follows, as kube's lastAppliedManager does."""
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: csa, namespace: {ns}}}\n"
    kubectl("apply", "-f", "-", input=head + "data: {a: '1', b: '2'}\n")
    first = api.get(f"/api/v1/namespaces/{ns}/configmaps/csa").json
    assert "kubectl-client-side-apply" in managers(first)
    kubectl("apply", "--server-side", "-f", "-", input=head + "data: {a: '10', b: '2'}\n")
    obj = api.get(f"/api/v1/namespaces/{ns}/configmaps/csa").json
    assert obj["data"] == {"a": "10", "b": "2"}
    last = json.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last["data"] == {"a": "10", "b": "2"}
    # another manager has no such hand-over: it conflicts on what kubectl owns
    other = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/csa?fieldManager=someone",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "csa"},
                "data": {"b": "3"},
            }
        ).encode(),
        APPLY,
    )
    assert other.status == 409


def test_apply_custom_resource_lists_and_status(api: Api) -> None:
    """A CRD's x-kubernetes-list-type map merges by key across managers; status applies
    through /status with its own ownership."""
    group = f"ssa{uuid.uuid4().hex[:6]}.example.org"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "routes": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["host"],
                        "items": {
                            "type": "object",
                            "required": ["host"],
                            "properties": {"host": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gateways.{group}"},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    base = f"/apis/{group}/v1/gateways"
    wait_for(lambda: api.get(base).status == 200, what="the CRD served")

    def gateway(**spec: Any) -> bytes:
        body = {
            "apiVersion": f"{group}/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "spec": spec,
        }
        return json.dumps(body).encode()

    one = api.patch(
        f"{base}/gw?fieldManager=team-a",
        gateway(routes=[{"host": "a", "port": 1}], tags=["x"]),
        APPLY,
    )
    assert one.status == 201, one.body
    two = api.patch(
        f"{base}/gw?fieldManager=team-b", gateway(routes=[{"host": "b", "port": 2}]), APPLY
    )
    assert two.status == 200, two.body
    assert [r["host"] for r in two.json["spec"]["routes"]] == ["a", "b"]
    assert two.json["spec"]["tags"] == ["x"]
    # tags is an atomic list (the CRD default): another manager changing it conflicts
    clash = api.patch(f"{base}/gw?fieldManager=team-b", gateway(tags=["y"]), APPLY)
    assert clash.status == 409 and clash.json["details"]["causes"][0]["field"] == ".spec.tags"
    status = json.dumps(
        {
            "apiVersion": f"{group}/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "status": {"ready": True},
        }
    )
    applied = api.patch(f"{base}/gw/status?fieldManager=controller", status.encode(), APPLY)
    assert applied.status == 200, applied.body
    assert applied.json["status"] == {"ready": True}
    entry = managers(applied.json)["controller"]
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:ready": {}}}
    # status on the main resource is not applied (and not owned)
    ignored = api.patch(
        f"{base}/gw?fieldManager=team-a",
        json.dumps(
            {
                **json.loads(gateway(routes=[{"host": "a", "port": 1}], tags=["x"])),
                "status": {"ready": False},
            }
        ).encode(),
        APPLY,
    )
    assert ignored.status == 200 and ignored.json["status"] == {"ready": True}
    assert "f:status" not in managers(ignored.json)["team-a"]["fieldsV1"]
