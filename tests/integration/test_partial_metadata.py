"""`as=PartialObjectMetadata` and `as=PartialObjectMetadataList` (metadata informers, kubectl's
garbage collector-like clients): metadata only, on get, list and watch; the shape that does not
fit the endpoint falls through to the next Accept clause, or 406 when there is none."""

from __future__ import annotations

import http.client
import json
import ssl

from strom.testing.server import StromServer

from .conftest import Api

OBJ = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def test_get_and_list_as_partial_object_metadata(api: Api, ns: str) -> None:
    body = {"metadata": {"name": "m", "labels": {"a": "b"}}, "data": {"secret-ish": "x" * 100}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", body).status == 201
    one = api.get(f"/api/v1/namespaces/{ns}/configmaps/m", headers={"Accept": OBJ})
    assert one.status == 200
    assert one.json["kind"] == "PartialObjectMetadata"
    assert one.json["apiVersion"] == "meta.k8s.io/v1"
    assert one.json["metadata"]["labels"] == {"a": "b"}
    assert set(one.json) == {"kind", "apiVersion", "metadata"}
    many = api.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": LIST})
    assert many.status == 200
    assert many.json["kind"] == "PartialObjectMetadataList"
    names = {i["metadata"]["name"] for i in many.json["items"]}
    assert "m" in names
    assert all(set(i) == {"kind", "apiVersion", "metadata"} for i in many.json["items"])
    assert many.json["metadata"]["resourceVersion"]
    # the other shape alone is not acceptable; with a fallback the fallback answers
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/m", headers={"Accept": LIST}).status == 406
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": OBJ}).status == 406
    fallback = api.get(
        f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": f"{OBJ},application/json"}
    )
    assert fallback.status == 200 and fallback.json["kind"] == "ConfigMapList"
    v1beta1 = api.get(
        f"/api/v1/namespaces/{ns}/configmaps/m",
        headers={"Accept": OBJ.replace("v=v1", "v=v1beta1")},
    )
    assert v1beta1.json["apiVersion"] == "meta.k8s.io/v1beta1"


def test_watch_as_partial_object_metadata(server: StromServer, api: Api, ns: str) -> None:
    assert (
        api.post(
            f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "w"}, "data": {"k": "v"}}
        ).status
        == 201
    )
    conn = http.client.HTTPSConnection(
        "127.0.0.1",
        server.port,
        context=ssl.create_default_context(cafile=str(server.ca_file)),
        timeout=10,
    )
    try:
        conn.request(
            "GET",
            f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1",
            headers={
                "Authorization": f"Bearer {server.token}",
                "Accept": f"{OBJ},application/json",
            },
        )
        response = conn.getresponse()
        assert response.status == 200
        events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    finally:
        conn.close()
    added = [e for e in events if e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "w"]
    assert added, events
    assert added[0]["object"]["kind"] == "PartialObjectMetadata"
    assert "data" not in added[0]["object"]
