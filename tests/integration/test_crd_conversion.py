"""A two-version CRD whose versions change through a conversion webhook (a real HTTPS server on
loopback with its own CA): stored in v1, served and written in both, kube's error when the
webhook fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .test_watch import RawWatch
from .webhook_server import WebhookServer

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


def _crd(group: str, url: str, ca_bundle: str) -> dict[str, Any]:
    def version(name: str, spec: dict[str, Any], storage: bool) -> dict[str, Any]:
        return {
            "name": name,
            "served": True,
            "storage": storage,
            "schema": {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "properties": spec}},
                }
            },
        }

    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"backends.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "backends", "singular": "backend", "kind": "Backend"},
            "versions": [
                version("v1", {"host": {"type": "string"}, "port": {"type": "integer"}}, True),
                version("v2", {"endpoint": {"type": "string"}}, False),
            ],
            "conversion": {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": {"url": url, "caBundle": ca_bundle},
                    "conversionReviewVersions": ["v1"],
                },
            },
        },
    }


def _served(api: Api, webhook: WebhookServer, ns: str, url: str | None = None) -> str:
    group = f"c{uuid.uuid4().hex[:6]}.example.org"
    crd = _crd(group, url or webhook.url("/convert"), webhook.ca_bundle)
    reply = api.post(CRDS, crd)
    assert reply.status == 201, reply.body
    wait_for(
        lambda: api.get(f"/apis/{group}/v2/namespaces/{ns}/backends").status == 200,
        what="both versions served",
    )
    return group


def test_both_versions_through_the_webhook(api: Api, webhook: WebhookServer, ns: str) -> None:
    group = _served(api, webhook, ns)
    v1 = f"/apis/{group}/v1/namespaces/{ns}/backends"
    v2 = f"/apis/{group}/v2/namespaces/{ns}/backends"
    body = {
        "apiVersion": f"{group}/v2",
        "kind": "Backend",
        "metadata": {"name": "b", "labels": {"tier": "web"}},
        "spec": {"endpoint": "db.local:5432"},
    }
    created = api.post(v2, body)
    assert created.status == 201, created.body
    assert created.json["apiVersion"] == f"{group}/v2"
    assert created.json["spec"] == {"endpoint": "db.local:5432"}
    # stored in v1, shown in each version as that version has it
    assert api.get(f"{v1}/b").json["spec"] == {"host": "db.local", "port": 5432}
    got = api.get(f"{v2}/b").json
    assert got["spec"] == {"endpoint": "db.local:5432"}
    assert got["metadata"]["labels"] == {"tier": "web"}
    listed = api.get(v2).json["items"]
    assert [(i["apiVersion"], i["spec"]) for i in listed] == [
        (f"{group}/v2", {"endpoint": "db.local:5432"})
    ]
    # writes through v2 land converted; v1 writes need no webhook
    patched = api.patch(
        f"{v2}/b", {"spec": {"endpoint": "db.local:6432"}}, "application/merge-patch+json"
    )
    assert patched.status == 200, patched.body
    assert patched.json["spec"] == {"endpoint": "db.local:6432"}
    assert api.get(f"{v1}/b").json["spec"] == {"host": "db.local", "port": 6432}
    reviews = [r for p, r in webhook.reviews if p == "/convert"]
    assert reviews and reviews[0]["kind"] == "ConversionReview"
    assert {r["request"]["desiredAPIVersion"] for r in reviews} == {f"{group}/v1", f"{group}/v2"}


def test_webhook_down_is_kubes_error(api: Api, webhook: WebhookServer, ns: str) -> None:
    group = _served(api, webhook, ns, url="https://127.0.0.1:1/convert")
    v1 = f"/apis/{group}/v1/namespaces/{ns}/backends"
    v2 = f"/apis/{group}/v2/namespaces/{ns}/backends"
    body = {"metadata": {"name": "b"}, "spec": {"host": "h", "port": 1}}
    assert api.post(v1, body).status == 201  # the storage version needs no conversion
    reply = api.get(f"{v2}/b")
    assert reply.status == 500
    assert reply.json["message"] == (
        f"Internal error occurred: conversion webhook for {group}/v1, Kind=Backend failed:"
        ' Post "https://127.0.0.1:1/convert?timeout=30s": dial tcp 127.0.0.1:1: connect:'
        " connection refused"
    )
    write = api.post(v2, {"metadata": {"name": "c"}, "spec": {"endpoint": "x:1"}})
    assert write.status == 500
    assert api.get(f"{v1}/c").status == 404  # nothing written


def test_conversion_configuration_is_checked(api: Api) -> None:
    group = f"k{uuid.uuid4().hex[:6]}.example.org"
    crd = _crd(group, "http://127.0.0.1:1/convert", "")
    crd["spec"]["conversion"]["webhook"]["conversionReviewVersions"] = ["v1beta1"]
    reply = api.post(CRDS, crd)
    assert reply.status == 422, reply.body
    assert [c["field"] for c in reply.json["details"]["causes"]] == [
        "spec.conversion.webhookClientConfig.url",
        "spec.conversion.conversionReviewVersions",
    ]


def test_watch_of_the_other_version_is_converted(
    api: Api, webhook: WebhookServer, ns: str, server: StromServer
) -> None:
    group = _served(api, webhook, ns)
    v1 = f"/apis/{group}/v1/namespaces/{ns}/backends"
    v2 = f"/apis/{group}/v2/namespaces/{ns}/backends"
    body = {"metadata": {"name": "a"}, "spec": {"host": "h", "port": 1}}
    assert api.post(v1, body).status == 201
    watch = RawWatch(server, f"{v2}?watch=true&timeoutSeconds=10")
    try:
        watch.wait_events(1)  # the initial ADDED, converted
        assert (
            api.post(v1, {"metadata": {"name": "b"}, "spec": {"host": "x", "port": 2}}).status
            == 201
        )
        api.patch(f"{v1}/a", {"spec": {"port": 3}}, "application/merge-patch+json")
        events = watch.wait_events(3)
    finally:
        watch.close()
    assert [(e["type"], e["object"]["apiVersion"], e["object"]["spec"]) for e in events] == [
        ("ADDED", f"{group}/v2", {"endpoint": "h:1"}),
        ("ADDED", f"{group}/v2", {"endpoint": "x:2"}),
        ("MODIFIED", f"{group}/v2", {"endpoint": "h:3"}),
    ]
    # a watch of the storage version is served from the cache as it is
    plain = RawWatch(server, f"{v1}?watch=true&timeoutSeconds=5")
    try:
        assert plain.wait_events(2)[0]["object"]["spec"] == {"host": "h", "port": 3}
    finally:
        plain.close()
