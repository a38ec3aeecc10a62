"""A kopf operator (PyPI `kopf`) reacts to create, update and delete of a custom resource,
run as the admin and as a ServiceAccount holding only kopf's documented RBAC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .operators.run import kopf_operator

OPERATOR = Path(__file__).parent / "operators" / "echo_operator.py"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "echowidgets.strom.example.com"},
    "spec": {
        "group": "strom.example.com",
        "scope": "Namespaced",
        "names": {"plural": "echowidgets", "singular": "echowidget", "kind": "EchoWidget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"message": {"type": "string"}},
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


RBAC = "/apis/rbac.authorization.k8s.io/v1"
# kopf's documented operator RBAC (docs/deployment-rbac.yaml), for this operator's resources.
CLUSTER_RULES = [
    {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings"],
        "verbs": ["list", "watch", "patch", "get"],
    },
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": ["list", "watch"],
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["admissionregistration.k8s.io"],
        "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
        "verbs": ["create", "patch"],
    },
    {"apiGroups": ["strom.example.com"], "resources": ["echowidgets"], "verbs": ["list", "watch"]},
]
NAMESPACE_RULES = [
    {
        "apiGroups": ["kopf.dev"],
        "resources": ["kopfpeerings"],
        "verbs": ["list", "watch", "patch", "get"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {
        "apiGroups": ["strom.example.com"],
        "resources": ["echowidgets", "echowidgets/status"],
        "verbs": ["list", "watch", "patch"],
    },
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch", "delete"]},
]


def _operator_kubeconfig(server: StromServer, api: Api, ns: str) -> Path:
    """A ServiceAccount with exactly the RBAC the operator ships, as its kubeconfig."""
    sa = "echo-operator"
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    ref = {"apiGroup": "rbac.authorization.k8s.io"}
    writes = [
        (f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": sa}}),
        (f"{RBAC}/clusterroles", {"metadata": {"name": f"{ns}-echo"}, "rules": CLUSTER_RULES}),
        (
            f"{RBAC}/clusterrolebindings",
            {
                "metadata": {"name": f"{ns}-echo"},
                "subjects": subject,
                "roleRef": {**ref, "kind": "ClusterRole", "name": f"{ns}-echo"},
            },
        ),
        (f"{RBAC}/namespaces/{ns}/roles", {"metadata": {"name": "echo"}, "rules": NAMESPACE_RULES}),
        (
            f"{RBAC}/namespaces/{ns}/rolebindings",
            {
                "metadata": {"name": "echo"},
                "subjects": subject,
                "roleRef": {**ref, "kind": "Role", "name": "echo"},
            },
        ),
    ]
    for path, body in writes:
        reply = api.post(path, body)
        assert reply.status == 201, reply.body
    return server.service_account_kubeconfig(ns, sa)


@pytest.fixture(params=["admin", "serviceaccount"])
def operator(
    request: pytest.FixtureRequest, server: StromServer, api: Api, ns: str, tmp_path: Path
) -> Iterator[str]:
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert reply.status in (201, 409), reply.body
    kubeconfig = server.kubeconfig
    if request.param == "serviceaccount":
        kubeconfig = _operator_kubeconfig(server, api, ns)
    with kopf_operator(OPERATOR, ns, {"KUBECONFIG": str(kubeconfig)}, tmp_path):
        yield ns


def test_operator_reacts_to_create_update_delete(api: Api, operator: str) -> None:
    ns = operator
    base = f"/apis/strom.example.com/v1/namespaces/{ns}/echowidgets"
    cm = f"/api/v1/namespaces/{ns}/configmaps/echo-w1"
    widget = {
        "apiVersion": "strom.example.com/v1",
        "kind": "EchoWidget",
        "metadata": {"name": "w1"},
        "spec": {"message": "hello"},
    }
    assert api.post(base, widget).status == 201
    wait_for(
        lambda: api.get(cm).status == 200 and api.get(cm).json["data"]["message"] == "hello",
        what="the operator to create the ConfigMap",
        timeout=30,
    )
    # kopf counts the creation as handled only once it has recorded so on the object; a
    # change made before that would be taken as part of the creation, not as an update
    wait_for(
        lambda: (
            "kopf.zalando.org/last-handled-configuration"
            in (api.get(f"{base}/w1").json["metadata"].get("annotations") or {})
        ),
        what="kopf to record the creation as handled",
        timeout=30,
    )
    api.patch(f"{base}/w1", {"spec": {"message": "again"}}, "application/merge-patch+json")
    wait_for(
        lambda: api.get(cm).json.get("data", {}).get("message") == "again",
        what="the operator to update the ConfigMap",
        timeout=30,
    )
    wait_for(
        lambda: (
            (api.get(f"{base}/w1").json.get("status") or {}).get("updated", {}).get("echoed")
            == "again"
        ),
        what="kopf to record the handler result in status",
        timeout=30,
    )
    assert api.delete(f"{base}/w1").status == 200
    wait_for(
        lambda: api.get(cm).status == 404, what="the operator to delete the ConfigMap", timeout=30
    )
    wait_for(
        lambda: api.get(f"{base}/w1").status == 404,
        what="kopf to release its finalizer",
        timeout=30,
    )
