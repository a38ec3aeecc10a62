"""RBAC evaluation, rules review, escalation checks and validation, worded as kube words them."""

from __future__ import annotations

from typing import Any

import pytest

from strom.auth.authz import Attributes, Decision
from strom.auth.rbac import (
    FULL_AUTHORITY,
    PolicySnapshot,
    RBACAuthorizer,
    allowed_subjects,
    bind_attributes,
    breakdown_rule,
    compact_string,
    confirm_no_escalation,
    covers,
    escalate_attributes,
    escalation_allowed,
    has_aggregation_rule,
    only_gc_fields_changed,
    role_ref_rules,
    rules_for,
    rules_review_status,
    validate_binding,
    validate_policy_rule,
    validate_role,
    validate_role_ref_update,
    validate_subject,
)
from strom.user import UserInfo

G = "rbac.authorization.k8s.io"
ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
BOB = UserInfo("bob", groups=("system:authenticated",))
SA = UserInfo("system:serviceaccount:team:builder", groups=("system:serviceaccounts",))


def rule(verbs: list[str], **fields: list[str]) -> dict[str, Any]:
    return {"verbs": verbs, **fields}


def cluster_role(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "rules": list(rules)}


def role(namespace: str, name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": G, "name": name}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": G, "name": name}


def sa(name: str, namespace: str = "") -> dict[str, str]:
    out = {"kind": "ServiceAccount", "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def crb(name: str, role_name: str, *subjects: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def rb(
    namespace: str, name: str, kind: str, role_name: str, *subjects: dict[str, str]
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": G, "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def snapshot(
    roles: list[dict[str, Any]] | None = None,
    cluster_roles: list[dict[str, Any]] | None = None,
    role_bindings: list[dict[str, Any]] | None = None,
    cluster_role_bindings: list[dict[str, Any]] | None = None,
) -> PolicySnapshot:
    return PolicySnapshot.build(
        roles or [], cluster_roles or [], role_bindings or [], cluster_role_bindings or []
    )


def res(
    who: UserInfo,
    verb: str,
    resource: str,
    *,
    namespace: str = "",
    group: str = "",
    sub: str = "",
    name: str = "",
) -> Attributes:
    return Attributes(
        user=who,
        verb=verb,
        resource_request=True,
        namespace=namespace,
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name,
    )


def url(who: UserInfo, path: str, verb: str = "get") -> Attributes:
    return Attributes(user=who, verb=verb, resource_request=False, path=path)


def authz(snap: PolicySnapshot) -> RBACAuthorizer:
    return RBACAuthorizer(lambda: snap)


POD_READER = cluster_role("pod-reader", rule(["get", "list"], apiGroups=[""], resources=["pods"]))


# --------------------------------------------------------------------------- authorize


def test_cluster_role_binding_to_user_allows_with_kube_reason() -> None:
    a = authz(
        snapshot(
            cluster_roles=[POD_READER],
            cluster_role_bindings=[crb("r", "pod-reader", user("alice"))],
        )
    )
    assert a.authorize(res(ALICE, "get", "pods", namespace="x")) == (
        Decision.ALLOW,
        'RBAC: allowed by ClusterRoleBinding "r" of ClusterRole "pod-reader" to User "alice"',
    )
    assert a.authorize(res(ALICE, "list", "pods"))[0] is Decision.ALLOW
    assert a.authorize(res(ALICE, "delete", "pods", namespace="x")) == (Decision.NO_OPINION, "")
    assert a.authorize(res(BOB, "get", "pods", namespace="x")) == (Decision.NO_OPINION, "")


def test_cluster_role_binding_to_group() -> None:
    a = authz(
        snapshot(
            cluster_roles=[POD_READER],
            cluster_role_bindings=[crb("r", "pod-reader", group("devs"))],
        )
    )
    assert a.authorize(res(ALICE, "get", "pods")) == (
        Decision.ALLOW,
        'RBAC: allowed by ClusterRoleBinding "r" of ClusterRole "pod-reader" to Group "devs"',
    )
    assert a.authorize(res(BOB, "get", "pods"))[0] is Decision.NO_OPINION


def test_first_applying_subject_is_described() -> None:
    binding = crb("r", "pod-reader", user("carol"), group("devs"), user("alice"))
    a = authz(snapshot(cluster_roles=[POD_READER], cluster_role_bindings=[binding]))
    assert a.authorize(res(ALICE, "get", "pods"))[1].endswith('to Group "devs"')


def test_service_account_subjects() -> None:
    snap = snapshot(
        cluster_roles=[POD_READER],
        cluster_role_bindings=[
            crb("no-ns", "pod-reader", sa("builder")),  # matches nobody: no namespace
        ],
        role_bindings=[
            rb("team", "local", "ClusterRole", "pod-reader", sa("builder")),
            rb("other", "cross", "ClusterRole", "pod-reader", sa("builder", "team")),
            rb("other", "wrong", "ClusterRole", "pod-reader", sa("builder")),
        ],
    )
    a = authz(snap)
    assert a.authorize(res(SA, "get", "pods"))[0] is Decision.NO_OPINION
    assert a.authorize(res(SA, "get", "pods", namespace="team")) == (
        Decision.ALLOW,
        'RBAC: allowed by RoleBinding "local/team" of ClusterRole "pod-reader"'
        ' to ServiceAccount "builder/team"',
    )
    assert a.authorize(res(SA, "get", "pods", namespace="other")) == (
        Decision.ALLOW,
        'RBAC: allowed by RoleBinding "cross/other" of ClusterRole "pod-reader"'
        ' to ServiceAccount "builder/team"',
    )
    other_sa = UserInfo("system:serviceaccount:other:builder")
    assert a.authorize(res(other_sa, "get", "pods", namespace="other"))[1].startswith(
        'RBAC: allowed by RoleBinding "wrong/other"'
    )
    crb_sa = snapshot(
        cluster_roles=[POD_READER],
        cluster_role_bindings=[crb("sa", "pod-reader", sa("builder", "team"))],
    )
    assert authz(crb_sa).authorize(res(SA, "list", "pods")) == (
        Decision.ALLOW,
        'RBAC: allowed by ClusterRoleBinding "sa" of ClusterRole "pod-reader"'
        ' to ServiceAccount "builder/team"',
    )


def test_role_binding_to_cluster_role_is_scoped_to_its_namespace() -> None:
    a = authz(
        snapshot(
            cluster_roles=[POD_READER],
            role_bindings=[rb("dev", "read", "ClusterRole", "pod-reader", user("alice"))],
        )
    )
    assert a.authorize(res(ALICE, "get", "pods", namespace="dev")) == (
        Decision.ALLOW,
        'RBAC: allowed by RoleBinding "read/dev" of ClusterRole "pod-reader" to User "alice"',
    )
    assert a.authorize(res(ALICE, "get", "pods", namespace="prod"))[0] is Decision.NO_OPINION
    assert a.authorize(res(ALICE, "list", "pods"))[0] is Decision.NO_OPINION  # cluster scope


def test_role_binding_to_role() -> None:
    snap = snapshot(
        roles=[role("dev", "cm", rule(["*"], apiGroups=[""], resources=["configmaps"]))],
        role_bindings=[rb("dev", "cm", "Role", "cm", group("devs"))],
    )
    a = authz(snap)
    assert a.authorize(res(ALICE, "delete", "configmaps", namespace="dev")) == (
        Decision.ALLOW,
        'RBAC: allowed by RoleBinding "cm/dev" of Role "cm" to Group "devs"',
    )
    assert a.authorize(res(ALICE, "delete", "secrets", namespace="dev"))[0] is Decision.NO_OPINION


def test_resource_names() -> None:
    cr = cluster_role(
        "one-cm",
        rule(
            ["get", "list", "create", "update"],
            apiGroups=[""],
            resources=["configmaps"],
            resourceNames=["app"],
        ),
    )
    a = authz(
        snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "one-cm", user("alice"))])
    )
    assert (
        a.authorize(res(ALICE, "get", "configmaps", namespace="n", name="app"))[0] is Decision.ALLOW
    )
    assert (
        a.authorize(res(ALICE, "update", "configmaps", namespace="n", name="app"))[0]
        is Decision.ALLOW
    )
    assert (
        a.authorize(res(ALICE, "get", "configmaps", namespace="n", name="db"))[0]
        is Decision.NO_OPINION
    )
    # list and create carry no name: a resourceNames rule cannot allow them
    assert a.authorize(res(ALICE, "list", "configmaps", namespace="n"))[0] is Decision.NO_OPINION
    assert a.authorize(res(ALICE, "create", "configmaps", namespace="n"))[0] is Decision.NO_OPINION


