"""Admission webhooks for real: a webhook server on loopback with its own CA in `caBundle`,
configurations written through the API, strom calling them on writes as kube-apiserver does.

Each test scopes its configuration to its own namespace (namespaceSelector on
kubernetes.io/metadata.name), so configurations of other tests never see its requests."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Api, wait_for
from .test_audit import ADMIN_TOKEN, Factory, audited_server, complete
from .webhook_server import WebhookServer

ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer(dns_names=["hooks.webhook-system.svc"])
    yield server
    server.close()


def _hook(
    webhook: WebhookServer,
    path: str,
    ns: str,
    *,
    url: str | None = None,
    failure: str = "Fail",
    timeout: int = 5,
    operations: tuple[str, ...] = ("CREATE", "UPDATE"),
) -> dict[str, Any]:
    return {
        "name": f"{path.strip('/')}.hooks.example.org",
        "clientConfig": {"url": url or webhook.url(path), "caBundle": webhook.ca_bundle},
        "rules": [
            {
                "operations": list(operations),
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
        "failurePolicy": failure,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": timeout,
    }


def _configure(api: Api, kind: str, hooks: list[dict[str, Any]]) -> str:
    plural = f"{kind.lower()}s"
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    body = {"metadata": {"name": name}, "webhooks": hooks}
    reply = api.post(f"{ADMISSION}/{plural}", body)
    assert reply.status == 201, reply.body
    return f"{ADMISSION}/{plural}/{name}"


def _cm(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data or {"k": "v"}}


def test_validating_webhook_denies_with_its_message(
    api: Api, ns: str, webhook: WebhookServer
) -> None:
    config = _configure(api, "ValidatingWebhookConfiguration", [_hook(webhook, "/deny", ns)])
    base = f"/api/v1/namespaces/{ns}/configmaps"
    reply = api.post(base, _cm("denied"))
    assert reply.status == 403, reply.body
    assert reply.json["reason"] == "Forbidden"
    assert reply.json["message"] == (
        'configmaps "denied" is forbidden: admission webhook "deny.hooks.example.org" denied'
        " the request: widgets need an owner label"
    )
    assert reply.json["details"] == {"name": "denied", "kind": "configmaps"}
    assert api.get(f"{base}/denied").status == 404  # nothing written
    review = webhook.received("/deny")[-1]
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    request = review["request"]
    assert request["operation"] == "CREATE" and request["namespace"] == ns
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["object"]["kind"] == "ConfigMap" and request["object"]["data"] == {"k": "v"}
    assert request["oldObject"] is None and request["dryRun"] is False
    assert request["userInfo"]["username"] == "admin"
    assert request["options"]["kind"] == "CreateOptions"
    # a configuration removed is out of force for the next request
    assert api.delete(config).status == 200
    wait_for(lambda: api.post(base, _cm("later")).status == 201, what="the webhook gone")


def test_mutating_webhook_patch_is_applied(api: Api, ns: str, webhook: WebhookServer) -> None:
    config = _configure(api, "MutatingWebhookConfiguration", [_hook(webhook, "/mutate", ns)])
    base = f"/api/v1/namespaces/{ns}/configmaps"
    reply = api.post(base, _cm("patched"))
    assert reply.status == 201, reply.body
    assert reply.json["metadata"]["labels"] == {"mutated": "yes"}
    assert '299 - "labelled by the test webhook"' in reply.headers.get("warning", "")
    assert api.get(f"{base}/patched").json["metadata"]["labels"] == {"mutated": "yes"}
    # on update too, with the old object sent along
    update = api.patch(f"{base}/patched", {"data": {"k": "w"}}, "application/merge-patch+json")
    assert update.status == 200, update.body
    request = webhook.received("/mutate")[-1]["request"]
    assert request["operation"] == "UPDATE"
    assert request["oldObject"]["data"] == {"k": "v"} and request["object"]["data"] == {"k": "w"}
    api.delete(config)


def test_failure_policy_when_the_webhook_is_down(api: Api, ns: str, webhook: WebhookServer) -> None:
    down = "https://127.0.0.1:1/down"
    ignore = _hook(webhook, "/down", ns, url=down, failure="Ignore")
    ignore["name"] = "ignore.hooks.example.org"
    config = _configure(api, "ValidatingWebhookConfiguration", [ignore])
    base = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.post(base, _cm("through")).status == 201
    api.delete(config)
    config = _configure(
        api, "ValidatingWebhookConfiguration", [_hook(webhook, "/down", ns, url=down)]
    )
    reply = api.post(base, _cm("refused"))
    assert reply.status == 500, reply.body
    assert reply.json["reason"] == "InternalError"
    assert reply.json["message"] == (
        'Internal error occurred: failed calling webhook "down.hooks.example.org": failed to'
        ' call webhook: Post "https://127.0.0.1:1/down?timeout=5s": dial tcp 127.0.0.1:1:'
        " connect: connection refused"
    )
    assert api.get(f"{base}/refused").status == 404
    api.delete(config)


def test_webhook_timeout_is_kubes_error(api: Api, ns: str, webhook: WebhookServer) -> None:
    config = _configure(
        api, "ValidatingWebhookConfiguration", [_hook(webhook, "/slow", ns, timeout=3)]
    )
    base = f"/api/v1/namespaces/{ns}/configmaps"
    seen = len(webhook.received("/slow"))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(api.post, base, _cm("slow"), timeout=10)
        wait_for(lambda: len(webhook.received("/slow")) > seen, what="strom calling the webhook")
        # while the webhook thinks, strom goes on serving other requests
        assert api.get(f"/api/v1/namespaces/{ns}").status == 200
        assert not pending.done()
        reply = pending.result(timeout=15)
    assert reply.status == 500, reply.body
    assert reply.json["message"] == (
        'Internal error occurred: failed calling webhook "slow.hooks.example.org": failed to'
        f' call webhook: Post "{webhook.url("/slow")}?timeout=3s": context deadline exceeded'
    )
    assert api.get(f"{base}/slow").status == 404
    api.delete(config)


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/garbage", "failed to call webhook: invalid JSON in response"),
        ("/wrong-uid", 'received invalid webhook response: expected response.uid="'),
        ("/huge", "response body larger than 6291456 bytes"),
    ],
)
def test_bad_answers_refuse_and_write_nothing(
    api: Api, ns: str, webhook: WebhookServer, path: str, detail: str
) -> None:
    config = _configure(api, "ValidatingWebhookConfiguration", [_hook(webhook, path, ns)])
    base = f"/api/v1/namespaces/{ns}/configmaps"
    reply = api.post(base, _cm("bad"))
    assert reply.status == 500, reply.body
    name = f"{path.strip('/')}.hooks.example.org"
    assert reply.json["message"].startswith(
        f'Internal error occurred: failed calling webhook "{name}": '
    )
    assert detail in reply.json["message"]
    assert api.get(f"{base}/bad").status == 404
    api.delete(config)


def test_invalid_patch_is_an_internal_error(api: Api, ns: str, webhook: WebhookServer) -> None:
    config = _configure(api, "MutatingWebhookConfiguration", [_hook(webhook, "/bad-patch", ns)])
    base = f"/api/v1/namespaces/{ns}/configmaps"
    reply = api.post(base, _cm("bad"))
    assert reply.status == 500, reply.body
    assert reply.json["reason"] == "InternalError"
    assert api.get(f"{base}/bad").status == 404
    api.delete(config)


def test_service_reference_reaches_the_endpoints(api: Api, webhook: WebhookServer) -> None:
    """clientConfig.service resolves through hand-made Endpoints to the loopback server,
    verifying the certificate for hooks.webhook-system.svc."""
    system, target = "webhook-system", f"t-{uuid.uuid4().hex[:8]}"
    for name in (system, target):
        reply = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
        assert reply.status in (201, 409), reply.body
    service = {
        "metadata": {"name": "hooks"},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": webhook.port}]},
    }
    assert api.post(f"/api/v1/namespaces/{system}/services", service).status in (201, 409)
    endpoints = {
        "metadata": {"name": "hooks"},
        "subsets": [
            {
                "addresses": [{"ip": "127.0.0.1"}],
                "ports": [{"name": "https", "port": webhook.port}],
            }
        ],
    }
    assert api.post(f"/api/v1/namespaces/{system}/endpoints", endpoints).status in (201, 409)
    hook = _hook(webhook, "/deny", target)
    hook["name"] = "svc-deny.hooks.example.org"
    hook["clientConfig"] = {
        "service": {"namespace": system, "name": "hooks", "path": "/deny"},
        "caBundle": webhook.ca_bundle,
    }
    config = _configure(api, "ValidatingWebhookConfiguration", [hook])
    stored = api.get(config).json["webhooks"][0]
    assert stored["clientConfig"]["service"]["port"] == 443  # defaulted
    assert stored["timeoutSeconds"] == 5 and stored["matchPolicy"] == "Equivalent"
    reply = api.post(f"/api/v1/namespaces/{target}/configmaps", _cm("x"))
    assert reply.status == 403, reply.body
    assert "svc-deny.hooks.example.org" in reply.json["message"]
    api.delete(config)


def test_configuration_validation(api: Api) -> None:
    bad = {
        "metadata": {"name": f"bad-{uuid.uuid4().hex[:6]}"},
        "webhooks": [
            {
                "name": "short",
                "clientConfig": {"url": "http://127.0.0.1:1/x"},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "resources": ["deployments/scale"],
                    }
                ],
                "sideEffects": "Some",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 31,
            }
        ],
    }
    reply = api.post(f"{ADMISSION}/validatingwebhookconfigurations", bad)
    assert reply.status == 422, reply.body
    fields = [c["field"] for c in reply.json["details"]["causes"]]
    assert fields == [
        "webhooks[0].name",
        "webhooks[0].rules[0].resources[0]",
        "webhooks[0].sideEffects",
        "webhooks[0].timeoutSeconds",
        "webhooks[0].clientConfig.url",
    ]


def test_webhook_audit_annotations_reach_the_audit_log(
    strom_server_factory: Factory, tmp_path: Path, webhook: WebhookServer
) -> None:
    server, log = audited_server(strom_server_factory, tmp_path, "- level: Metadata\n")
    api = Api(server, token=ADMIN_TOKEN)
    ns = f"t-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status == 201
    _configure(api, "MutatingWebhookConfiguration", [_hook(webhook, "/mutate", ns)])
    reply = api.post(f"/api/v1/namespaces/{ns}/configmaps", _cm("audited"))
    assert reply.status == 201, reply.body
    event = complete(log, reply.headers["audit-id"])
    assert event["annotations"]["mutate.hooks.example.org/labelled"] == "mutated=yes"


def test_bad_ca_bundle_is_a_decode_error(api: Api) -> None:
    body = {
        "metadata": {"name": f"ca-{uuid.uuid4().hex[:6]}"},
        "webhooks": [
            {
                "name": "ca.hooks.example.org",
                "clientConfig": {"url": "https://127.0.0.1:1/x", "caBundle": "not base64!"},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    reply = api.post(f"{ADMISSION}/validatingwebhookconfigurations", body)
    assert reply.status == 400, reply.body
    assert reply.json["message"] == (
        'ValidatingWebhookConfiguration in version "v1" cannot be handled as a'
        " ValidatingWebhookConfiguration: illegal base64 data at input byte 3"
    )
