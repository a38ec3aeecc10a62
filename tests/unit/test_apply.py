"""Structured merge and field ownership (strom.registry.apply) on each kind of list and map,
against what kube-apiserver does (the server-side apply documentation and
structured-merge-diff's own test cases are the reference)."""

from __future__ import annotations

from typing import Any

import pytest

from strom import yamljson
from strom.errors import StatusError
from strom.registry.apply import FieldManager, TypedError, manager_name
from strom.registry.apply.fieldpath import FieldSet

NOW = "2026-12-07T12:00:00Z"
LATER = "2026-12-07T12:05:00Z"


def deployments() -> FieldManager:
    return FieldManager(
        group="apps", version="v1", kind="Deployment", crd_version=None, has_status=True
    )


def configmaps() -> FieldManager:
    return FieldManager(group="", version="v1", kind="ConfigMap", crd_version=None)


def pods() -> FieldManager:
    return FieldManager(group="", version="v1", kind="Pod", crd_version=None, has_status=True)


def with_managed(obj: dict[str, Any], managed: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = dict(obj.get("metadata") or {}, managedFields=managed)
    return out


def apply(
    fm: FieldManager,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    *,
    force: bool = False,
    now: str = NOW,
) -> dict[str, Any]:
    merged, managed, _ = fm.apply(live, config, manager, now, force=force)
    return with_managed(merged, managed)


def owners(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": spec,
    }


def container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


def template(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}}


# --- fieldsV1 ------------------------------------------------------------------------------
def test_fields_v1_round_trips_and_orders_like_smd() -> None:
    data = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:containers": {
                'k:{"name":"a"}': {".": {}, "f:image": {}, "f:name": {}},
                'k:{"name":"b"}': {".": {}, "f:name": {}},
            },
            "f:finalizers": {'v:"x"': {}, "v:1": {}},
        },
    }
    fields = FieldSet.from_fields_v1(data)
    out = fields.to_fields_v1()
    assert out["f:spec"]["f:containers"] == data["f:spec"]["f:containers"]
    # numbers sort before strings, as value.Compare orders them
    assert list(out["f:spec"]["f:finalizers"]) == ["v:1", 'v:"x"']
    assert FieldSet.from_fields_v1(out) == fields


def test_create_records_an_update_with_the_capture_s_fields() -> None:
    # ../shared/reference/kube-apiserver-v1.36/201-create-configmap.txt
    obj = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "c",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "1",
            "creationTimestamp": NOW,
        },
        "data": {"k": "v"},
    }
    managed = configmaps().update(None, obj, "kas-wire-capture", NOW)
    assert managed == [
        {
            "manager": "kas-wire-capture",
            "operation": "Update",
            "apiVersion": "v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:k": {}}},
        }
    ]


def test_apply_records_only_applied_leaves() -> None:
    # ../shared/reference/kube-apiserver-v1.36/201-apply-ssa.txt
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa-demo"},
        "data": {"a": "1"},
    }
    obj = apply(configmaps(), None, cm, "wire")
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "wire",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]


def test_manager_name_from_user_agent() -> None:
    assert (
        manager_name("", "kubectl-create/v1.36.0 (linux/amd64) kubernetes/abc") == "kubectl-create"
    )
    assert manager_name("mine", "kubectl/v1.36") == "mine"
    assert manager_name("", "a\x07b/1") == "ab"
    assert len(manager_name("", "x" * 300)) == 128


# --- atomic lists --------------------------------------------------------------------------
def test_atomic_list_is_replaced_whole_and_owned_as_one_field() -> None:
    fm = deployments()
    first = apply(fm, None, deployment(template=template(container("c", args=["a", "b"]))), "one")
    second = apply(
        fm, first, deployment(template=template(container("c", args=["z"]))), "two", force=True
    )
    assert second["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]
    c = owners(second)["two"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert c["f:args"] == {}  # one member, no per-item entries


def test_atomic_list_change_conflicts_with_its_owner() -> None:
    fm = deployments()
    first = apply(fm, None, deployment(template=template(container("c", args=["a"]))), "one")
    with pytest.raises(StatusError) as info:
        apply(fm, first, deployment(template=template(container("c", args=["b"]))), "two")
    err = info.value
    assert err.code == 409 and err.reason == "Conflict"
    assert (
        err.message == 'Apply failed with 1 conflict: conflict with "one":'
        ' .spec.template.spec.containers[name="c"].args'
    )
    assert err.details is not None
    assert [c.to_dict() for c in err.details.causes] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "one"',
            "field": '.spec.template.spec.containers[name="c"].args',
        }
    ]