@pytest.mark.parametrize(
    ("resources", "resource", "sub", "allowed"),
    [
        (["pods"], "pods", "", True),
        (["pods"], "pods", "status", False),
        (["pods/status"], "pods", "status", True),
        (["pods/status"], "pods", "", False),
        (["pods/status"], "pods", "log", False),
        (["*/scale"], "deployments", "scale", True),
        (["*/scale"], "deployments", "", False),
        (["*/scale"], "deployments", "status", False),
        (["*"], "deployments", "scale", True),
        (["*"], "anything", "", True),
    ],
)
def test_subresources(resources: list[str], resource: str, sub: str, allowed: bool) -> None:
    cr = cluster_role("r", rule(["get"], apiGroups=["*"], resources=resources))
    a = authz(snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "r", user("alice"))]))
    decision = a.authorize(res(ALICE, "get", resource, group="apps", sub=sub, namespace="n"))[0]
    assert (decision is Decision.ALLOW) is allowed


def test_api_groups() -> None:
    cr = cluster_role("r", rule(["get"], apiGroups=["apps"], resources=["deployments"]))
    a = authz(snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "r", user("alice"))]))
    assert a.authorize(res(ALICE, "get", "deployments", group="apps"))[0] is Decision.ALLOW
    assert a.authorize(res(ALICE, "get", "deployments", group=""))[0] is Decision.NO_OPINION
    assert (
        a.authorize(res(ALICE, "get", "deployments", group="extensions"))[0] is Decision.NO_OPINION
    )
    star = cluster_role("s", rule(["get"], apiGroups=["*"], resources=["deployments"]))
    a = authz(snapshot(cluster_roles=[star], cluster_role_bindings=[crb("b", "s", user("alice"))]))
    assert a.authorize(res(ALICE, "get", "deployments", group="extensions"))[0] is Decision.ALLOW


