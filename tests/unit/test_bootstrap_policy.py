"""kube's RBAC bootstrap policy data and its start-up reconciliation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from strom.auth.bootstrap_policy import (
    AUTOUPDATE_ANNOTATION,
    BOOTSTRAPPING_LABEL,
    BootstrapPolicy,
    Reconciled,
    covers,
    load,
    reconcile_binding,
    reconcile_role,
    uncovered_rules,
)

Obj = dict[str, Any]
AGG = "rbac.authorization.k8s.io/aggregate-to-"
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def policy() -> BootstrapPolicy:
    return load()


def by_name(objs: tuple[Obj, ...], name: str, namespace: str | None = None) -> Obj:
    found = [
        o
        for o in objs
        if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, (name, namespace, len(found))
    return found[0]


def group(name: str) -> Obj:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


# --- the data ----------------------------------------------------------------------------


def test_counts_and_kinds(policy: BootstrapPolicy) -> None:
    assert len(policy.cluster_roles) == 69  # 31 cluster roles + 38 controller roles
    assert len(policy.cluster_role_bindings) == 50  # 12 + 38
    assert len(policy.roles) == 7
    assert len(policy.role_bindings) == 7
    for objs, kind in (
        (policy.cluster_roles, "ClusterRole"),
        (policy.cluster_role_bindings, "ClusterRoleBinding"),
        (policy.roles, "Role"),
        (policy.role_bindings, "RoleBinding"),
    ):
        for obj in objs:
            assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
            assert obj["kind"] == kind
            assert ("namespace" in obj["metadata"]) == kind.startswith("Role")


def test_every_object_is_labelled_and_autoupdated(policy: BootstrapPolicy) -> None:
    for objs in (
        policy.cluster_roles,
        policy.cluster_role_bindings,
        policy.roles,
        policy.role_bindings,
    ):
        for obj in objs:
            md = obj["metadata"]
            assert md["labels"][BOOTSTRAPPING_LABEL] == "rbac-defaults", md["name"]
            assert md["annotations"][AUTOUPDATE_ANNOTATION] == "true", md["name"]
            assert not {"creationTimestamp", "resourceVersion", "uid"} & md.keys()


def test_names_are_unique(policy: BootstrapPolicy) -> None:
    for objs in (
        policy.cluster_roles,
        policy.cluster_role_bindings,
        policy.roles,
        policy.role_bindings,
    ):
        keys = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
        assert len(keys) == len(set(keys))


def test_cluster_admin_and_masters(policy: BootstrapPolicy) -> None:
    role = by_name(policy.cluster_roles, "cluster-admin")
    assert role["rules"] == [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]
    binding = by_name(policy.cluster_role_bindings, "cluster-admin")
    assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"}
    assert binding["subjects"] == [group("system:masters")]


def test_aggregation_chain(policy: BootstrapPolicy) -> None:
    def selector(obj: Obj) -> list[Obj]:
        return list(obj["aggregationRule"]["clusterRoleSelectors"])

    admin, edit, view = (by_name(policy.cluster_roles, n) for n in ("admin", "edit", "view"))
    assert selector(admin) == [{"matchLabels": {AGG + "admin": "true"}}]
    assert selector(edit) == [{"matchLabels": {AGG + "edit": "true"}}]
    assert selector(view) == [{"matchLabels": {AGG + "view": "true"}}]
    # edit is aggregated into admin, view into edit (and so into admin)
    assert edit["metadata"]["labels"][AGG + "admin"] == "true"
    assert view["metadata"]["labels"][AGG + "edit"] == "true"
    assert AGG + "admin" not in view["metadata"]["labels"]
    # kube's testdata has no rules for aggregated roles: the controller fills them
    for role in (admin, edit, view):
        assert role["rules"] is None
    for target in ("admin", "edit", "view"):
        part = by_name(policy.cluster_roles, "system:aggregate-to-" + target)
        assert part["metadata"]["labels"][AGG + target] == "true"
        assert part["rules"]
    aggregated = [r for r in policy.cluster_roles if "aggregationRule" in r]
    assert sorted(r["metadata"]["name"] for r in aggregated) == ["admin", "edit", "view"]


def test_discovery_basic_user_public_info(policy: BootstrapPolicy) -> None:
    discovery = by_name(policy.cluster_roles, "system:discovery")
    assert discovery["rules"] == [
        {
            "nonResourceURLs": [
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
                "/healthz",
                "/livez",
                "/openapi",
                "/openapi/*",
                "/readyz",
                "/version",
                "/version/",
            ],
            "verbs": ["get"],
        }
    ]
    public = by_name(policy.cluster_roles, "system:public-info-viewer")
    assert public["rules"] == [
        {
            "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
            "verbs": ["get"],
        }
    ]
    basic = by_name(policy.cluster_roles, "system:basic-user")
    resources = {r for rule in basic["rules"] for r in rule["resources"]}
    assert resources == {
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "selfsubjectreviews",
    }

    bindings = policy.cluster_role_bindings
    assert by_name(bindings, "system:public-info-viewer")["subjects"] == [
        group("system:authenticated"),
        group("system:unauthenticated"),
    ]
    assert by_name(bindings, "system:discovery")["subjects"] == [group("system:authenticated")]
    assert by_name(bindings, "system:basic-user")["subjects"] == [group("system:authenticated")]
    # the deprecated system:node binding is kept, with no subjects (Node authorizer's job)
    assert "subjects" not in by_name(bindings, "system:node")


def test_every_binding_refers_to_a_bootstrap_role(policy: BootstrapPolicy) -> None:
    cluster_roles = {r["metadata"]["name"] for r in policy.cluster_roles}
    for binding in policy.cluster_role_bindings:
        assert binding["roleRef"]["kind"] == "ClusterRole"
        assert binding["roleRef"]["name"] in cluster_roles
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in policy.roles}
    for binding in policy.role_bindings:
        assert binding["roleRef"]["kind"] == "Role"
        key = (binding["metadata"]["namespace"], binding["roleRef"]["name"])
        assert key in roles


def test_controller_roles_bound_to_their_service_accounts(policy: BootstrapPolicy) -> None:
    binding = by_name(policy.cluster_role_bindings, "system:controller:namespace-controller")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "namespace-controller", "namespace": "kube-system"}
    ]
    aggregation = by_name(
        policy.cluster_roles, "system:controller:clusterrole-aggregation-controller"
    )
    assert "escalate" in aggregation["rules"][0]["verbs"]


def test_namespaced_roles(policy: BootstrapPolicy) -> None:
    reader = by_name(policy.roles, "extension-apiserver-authentication-reader", "kube-system")
    assert reader["rules"] == [
        {
            "apiGroups": [""],
            "resourceNames": ["extension-apiserver-authentication"],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    signer = by_name(policy.roles, "system:controller:bootstrap-signer", "kube-public")
    assert any(rule.get("resourceNames") == ["cluster-info"] for rule in signer["rules"])
    by_name(policy.roles, "system:controller:bootstrap-signer", "kube-system")
    binding = by_name(
        policy.role_bindings, "system::extension-apiserver-authentication-reader", "kube-system"
    )
    assert [s["name"] for s in binding["subjects"]] == [
        "system:kube-controller-manager",
        "system:kube-scheduler",
    ]


def test_load_returns_fresh_copies() -> None:
    first = load()
    first.cluster_roles[0]["metadata"]["name"] = "mutated"
    first.cluster_roles[1]["rules"].clear()
    second = load()
    assert second.cluster_roles[0]["metadata"]["name"] == "admin"
    assert second.cluster_roles[1]["rules"]


# --- covers ------------------------------------------------------------------------------


def rule(verbs: list[str], groups: list[str], resources: list[str], **extra: list[str]) -> Obj:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources, **extra}


def test_covers_is_per_atom_like_kube() -> None:
    split = [rule(["get"], [""], ["pods"]), rule(["list", "watch"], [""], ["pods"])]
    assert covers(split, [rule(["get", "list", "watch"], [""], ["pods"])])
    assert not covers(split, [rule(["delete"], [""], ["pods"])])
    assert covers([rule(["*"], ["*"], ["*"])], [rule(["get"], ["apps"], ["deployments"])])
    assert covers(
        [rule(["get"], ["*"], ["*/scale"])], [rule(["get"], ["apps"], ["deployments/scale"])]
    )
    assert not covers(
        [rule(["get"], ["*"], ["*/scale"])], [rule(["get"], ["apps"], ["deployments"])]
    )


def test_covers_resource_names_and_urls() -> None:
    named = [rule(["get"], [""], ["configmaps"], resourceNames=["a"])]
    assert covers(named, [rule(["get"], [""], ["configmaps"], resourceNames=["a"])])
    assert not covers(named, [rule(["get"], [""], ["configmaps"])])
    assert covers([rule(["get"], [""], ["configmaps"])], named)
    urls = [{"verbs": ["get"], "nonResourceURLs": ["/healthz/*", "/version"]}]
    assert covers(urls, [{"verbs": ["get"], "nonResourceURLs": ["/healthz/etcd", "/version"]}])
    assert not covers(urls, [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}])
    assert not covers(
        [rule(["get"], ["*"], ["*"])], [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]
    )


def test_uncovered_rules_are_atoms() -> None:
    missing = uncovered_rules(
        [rule(["get"], [""], ["pods"])], [rule(["get", "list"], [""], ["pods"])]
    )
    assert missing == [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]


# --- reconcile roles ---------------------------------------------------------------------


def stored(obj: Obj, rv: str = "42") -> Obj:
    """`obj` as if read back from the store."""
    out = copy.deepcopy(obj)
    out["metadata"]["resourceVersion"] = rv
    out["metadata"]["uid"] = "u-1"
    return out


def test_role_missing_is_created(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "system:discovery")
    out = reconcile_role(None, expected)
    assert out == expected
    assert out is not expected
    assert "resourceVersion" not in out["metadata"]


def test_role_identical_is_left_alone(policy: BootstrapPolicy) -> None:
    for expected in (*policy.cluster_roles, *policy.roles):
        assert reconcile_role(stored(expected), expected) is None, expected["metadata"]["name"]


def test_role_missing_rule_is_added(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "system:basic-user")
    existing = stored(expected, rv="7")
    dropped = existing["rules"].pop()  # selfsubjectreviews create
    existing["rules"].append(rule(["get"], ["example.com"], ["widgets"]))  # extra: kept
    out = reconcile_role(existing, expected)
    assert out is not None
    assert out["metadata"]["resourceVersion"] == "7"
    assert out["metadata"]["uid"] == "u-1"
    assert rule(["get"], ["example.com"], ["widgets"]) in out["rules"]
    assert covers(out["rules"], expected["rules"])
    assert not covers(existing["rules"], [dropped])
    assert reconcile_role(out, expected) is None  # converged


def test_role_protected_is_skipped(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "system:basic-user")
    existing = stored(expected)
    existing["rules"] = []
    existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = "false"
    assert reconcile_role(existing, expected) is None


def test_role_labels_and_annotations_merged(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "system:basic-user")
    existing = stored(expected)
    existing["metadata"]["labels"] = {"team": "a", BOOTSTRAPPING_LABEL: "custom"}
    del existing["metadata"]["annotations"]
    out = reconcile_role(existing, expected)
    assert out is not None
    assert out["metadata"]["labels"] == {"team": "a", BOOTSTRAPPING_LABEL: "custom"}
    assert out["metadata"]["annotations"] == {AUTOUPDATE_ANNOTATION: "true"}
    assert out["rules"] == existing["rules"]


def test_aggregated_role_keeps_aggregated_rules(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "admin")
    existing = stored(expected)
    existing["rules"] = [rule(["get"], [""], ["pods"])]  # what the controller aggregated
    assert reconcile_role(existing, expected) is None


def test_aggregated_role_gets_missing_selector(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "admin")
    existing = stored(expected)
    other = {"matchLabels": {"example.com/aggregate-to-admin": "true"}}
    existing["aggregationRule"] = {"clusterRoleSelectors": [other]}
    existing["rules"] = [rule(["get"], [""], ["pods"])]
    out = reconcile_role(existing, expected)
    assert out is not None
    assert out["aggregationRule"]["clusterRoleSelectors"] == [
        other,
        {"matchLabels": {AGG + "admin": "true"}},
    ]
    assert out["rules"] == existing["rules"]
    assert out["metadata"]["resourceVersion"] == "42"


def test_unexpected_aggregation_rule_is_removed(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_roles, "system:basic-user")
    existing = stored(expected)
    existing["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}
    out = reconcile_role(existing, expected)
    assert out is not None
    assert "aggregationRule" not in out


# --- reconcile bindings ------------------------------------------------------------------


def test_binding_missing_is_created(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_role_bindings, "cluster-admin")
    assert reconcile_binding(None, expected) == Reconciled(expected, recreate=False)


def test_binding_identical_is_left_alone(policy: BootstrapPolicy) -> None:
    for expected in (*policy.cluster_role_bindings, *policy.role_bindings):
        assert reconcile_binding(stored(expected), expected) is None, expected["metadata"]["name"]


def test_binding_missing_subject_is_added(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_role_bindings, "system:public-info-viewer")
    existing = stored(expected, rv="9")
    existing["subjects"] = [
        {"apiGroup": RBAC, "kind": "User", "name": "alice"},
        group("system:authenticated"),
    ]
    out = reconcile_binding(existing, expected)
    assert out is not None and not out.recreate
    assert out.obj["subjects"] == [
        {"apiGroup": RBAC, "kind": "User", "name": "alice"},
        group("system:authenticated"),
        group("system:unauthenticated"),
    ]
    assert out.obj["metadata"]["resourceVersion"] == "9"
    assert reconcile_binding(out.obj, expected) is None


def test_binding_subject_compare_defaults_api_group(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_role_bindings, "cluster-admin")
    existing = stored(expected)
    existing["subjects"] = [{"kind": "Group", "name": "system:masters"}]
    assert reconcile_binding(existing, expected) is None


def test_binding_role_ref_changed_is_recreated(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_role_bindings, "system:discovery")
    existing = stored(expected)
    existing["roleRef"] = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}
    out = reconcile_binding(existing, expected)
    assert out == Reconciled(expected, recreate=True)
    assert "resourceVersion" not in out.obj["metadata"]


def test_binding_protected_is_skipped(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.cluster_role_bindings, "system:discovery")
    existing = stored(expected)
    existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = "false"
    existing["subjects"] = []
    existing["roleRef"] = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}
    assert reconcile_binding(existing, expected) is None


def test_namespaced_binding_missing_subject(policy: BootstrapPolicy) -> None:
    expected = by_name(policy.role_bindings, "system::leader-locking-kube-scheduler", "kube-system")
    existing = stored(expected)
    existing["subjects"] = existing["subjects"][:1]
    out = reconcile_binding(existing, expected)
    assert out is not None and not out.recreate
    assert out.obj["subjects"] == expected["subjects"]
    assert out.obj["metadata"]["namespace"] == "kube-system"