# --- sets ----------------------------------------------------------------------------------
def _cm(**meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", **meta}}


def test_set_items_are_owned_one_by_one_and_merged() -> None:
    fm = configmaps()
    one = apply(fm, None, _cm(finalizers=["a.io/x", "shared.io/s"]), "one")
    two = apply(fm, one, _cm(finalizers=["b.io/y", "shared.io/s"]), "two")
    assert set(two["metadata"]["finalizers"]) == {"a.io/x", "b.io/y", "shared.io/s"}
    assert owners(two)["two"]["f:metadata"]["f:finalizers"] == {
        'v:"b.io/y"': {},
        'v:"shared.io/s"': {},
    }
    # one stops applying its own item: gone; the co-owned one stays (two still applies it)
    three = apply(fm, two, _cm(finalizers=[]), "one")
    assert set(three["metadata"]["finalizers"]) == {"b.io/y", "shared.io/s"}


def test_set_with_a_duplicate_in_the_configuration_is_refused() -> None:
    with pytest.raises(
        TypedError, match=r'\.metadata\.finalizers: duplicate entries for key \[="a"\]'
    ):
        configmaps().apply(None, _cm(finalizers=["a", "a"]), "one", NOW, force=False)


# --- maps keyed by fields ------------------------------------------------------------------
def test_keyed_list_items_merge_by_key_and_keep_live_only_items() -> None:
    fm = deployments()
    one = apply(fm, None, deployment(template=template(container("app", image="app:1"))), "one")
    two = apply(
        fm, one, deployment(template=template(container("sidecar", image="proxy:1"))), "two"
    )
    names = [c["name"] for c in two["spec"]["template"]["spec"]["containers"]]
    assert names == ["app", "sidecar"]
    # one changes its container: no conflict, the sidecar is untouched
    three = apply(fm, two, deployment(template=template(container("app", image="app:2"))), "one")
    images = {c["name"]: c["image"] for c in three["spec"]["template"]["spec"]["containers"]}
    assert images == {"app": "app:2", "sidecar": "proxy:1"}


def test_keyed_list_item_removed_when_its_only_applier_drops_it() -> None:
    fm = deployments()
    one = apply(
        fm,
        None,
        deployment(template=template(container("a", image="a"), container("b", image="b"))),
        "one",
    )
    two = apply(fm, one, deployment(template=template(container("a", image="a"))), "one")
    assert [c["name"] for c in two["spec"]["template"]["spec"]["containers"]] == ["a"]


def test_key_defaults_fill_a_missing_key_field() -> None:
    fm = deployments()
    obj = apply(
        fm,
        None,
        deployment(template=template(container("a", ports=[{"containerPort": 80}]))),
        "one",
    )
    c = owners(obj)["one"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert list(c["f:ports"]) == ['k:{"containerPort":80,"protocol":"TCP"}']


def test_keyed_list_item_without_its_key_is_refused() -> None:
    with pytest.raises(TypedError, match="omits all key fields"):
        deployments().apply(
            None, deployment(template=template({"image": "x"})), "one", NOW, force=False
        )


def test_shared_items_follow_the_applied_order() -> None:
    fm = deployments()
    one = apply(
        fm,
        None,
        deployment(template=template(container("a"), container("b"), container("c"))),
        "one",
    )
    two = apply(
        fm,
        one,
        deployment(template=template(container("c"), container("b"), container("a"))),
        "one",
    )
    assert [c["name"] for c in two["spec"]["template"]["spec"]["containers"]] == ["c", "b", "a"]


# --- maps ----------------------------------------------------------------------------------
def test_granular_map_keys_are_owned_separately() -> None:
    fm = configmaps()
    one = apply(fm, None, _cm(labels={"team": "a"}), "one")
    two = apply(fm, one, _cm(labels={"tier": "web"}), "two")
    assert two["metadata"]["labels"] == {"team": "a", "tier": "web"}
    three = apply(fm, two, _cm(labels={}), "one")
    assert three["metadata"]["labels"] == {"tier": "web"}


def test_atomic_map_is_replaced_whole() -> None:
    # LabelSelector is x-kubernetes-map-type: atomic
    fm = deployments()
    one = apply(fm, None, deployment(selector={"matchLabels": {"a": "1", "b": "2"}}), "one")
    assert owners(one)["one"]["f:spec"] == {"f:selector": {}}
    two = apply(fm, one, deployment(selector={"matchLabels": {"c": "3"}}), "one")
    assert two["spec"]["selector"] == {"matchLabels": {"c": "3"}}


def test_fields_nobody_applies_any_more_stay_when_updated_by_someone_else() -> None:
    fm = configmaps()
    one = apply(fm, None, {**_cm(), "data": {"a": "1"}}, "one")
    edited = with_managed({**one, "data": {"a": "1", "b": "2"}}, [])
    edited["metadata"]["managedFields"] = fm.update(one, edited, "kubectl-edit", LATER)
    again = apply(fm, edited, {**_cm(), "data": {}}, "one", now=LATER)
    assert again["data"] == {"b": "2"}  # a went with its applier; b belongs to kubectl-edit


# --- updates -------------------------------------------------------------------------------
def test_update_takes_changed_fields_and_removed_fields_leave_every_owner() -> None:
    fm = configmaps()
    one = apply(fm, None, {**_cm(), "data": {"a": "1", "b": "2", "c": "3"}}, "one")
    new = {**one, "data": {"a": "changed", "c": "3"}}
    managed = fm.update(one, new, "editor", LATER)
    by = {e["manager"]: e for e in managed}
    assert by["one"]["fieldsV1"] == {"f:data": {"f:c": {}}}  # a taken, b gone
    assert by["editor"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert by["editor"]["operation"] == "Update" and by["editor"]["time"] == LATER


def test_update_without_changes_keeps_managed_fields_identical() -> None:
    fm = configmaps()
    one = with_managed({**_cm(), "data": {"a": "1"}}, [])
    one["metadata"]["managedFields"] = fm.update(None, one, "creator", NOW)
    assert fm.update(one, one, "other", LATER) == one["metadata"]["managedFields"]


def test_status_is_not_owned_through_the_main_resource() -> None:
    fm = pods()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"},
    }
    managed = fm.update(None, pod, "creator", NOW)
    assert "f:status" not in managed[0]["fieldsV1"]
    status_fm = FieldManager(
        group="", version="v1", kind="Pod", crd_version=None, subresource="status", has_status=True
    )
    new = {**pod, "status": {"phase": "Succeeded"}}
    on_status = status_fm.update(with_managed(pod, managed), new, "kubelet", LATER)
    kubelet = next(e for e in on_status if e["manager"] == "kubelet")
    assert kubelet["subresource"] == "status" and kubelet["fieldsV1"] == {
        "f:status": {"f:phase": {}}
    }


def test_update_managers_are_capped_at_ten() -> None:
    fm = configmaps()
    obj = with_managed({**_cm(), "data": {}}, [])
    for i in range(12):
        new = {**obj, "data": {**obj["data"], f"k{i}": "v"}}
        new["metadata"] = dict(
            obj["metadata"],
            managedFields=fm.update(obj, new, f"m{i:02}", f"2026-12-07T12:00:{i:02}Z"),
        )
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers
    ancient = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == "ancient-changes")
    assert set(ancient["fieldsV1"]["f:data"]) >= {"f:k0", "f:k1", "f:k2"}


def test_before_first_apply_owns_what_an_unmanaged_object_had() -> None:
    fm = configmaps()
    live = {**_cm(), "data": {"a": "1"}}  # stored before strom recorded ownership
    with pytest.raises(StatusError) as info:
        fm.apply(live, {**_cm(), "data": {"a": "2"}}, "one", NOW, force=False)
    assert 'conflict with "before-first-apply"' in info.value.message


def test_custom_resource_schema_list_types() -> None:
    crd_version = {
        "name": "v1",
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "properties": {
                            "hosts": {
                                "type": "array",
                                "items": {"type": "string"},
                                "x-kubernetes-list-type": "set",
                            },
                            "plain": {"type": "array", "items": {"type": "string"}},
                            "blob": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        },
    }
    fm = FieldManager(group="example.com", version="v1", kind="Widget", crd_version=crd_version)

    def widget(**spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": spec,
        }

    one = apply(fm, None, widget(hosts=["a"], plain=["x"], blob={"k": {"deep": 1}}), "one")
    two = apply(fm, one, widget(hosts=["b"], blob={"k2": 2}), "two")
    assert sorted(two["spec"]["hosts"]) == ["a", "b"]
    assert two["spec"]["blob"] == {"k": {"deep": 1}, "k2": 2}  # deduced: maps granular
    assert owners(two)["one"]["f:spec"]["f:plain"] == {}  # lists default to atomic in CRDs


# --- YAML as Go reads it -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when: 2020-01-01", {"when": "2020-01-01"}),
        ("t: 2001-12-14t21:59:43.10-05:00", {"t": "2001-12-14t21:59:43.10-05:00"}),
        ("a: yes\nb: y\nc: off", {"a": True, "b": True, "c": False}),
        ("d: 1:20", {"d": "1:20"}),
        ("e: 1.0\nf: 1.5\ng: 0x1f", {"e": 1, "f": 1.5, "g": 31}),
        ("1: one\ntrue: t", {"1": "one", "true": "t"}),
        ("q: '2020-01-01'\nr: =", {"q": "2020-01-01", "r": "="}),
    ],
)
def test_yaml_is_read_as_go_yaml_v2_reads_it(text: str, expected: dict[str, Any]) -> None:
    assert yamljson.load(text) == expected