@pytest.mark.parametrize(
    ("urls", "path", "allowed"),
    [
        (["/healthz"], "/healthz", True),
        (["/healthz"], "/healthz/ready", False),
        (["/apis/*"], "/apis/apps/v1", True),
        (["/apis/*"], "/apis", False),
        (["/apis*"], "/apis", True),
        (["*"], "/metrics", True),
        (["/version"], "/version/", False),
    ],
)
def test_non_resource_urls(urls: list[str], path: str, allowed: bool) -> None:
    cr = cluster_role("r", rule(["get"], nonResourceURLs=urls))
    a = authz(snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "r", group("devs"))]))
    assert (a.authorize(url(ALICE, path))[0] is Decision.ALLOW) is allowed
    assert a.authorize(url(ALICE, path, verb="post"))[0] is Decision.NO_OPINION


def test_resource_rule_does_not_allow_urls_and_vice_versa() -> None:
    cr = cluster_role("r", rule(["*"], apiGroups=["*"], resources=["*"]))
    a = authz(snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "r", user("alice"))]))
    assert a.authorize(url(ALICE, "/healthz"))[0] is Decision.NO_OPINION
    cr = cluster_role("r", rule(["*"], nonResourceURLs=["*"]))
    a = authz(snapshot(cluster_roles=[cr], cluster_role_bindings=[crb("b", "r", user("alice"))]))
    assert a.authorize(res(ALICE, "get", "pods"))[0] is Decision.NO_OPINION


