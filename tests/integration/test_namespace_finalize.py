"""namespaces/NAME/finalize: the only way to change spec.finalizers, and what holds a
terminating namespace until its finalizers are gone."""

from __future__ import annotations

import uuid

from .conftest import Api, wait_for


def test_finalize_edits_spec_finalizers_only(api: Api) -> None:
    name = f"fin-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", {"metadata": {"name": name}}).status == 201
    ns = api.get(f"/api/v1/namespaces/{name}").json
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    # a plain update cannot change spec.finalizers
    ns["spec"]["finalizers"] = ["kubernetes", "example.com/hold"]
    assert api.put(f"/api/v1/namespaces/{name}", ns).json["spec"]["finalizers"] == ["kubernetes"]
    ns = api.get(f"/api/v1/namespaces/{name}").json
    ns["spec"]["finalizers"] = ["kubernetes", "example.com/hold"]
    ns["metadata"]["labels"] = {"ignored": "yes"}
    reply = api.put(f"/api/v1/namespaces/{name}/finalize", ns)
    assert reply.status == 200, reply.body
    stored = api.get(f"/api/v1/namespaces/{name}").json
    assert stored["spec"]["finalizers"] == ["kubernetes", "example.com/hold"]
    assert "ignored" not in stored["metadata"].get("labels", {})
    entry = next(e for e in stored["metadata"]["managedFields"] if e.get("subresource"))
    assert entry["subresource"] == "finalize"
    assert entry["fieldsV1"] == {"f:spec": {"f:finalizers": {}}}
    bad = dict(stored, spec={"finalizers": ["not qualified"]})
    invalid = api.put(f"/api/v1/namespaces/{name}/finalize", bad)
    assert invalid.status == 422
    assert invalid.json["details"]["causes"][0]["field"] == "spec.finalizers[0]"
    assert api.get(f"/api/v1/namespaces/{name}/finalize").status == 405

    # deletion: strom removes its own finalizer, the namespace waits for the other one
    assert api.delete(f"/api/v1/namespaces/{name}").status == 200
    wait_for(
        lambda: (
            api.get(f"/api/v1/namespaces/{name}").json["spec"].get("finalizers")
            == ["example.com/hold"]
        ),
        what="strom's kubernetes finalizer removed",
    )
    held = api.get(f"/api/v1/namespaces/{name}").json
    assert held["status"]["phase"] == "Terminating"
    held["spec"]["finalizers"] = []
    assert api.put(f"/api/v1/namespaces/{name}/finalize", held).status == 200
    wait_for(lambda: api.get(f"/api/v1/namespaces/{name}").status == 404, what="namespace deleted")
