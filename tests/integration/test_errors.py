"""Every error code strom sends, with the whole `Status` body as kube-apiserver words it."""

from __future__ import annotations

from typing import Any

from strom.testing.server import StromServer

from .conftest import Api


def status(code: int, reason: str, message: str, details: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


def test_400_bad_json(api: Api, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", b"{not json")
    assert r.status == 400
    body = r.json
    assert body["reason"] == "BadRequest" and body["code"] == 400
    assert body["message"].startswith(
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get"
        " version/kind; json parse error: "
    )
    assert "details" not in body


def test_400_bad_label_selector(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps?labelSelector=a%3D%3D%3Db")
    assert r.status == 400
    assert r.json == status(
        400, "BadRequest", "unable to parse requirement: found '=', expected: identifier"
    )


def test_400_bad_resource_version(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps?resourceVersion=abc")
    assert r.status == 400
    assert r.json == status(
        400,
        "BadRequest",
        'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint:'
        ' parsing "abc": invalid syntax',
    )


def test_401_without_and_with_bad_token(server: StromServer) -> None:
    for token in ("", "not-a-valid-token"):
        r = Api(server, token=token).get("/api/v1/namespaces/default/configmaps")
        assert r.status == 401
        assert r.json == status(401, "Unauthorized", "Unauthorized")


def test_403_create_in_terminating_namespace(api: Api, ns: str) -> None:
    held = api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}},
    )
    assert held.status == 201
    assert api.delete(f"/api/v1/namespaces/{ns}").status == 200
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "late"}})
    assert r.status == 403
    assert r.json == status(
        403,
        "Forbidden",
        f'configmaps "late" is forbidden: unable to create new content in namespace {ns}'
        " because it is being terminated",
        {"name": "late", "kind": "configmaps"},
    )


def test_403_pod_without_service_account(api: Api, ns: str) -> None:
    pod = {
        "metadata": {"name": "no-sa"},
        "spec": {
            "serviceAccountName": "missing",
            "containers": [{"name": "c", "image": "busybox:1.36"}],
        },
    }
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod)
    assert r.status == 403
    assert r.json == status(
        403,
        "Forbidden",
        f'pods "no-sa" is forbidden: error looking up service account {ns}/missing:'
        ' serviceaccount "missing" not found',
        {"name": "no-sa", "kind": "pods"},
    )