def test_missing_roles_give_no_opinion_with_errors() -> None:
    snap = snapshot(
        role_bindings=[
            rb("dev", "a", "Role", "gone", user("alice")),
            rb("dev", "b", "Foo", "x", user("alice")),
        ],
        cluster_role_bindings=[crb("c", "missing", group("devs"))],
    )
    a = authz(snap)
    assert a.authorize(res(ALICE, "get", "pods")) == (
        Decision.NO_OPINION,
        'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    )
    assert a.authorize(res(ALICE, "get", "pods", namespace="dev")) == (
        Decision.NO_OPINION,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found,'
        ' role.rbac.authorization.k8s.io "gone" not found,'
        ' unsupported role reference kind: "Foo"]',
    )
    assert a.authorize(res(BOB, "get", "pods", namespace="dev")) == (Decision.NO_OPINION, "")


def test_allow_wins_over_errors() -> None:
    snap = snapshot(
        cluster_roles=[POD_READER],
        cluster_role_bindings=[
            crb("a", "missing", user("alice")),
            crb("b", "pod-reader", user("alice")),
        ],
    )
    assert authz(snap).authorize(res(ALICE, "get", "pods"))[0] is Decision.ALLOW


def test_new_snapshot_applies_and_cache_is_bounded() -> None:
    current = [snapshot()]
    a = RBACAuthorizer(lambda: current[0], cache_size=2)
    assert a.authorize(res(ALICE, "get", "pods"))[0] is Decision.NO_OPINION
    current[0] = snapshot(
        cluster_roles=[POD_READER], cluster_role_bindings=[crb("r", "pod-reader", user("alice"))]
    )
    assert a.authorize(res(ALICE, "get", "pods"))[0] is Decision.ALLOW
    for i in range(5):
        a.authorize(res(UserInfo(f"u{i}"), "get", "pods", namespace=f"ns{i}"))
    assert len(a._cache) == 2
    assert a.authorize(res(ALICE, "get", "pods"))[0] is Decision.ALLOW


def test_thousand_role_bindings_for_others() -> None:
    others = [
        rb("big", f"rb-{i:04d}", "ClusterRole", "pod-reader", user(f"user-{i}"), group(f"g-{i}"))
        for i in range(1000)
    ]
    mine = rb("big", "rb-0500-alice", "ClusterRole", "edit", user("alice"))
    edit = cluster_role("edit", rule(["create"], apiGroups=[""], resources=["configmaps"]))
    snap = snapshot(cluster_roles=[POD_READER, edit], role_bindings=[*others, mine])
    a = authz(snap)
    assert a.authorize(res(ALICE, "create", "configmaps", namespace="big")) == (
        Decision.ALLOW,
        'RBAC: allowed by RoleBinding "rb-0500-alice/big" of ClusterRole "edit" to User "alice"',
    )
    assert a.authorize(res(ALICE, "get", "pods", namespace="big"))[0] is Decision.NO_OPINION
    assert a.authorize(res(UserInfo("user-999"), "get", "pods", namespace="big"))[1] == (
        'RBAC: allowed by RoleBinding "rb-0999/big" of ClusterRole "pod-reader" to User "user-999"'
    )
    assert len(snap.sources(ALICE, "big")) == 1


def test_allowed_subjects() -> None:
    snap = snapshot(
        cluster_roles=[POD_READER],
        cluster_role_bindings=[crb("r", "pod-reader", user("alice"), group("devs"))],
        role_bindings=[rb("dev", "x", "ClusterRole", "pod-reader", sa("builder"))],
    )
    subjects, errors = allowed_subjects(snap, res(BOB, "get", "pods", namespace="dev"))
    assert subjects == [
        {"kind": "Group", "apiGroup": G, "name": "system:masters"},
        user("alice"),
        group("devs"),
        sa("builder"),
    ]
    assert errors == []


# --------------------------------------------------------------------------- rules review


def test_rules_for_and_review_status() -> None:
    snap = snapshot(
        cluster_roles=[
            POD_READER,
            cluster_role("health", rule(["get"], nonResourceURLs=["/healthz", "/readyz"])),
        ],
        roles=[
            role(
                "dev",
                "one",
                rule(["get"], apiGroups=[""], resources=["secrets"], resourceNames=["s"]),
            )
        ],
        cluster_role_bindings=[
            crb("a", "pod-reader", user("alice")),
            crb("b", "health", group("system:authenticated")),
            crb("c", "missing", user("alice")),
        ],
        role_bindings=[rb("dev", "one", "Role", "one", user("alice"))],
    )
    rules, errors = rules_for(snap, ALICE, "dev")
    assert rules == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]},
    ]
    assert errors == ['clusterrole.rbac.authorization.k8s.io "missing" not found']
    assert rules_review_status(snap, ALICE, "dev") == {
        "resourceRules": [
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]},
        ],
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz"]}],
        "incomplete": False,
        "evaluationError": 'clusterrole.rbac.authorization.k8s.io "missing" not found',
    }
    assert rules_review_status(snap, UserInfo("nobody"), "dev") == {
        "resourceRules": [],
        "nonResourceRules": [],
        "incomplete": False,
    }
    assert authz(snap).rules_review_status(ALICE, "dev") == rules_review_status(snap, ALICE, "dev")


