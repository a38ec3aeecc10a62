"""The official `kubernetes` Python client against strom: CRUD, custom objects, pagination."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from strom.testing.server import StromServer

from .conftest import Api, wait_for


@pytest.fixture(scope="module")
def k8s(server: StromServer) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield api_client
    api_client.close()


def test_configmap_crud(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    created = v1.create_namespaced_config_map(
        ns, {"metadata": {"name": "cm1", "labels": {"a": "1"}}, "data": {"k": "v"}}
    )
    assert created.metadata.uid and created.metadata.resource_version
    got = v1.read_namespaced_config_map("cm1", ns)
    assert got.data == {"k": "v"}
    got.data["k"] = "w"
    replaced = v1.replace_namespaced_config_map("cm1", ns, got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = v1.patch_namespaced_config_map("cm1", ns, {"data": {"extra": "x"}})
    assert patched.data == {"k": "w", "extra": "x"}
    listed = v1.list_namespaced_config_map(ns, label_selector="a=1")
    assert [i.metadata.name for i in listed.items] == ["cm1"]
    v1.delete_namespaced_config_map("cm1", ns)
    with pytest.raises(ApiException) as err:
        v1.read_namespaced_config_map("cm1", ns)
    assert err.value.status == 404


def test_pod_and_deployment(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    apps = client.AppsV1Api(k8s)
    pod = v1.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p1"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
        },
    )
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.service_account_name == "default"
    # The ServiceAccount admission's token volume, as on a real cluster.
    (volume,) = pod.spec.volumes
    assert volume.name.startswith("kube-api-access-")
    sources = volume.projected.sources
    assert sources[0].service_account_token.path == "token"
    assert sources[1].config_map.name == "kube-root-ca.crt"
    assert sources[2].downward_api.items[0].field_ref.field_path == "metadata.namespace"
    (mount,) = pod.spec.containers[0].volume_mounts
    assert (mount.name, mount.mount_path, mount.read_only) == (
        volume.name,
        "/var/run/secrets/kubernetes.io/serviceaccount",
        True,
    )
    no_token = v1.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p2"},
            "spec": {
                "automountServiceAccountToken": False,
                "containers": [{"name": "c", "image": "busybox:1.36"}],
            },
        },
    )
    assert not no_token.spec.volumes and not no_token.spec.containers[0].volume_mounts
    v1.delete_namespaced_pod("p2", ns)
    dep = apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "d1"},
            "spec": {
                "selector": {"matchLabels": {"app": "d1"}},
                "template": {
                    "metadata": {"labels": {"app": "d1"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                },
            },
        },
    )
    assert dep.spec.replicas == 1 and dep.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("d1", ns, {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3 and scaled.metadata.generation == 2
    status = apps.patch_namespaced_deployment_status(
        "d1", ns, {"status": {"replicas": 3, "readyReplicas": 3}}
    )
    assert status.status.ready_replicas == 3 and status.metadata.generation == 2
    apps.delete_namespaced_deployment("d1", ns)
    v1.delete_namespaced_pod("p1", ns)
    assert v1.list_namespaced_pod(ns).items == []


def test_list_pagination(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        v1.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": {"p": "y"}}})
    seen: list[str] = []
    token = None
    revisions = set()
    while True:
        page = v1.list_namespaced_config_map(ns, label_selector="p=y", limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        revisions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
    assert seen == names
    assert len(revisions) == 1  # every page at the first page's revision


def test_custom_objects(k8s: client.ApiClient, ns: str, api: Api) -> None:
    ext = client.ApiextensionsV1Api(k8s)
    plural = f"gadgets{uuid.uuid4().hex[:6]}"
    ext.create_custom_resource_definition(
        {
            "metadata": {"name": f"{plural}.example.org"},
            "spec": {
                "group": "example.org",
                "scope": "Namespaced",
                "names": {"plural": plural, "singular": plural[:-1], "kind": "Gadget" + plural[7:]},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
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
    )
    custom = client.CustomObjectsApi(k8s)
    # Served the moment the create returns: no 404/429 window.
    obj = custom.create_namespaced_custom_object(
        "example.org",
        "v1",
        ns,
        plural,
        {
            "apiVersion": "example.org/v1",
            "kind": "Gadget" + plural[7:],
            "metadata": {"name": "g1"},
            "spec": {"x": 1},
        },
    )
    assert obj["metadata"]["generation"] == 1
    got = custom.get_namespaced_custom_object("example.org", "v1", ns, plural, "g1")
    assert got["spec"] == {"x": 1}
    patched = custom.patch_namespaced_custom_object(
        "example.org", "v1", ns, plural, "g1", {"spec": {"x": 2}}
    )
    assert patched["spec"] == {"x": 2} and patched["metadata"]["generation"] == 2
    status = custom.patch_namespaced_custom_object_status(
        "example.org", "v1", ns, plural, "g1", {"status": {"ok": True}}
    )
    assert status["status"] == {"ok": True} and status["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object("example.org", "v1", ns, plural)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["g1"]
    custom.delete_namespaced_custom_object("example.org", "v1", ns, plural, "g1")
    ext.delete_custom_resource_definition(f"{plural}.example.org")
    wait_for(
        lambda: (
            api.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.example.org"
            ).status
            == 404
        ),
        what="CRD removal",
    )
