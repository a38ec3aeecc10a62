"""kopf's admission webhooks called by strom: kopf's WebhookServer serves its validating and
mutating handlers, kopf writes the webhook configurations itself, and what the handlers decide
takes effect on the objects."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.testing.certs import self_signed
from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .operators.run import kopf_operator

OPERATOR = Path(__file__).parent / "operators" / "admission_operator.py"
GROUP = "strom.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gatedwidgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gatedwidgets", "singular": "gatedwidget", "kind": "GatedWidget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                        },
                    }
                },
            }
        ],
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def operator(server: StromServer, api: Api, ns: str, tmp_path: Path) -> Iterator[str]:
    reply = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert reply.status in (201, 409), reply.body
    wait_for(
        lambda: api.get(f"/apis/{GROUP}/v1/namespaces/{ns}/gatedwidgets").status == 200,
        what="the CRD served",
    )
    cert, key = self_signed(tmp_path, "kopf-webhook")
    managed = f"gates-{uuid.uuid4().hex[:6]}.strom.example.com"
    env = {
        "KUBECONFIG": str(server.kubeconfig),
        "WEBHOOK_PORT": str(_free_port()),
        "WEBHOOK_CERT": str(cert),
        "WEBHOOK_KEY": str(key),
        "WEBHOOK_CA": str(cert),  # self-signed: its own CA
        "WEBHOOK_MANAGED": managed,
    }
    try:
        with kopf_operator(OPERATOR, ns, env, tmp_path):
            yield managed
    finally:
        for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            api.delete(f"/apis/admissionregistration.k8s.io/v1/{kind}/{managed}")


def _widget(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatedWidget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


def test_kopf_webhooks_take_effect(api: Api, ns: str, operator: str) -> None:
    admission = "/apis/admissionregistration.k8s.io/v1"
    def configured(kind: str) -> bool:
        reply = api.get(f"{admission}/{kind}/{operator}")
        return reply.status == 200 and bool(reply.json.get("webhooks"))

    wait_for(
        lambda: configured("validatingwebhookconfigurations")
        and configured("mutatingwebhookconfigurations"),
        what="kopf to write its webhook configurations",
        timeout=30,
    )
    base = f"/apis/{GROUP}/v1/namespaces/{ns}/gatedwidgets"

    def created() -> Any:
        reply = api.post(base, _widget("small", 3))
        return reply if reply.status == 201 else None

    reply = wait_for(created, what="the webhooks to answer", timeout=30)
    assert reply.json["metadata"]["labels"] == {"gated-by": "kopf"}  # mutated by kopf
    big = api.post(base, _widget("big", 11))
    assert big.status == 422, big.body
    assert "size must be at most 10" in big.json["message"]
    assert api.get(f"{base}/big").status == 404