# --------------------------------------------------------------------------- escalation


def test_breakdown_and_covers() -> None:
    servant = rule(["get", "list"], apiGroups=["", "apps"], resources=["pods"], resourceNames=["a"])
    assert len(breakdown_rule(servant)) == 4
    owner = [rule(["*"], apiGroups=[""], resources=["pods"])]
    ok, missing = covers(owner, [servant])
    assert not ok
    assert missing == [
        {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"], "resourceNames": ["a"]},
        {"verbs": ["list"], "apiGroups": ["apps"], "resources": ["pods"], "resourceNames": ["a"]},
    ]
    assert covers(FULL_AUTHORITY, [servant, rule(["get"], nonResourceURLs=["/x"])]) == (True, [])
    # subresources via */sub, URLs via trailing *, names only by a nameless or superset owner
    assert covers(
        [rule(["get"], apiGroups=["*"], resources=["*/scale"])],
        [rule(["get"], apiGroups=["apps"], resources=["deployments/scale"])],
    )[0]
    assert covers(
        [rule(["get"], nonResourceURLs=["/apis/*"])],
        [rule(["get"], nonResourceURLs=["/apis/apps"])],
    )[0]
    named = [rule(["get"], apiGroups=[""], resources=["pods"], resourceNames=["a", "b"])]
    assert covers(named, [rule(["get"], apiGroups=[""], resources=["pods"], resourceNames=["b"])])[
        0
    ]
    assert not covers(named, [rule(["get"], apiGroups=[""], resources=["pods"])])[0]


def test_compact_string() -> None:
    assert compact_string(rule(["get", "list"], apiGroups=[""], resources=["secrets"])) == (
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}'
    )
    assert compact_string(rule(["get"], nonResourceURLs=["/x"])) == (
        '{NonResourceURLs:["/x"], Verbs:["get"]}'
    )