def test_404_missing_object_namespace_and_resource(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps/does-not-exist")
    assert r.status == 404
    assert r.json == status(
        404,
        "NotFound",
        'configmaps "does-not-exist" not found',
        {"name": "does-not-exist", "kind": "configmaps"},
    )
    r = api.post("/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "x"}})
    assert r.json == status(
        404, "NotFound", 'namespaces "nope" not found', {"name": "nope", "kind": "namespaces"}
    )
    r = api.get(f"/api/v1/namespaces/{ns}/widgets")
    assert r.json == status(404, "NotFound", "the server could not find the requested resource", {})
    r = api.get("/apis/apps/v1/namespaces/default/deployments/nope")
    assert r.json["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    assert r.json["message"] == 'deployments.apps "nope" not found'


def test_405_post_to_object(api: Api, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps/foo", {})
    assert r.status == 405
    assert r.json == status(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def test_406_protobuf_only(api: Api) -> None:
    r = api.get(
        "/api/v1/namespaces/default/configmaps",
        headers={"Accept": "application/vnd.kubernetes.protobuf"},
    )
    assert r.status == 406
    assert r.json == status(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml",
    )
    ok = api.get(
        "/api/v1/namespaces/default/configmaps",
        headers={"Accept": "application/vnd.kubernetes.protobuf, */*"},
    )
    assert ok.status == 200 and ok.headers["content-type"] == "application/json"


def test_409_already_exists_and_conflict(api: Api, ns: str) -> None:
    cm = {"metadata": {"name": "dup"}, "data": {"k": "v"}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", cm).status == 201
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", cm)
    assert r.status == 409
    assert r.json == status(
        409,
        "AlreadyExists",
        'configmaps "dup" already exists',
        {"name": "dup", "kind": "configmaps"},
    )
    current = api.get(f"/api/v1/namespaces/{ns}/configmaps/dup").json
    stale = dict(current, data={"k": "mine"})
    assert (
        api.put(f"/api/v1/namespaces/{ns}/configmaps/dup", dict(current, data={"k": "2"})).status
        == 200
    )
    r = api.put(f"/api/v1/namespaces/{ns}/configmaps/dup", stale)
    assert r.status == 409
    assert r.json == status(
        409,
        "Conflict",
        'Operation cannot be fulfilled on configmaps "dup": the object has been modified;'
        " please apply your changes to the latest version and try again",
        {"name": "dup", "kind": "configmaps"},
    )


def test_410_expired_continue_token(api: Api, ns: str) -> None:
    # A continue token at revision 1 is older than any history the store keeps after
    # compaction; before compaction it still lists consistently. Forge one at rev -1 (the
    # "inconsistent" token kube hands out) to see the list continue from its key.
    for i in range(3):
        api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": f"c{i}"}})
    first = api.get(f"/api/v1/namespaces/{ns}/configmaps?limit=1").json
    token = first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] >= 2
    second = api.get(f"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={token}").json
    assert [i["metadata"]["name"] for i in second["items"]] == ["c1"]


def test_413_body_too_large(api: Api, ns: str) -> None:
    big = b'{"metadata":{"name":"big"},"data":{"k":"' + b"x" * (3 * 1024 * 1024 + 10) + b'"}}'
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", big)
    assert r.status == 413
    assert r.json == status(
        413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
    )
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/big").status == 404


def test_415_unsupported_media(api: Api, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", b"x", content_type="text/plain")
    assert r.status == 415
    assert r.json == status(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include:"
        " application/json, application/yaml, application/vnd.kubernetes.protobuf",
    )


def test_422_invalid_name_and_data_key(api: Api, ns: str) -> None:
    r = api.post(
        f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "Bad_Name!"}, "data": {}}
    )
    assert r.status == 422
    body = r.json
    assert body["reason"] == "Invalid"
    assert body["details"]["name"] == "Bad_Name!" and body["details"]["kind"] == "ConfigMap"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["message"].startswith('ConfigMap "Bad_Name!" is invalid: metadata.name: Invalid')
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {}, "data": {"bad key!": "v"}})
    assert r.json["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value: name or generateName is required",
        "field": "metadata.name",
    }
    assert r.json["details"]["causes"][1]["field"] == "data[bad key!]"


def test_422_json_patch_test_failed(api: Api, ns: str) -> None:
    api.post(
        f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "jp"}, "data": {"k": "v"}}
    )
    r = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/jp",
        [
            {"op": "test", "path": "/data/k", "value": "not-v"},
            {"op": "replace", "path": "/data/k", "value": "w"},
        ],
        "application/json-patch+json",
    )
    assert r.status == 422
    assert r.json == status(
        422, "Invalid", "the server rejected our request due to an error in our request", {}
    )
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/jp").json["data"] == {"k": "v"}


def test_504_list_future_resource_version(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps?resourceVersion=99999999", timeout=15)
    assert r.status == 504
    assert r.headers["retry-after"] == "1"
    body = r.json
    assert body["reason"] == "Timeout"
    assert body["message"].startswith("Timeout: Too large resource version: 99999999, current: ")
    assert body["details"] == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }


def test_410_exact_list_of_compacted_revision_is_reported(api: Api, ns: str) -> None:
    # Nothing is compacted in a fresh server: an exact list at an old revision works.
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps?resourceVersion=1&resourceVersionMatch=Exact")
    assert r.status == 200
    assert r.json["metadata"]["resourceVersion"] == "1"
    assert r.json["items"] == []
