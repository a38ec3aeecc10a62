"""events.k8s.io/v1 and core/v1 Events are one store, as on kube-apiserver: an event recorded
through either API shows in both, each in its own shape."""

from __future__ import annotations

from .conftest import Api


def test_events_v1_and_core_share_storage(api: Api, ns: str) -> None:
    new_api = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
    core_api = f"/api/v1/namespaces/{ns}/events"
    created = api.post(
        new_api,
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e1"},
            "eventTime": "2026-11-25T12:00:00.000000Z",
            "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-0",
            "action": "Reconcile",
            "reason": "Synced",
            "note": "all good",
            "type": "Normal",
            "regarding": {"kind": "ConfigMap", "namespace": ns, "name": "cm"},
        },
    )
    assert created.status == 201, created.body
    assert created.json["apiVersion"] == "events.k8s.io/v1"
    assert created.json["note"] == "all good"
    core = api.get(f"{core_api}/e1").json
    assert core["kind"] == "Event" and core["apiVersion"] == "v1"
    assert core["message"] == "all good"
    assert core["involvedObject"]["name"] == "cm"
    assert core["reportingComponent"] == "example.com/ctl"
    assert "note" not in core and "regarding" not in core

    assert (
        api.post(
            core_api,
            {
                "metadata": {"name": "e2"},
                "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p"},
                "reason": "Started",
                "message": "old style",
                "source": {"component": "kubelet"},
                "type": "Normal",
            },
        ).status
        == 201
    )
    listed = api.get(new_api).json
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    by_name = {i["metadata"]["name"]: i for i in listed["items"]}
    assert by_name["e2"]["note"] == "old style"
    assert by_name["e2"]["regarding"]["name"] == "p"
    assert by_name["e2"]["deprecatedSource"] == {"component": "kubelet"}
    assert "kind" not in by_name["e2"]  # typed list items carry no type fields

    patched = api.patch(f"{new_api}/e2", {"note": "patched"}, "application/merge-patch+json").json
    assert patched["note"] == "patched"
    assert api.get(f"{core_api}/e2").json["message"] == "patched"
    assert api.delete(f"{new_api}/e1").status == 200
    assert api.get(f"{core_api}/e1").status == 404