def test_confirm_no_escalation_message() -> None:
    snap = snapshot(
        cluster_roles=[POD_READER],
        cluster_role_bindings=[
            crb("r", "pod-reader", user("alice")),
            crb("m", "gone", user("alice")),
        ],
    )
    granted = [
        rule(["get", "list"], apiGroups=[""], resources=["pods", "secrets"]),
        rule(["get"], apiGroups=[""], resources=["configmaps"], resourceNames=["cm"]),
        rule(["get"], nonResourceURLs=["/metrics"]),
    ]
    assert confirm_no_escalation(snap, ALICE, "dev", granted) == (
        'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC'
        " permissions not currently held:\n"
        '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["cm"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}\n'
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}'
        '; resolution errors: [clusterroles.rbac.authorization.k8s.io "gone" not found]'
    )
    assert confirm_no_escalation(snap, ALICE, "dev", []) is None
    assert (
        confirm_no_escalation(
            snap, ALICE, "dev", [rule(["get"], apiGroups=[""], resources=["pods"])]
        )
        is None
    )
    assert confirm_no_escalation(snapshot(), UserInfo("x"), "", FULL_AUTHORITY) == (
        'user "x" (groups=[]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n'
        '{NonResourceURLs:["*"], Verbs:["*"]}'
    )


def test_escalation_helpers() -> None:
    assert escalation_allowed(UserInfo("root", groups=("system:masters",)))
    assert not escalation_allowed(ALICE)
    assert escalate_attributes(ALICE, "roles", "r", "dev") == Attributes(
        user=ALICE,
        verb="escalate",
        resource_request=True,
        namespace="dev",
        api_group=G,
        api_version="*",
        resource="roles",
        name="r",
    )
    assert escalate_attributes(ALICE, "pods", "p", "dev") is None
    ref = {"apiGroup": G, "kind": "ClusterRole", "name": "view"}
    assert bind_attributes(ALICE, ref, "dev") == Attributes(
        user=ALICE,
        verb="bind",
        resource_request=True,
        namespace="dev",
        api_group=G,
        api_version="*",
        resource="clusterroles",
        name="view",
    )
    assert bind_attributes(ALICE, {**ref, "kind": "Foo"}, "dev") is None
    # a RoleBinding granting bind on clusterroles/view lets alice bind it in "dev" only
    binder = cluster_role(
        "binder", rule(["bind"], apiGroups=[G], resources=["clusterroles"], resourceNames=["view"])
    )
    snap = snapshot(
        cluster_roles=[binder],
        role_bindings=[rb("dev", "b", "ClusterRole", "binder", user("alice"))],
    )
    attrs = bind_attributes(ALICE, ref, "dev")
    assert attrs is not None and authz(snap).authorize(attrs)[0] is Decision.ALLOW
    attrs = bind_attributes(ALICE, ref, "")
    assert attrs is not None and authz(snap).authorize(attrs)[0] is Decision.NO_OPINION


