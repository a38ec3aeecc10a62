"""A kopf operator (PyPI `kopf`) reacts to create, update and delete of a custom resource."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from strom.testing.server import StromServer

from .conftest import Api, wait_for

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


@pytest.fixture
def operator(server: StromServer, api: Api, ns: str, tmp_path: Path) -> Iterator[str]:
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert reply.status in (201, 409), reply.body
    log = (tmp_path / "kopf.log").open("w")
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns, str(OPERATOR)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        yield ns
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        if proc.returncode not in (0, -15):
            print((tmp_path / "kopf.log").read_text()[-3000:])


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