def test_role_ref_rules() -> None:
    snap = snapshot(roles=[role("dev", "r", rule(["get"], apiGroups=[""], resources=["pods"]))])
    rules, err = role_ref_rules(snap, {"kind": "Role", "name": "r"}, "dev")
    assert rules == [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
    assert err is None
    rules, err = role_ref_rules(snap, {"kind": "Role", "name": "r"}, "prod")
    assert rules == [] and err is not None
    assert (err.resource, err.name) == ("roles", "r")
    assert err.message(registry=True) == 'roles.rbac.authorization.k8s.io "r" not found'
    assert err.message() == 'role.rbac.authorization.k8s.io "r" not found'


def test_aggregation_and_gc_fields() -> None:
    assert has_aggregation_rule({"aggregationRule": {"clusterRoleSelectors": [{}]}})
    assert not has_aggregation_rule({"aggregationRule": {"clusterRoleSelectors": []}})
    assert not has_aggregation_rule({})
    old = {"metadata": {"name": "r", "resourceVersion": "5"}, "rules": [rule(["get"])]}
    gc = {
        "metadata": {"name": "r", "resourceVersion": "5", "finalizers": ["x/y"]},
        "rules": [rule(["get"])],
    }
    assert only_gc_fields_changed(gc, old)
    assert not only_gc_fields_changed({**gc, "rules": [rule(["*"])]}, old)


# --------------------------------------------------------------------------- validation


def test_validate_policy_rule() -> None:
    assert (
        validate_policy_rule(
            rule(["frobnicate"], apiGroups=[""], resources=["pods"]), cluster=False, path="rules[0]"
        )
        == []
    )
    assert validate_policy_rule({}, cluster=True, path="rules[0]") == [
        (
            "FieldValueRequired",
            "rules[0].verbs",
            "Required value: verbs must contain at least one value",
        ),
        (
            "FieldValueRequired",
            "rules[0].apiGroups",
            "Required value: resource rules must supply at least one api group",
        ),
        (
            "FieldValueRequired",
            "rules[0].resources",
            "Required value: resource rules must supply at least one resource",
        ),
    ]
    mixed = rule(["get"], resources=["pods"], nonResourceURLs=["/healthz"])
    assert validate_policy_rule(mixed, cluster=False, path="rules[1]") == [
        (
            "FieldValueInvalid",
            "rules[1].nonResourceURLs",
            'Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
        ),
        (
            "FieldValueInvalid",
            "rules[1].nonResourceURLs",
            'Invalid value: ["/healthz"]: rules cannot apply to both regular resources and'
            " non-resource URLs",
        ),
    ]
    assert validate_policy_rule(rule(["get"], nonResourceURLs=["/x"]), cluster=True, path="r") == []


def test_validate_role() -> None:
    bad = role("dev", "r", rule(["get"], nonResourceURLs=["/x"]))
    assert [e[1] for e in validate_role(bad, cluster=False)] == ["rules[0].nonResourceURLs"]
    assert validate_role(bad, cluster=True) == []
    agg = {"rules": [], "aggregationRule": {"clusterRoleSelectors": []}}
    assert validate_role(agg, cluster=True) == [
        (
            "FieldValueRequired",
            "aggregationRule.clusterRoleSelectors",
            "Required value: at least one clusterRoleSelector required if aggregationRule is"
            " non-nil",
        ),
    ]


def test_validate_subjects_and_role_ref() -> None:
    assert validate_subject(sa("builder"), cluster=False, path="subjects[0]") == []
    assert validate_subject(sa("builder"), cluster=True, path="subjects[0]") == [
        ("FieldValueRequired", "subjects[0].namespace", "Required value"),
    ]
    assert validate_subject({**sa("b", "n"), "apiGroup": G}, cluster=True, path="s") == [
        (
            "FieldValueNotSupported",
            "s.apiGroup",
            'Unsupported value: "rbac.authorization.k8s.io": supported values: ""',
        ),
    ]
    assert validate_subject({"kind": "User", "name": "a"}, cluster=True, path="s") == [
        (
            "FieldValueNotSupported",
            "s.apiGroup",
            'Unsupported value: "": supported values: "rbac.authorization.k8s.io"',
        ),
    ]
    assert validate_subject({"kind": "Robot", "name": ""}, cluster=False, path="s") == [
        ("FieldValueRequired", "s.name", "Required value"),
        (
            "FieldValueNotSupported",
            "s.kind",
            'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        ),
    ]
    binding = crb("x", "", user("alice"))
    binding["roleRef"]["kind"] = "Role"
    assert validate_binding(binding, cluster=True) == [
        (
            "FieldValueNotSupported",
            "roleRef.kind",
            'Unsupported value: "Role": supported values: "ClusterRole"',
        ),
        ("FieldValueRequired", "roleRef.name", "Required value"),
    ]
    assert validate_binding(rb("n", "x", "Role", "a/b", group("g")), cluster=False) == [
        ("FieldValueInvalid", "roleRef.name", "Invalid value: \"a/b\": may not contain '/'"),
    ]
    old = {"apiGroup": G, "kind": "ClusterRole", "name": "view"}
    assert validate_role_ref_update(old, dict(old)) == []
    assert validate_role_ref_update({**old, "name": "edit"}, old) == [
        (
            "FieldValueInvalid",
            "roleRef",
            'Invalid value: {"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole",'
            '"Name":"edit"}: cannot change roleRef',
        ),
    ]
