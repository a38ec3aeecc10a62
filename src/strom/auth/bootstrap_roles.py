"""kube-apiserver's RBAC bootstrap policy (the part a control plane without nodes and
controllers uses), role for role as its testdata lists them, and kube's reconciliation.

The roles are those of `plugin/pkg/auth/authorizer/rbac/bootstrappolicy` that users and
operators meet: `cluster-admin`, the aggregated `admin`/`edit`/`view` with their
`system:aggregate-to-*` parts, `system:discovery`, `system:basic-user`,
`system:public-info-viewer`, `system:monitoring`, `system:auth-delegator`,
`system:service-account-issuer-discovery`, and their bindings. Roles for kubelets, kube-proxy,
the scheduler and the controllers (`system:node`, `system:controller:*`, ...) are not created:
strom runs none of those components.

Reconciliation is kube's start-up hook's: an object annotated
`rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone; otherwise missing
labels, annotations, rules (roles) and subjects (bindings) are added, and nothing a user added
is taken away. An aggregated role's rules are the aggregation controller's, not reconciled.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["BootstrapPolicy", "Reconciled", "load", "reconcile_binding", "reconcile_role"]

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC_GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _rule(groups: list[str], resources: list[str], verbs: list[str], **kw: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    rule.update(kw)
    return rule


def _urls(urls: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"verbs": verbs, "nonResourceURLs": urls}


def _cluster_role(
    name: str,
    rules: list[dict[str, Any]] | None,
    *,
    labels: dict[str, str] | None = None,
    aggregate: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**_LABELS, **(labels or {})},
            "annotations": {AUTOUPDATE: "true"},
        },
    }
    if aggregate:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [
                {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate}": "true"}}
            ]
        }
    if rules is not None:
        role["rules"] = rules
    return role


def _to(level: str) -> dict[str, str]:
    return {f"rbac.authorization.k8s.io/aggregate-to-{level}": "true"}


def _cluster_roles() -> list[dict[str, Any]]:
    core = [""]
    return [
        _cluster_role("admin", None, aggregate="admin"),
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _cluster_role("edit", None, labels=_to("admin"), aggregate="edit"),
        _cluster_role(
            "system:aggregate-to-admin",
            [
                _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
                _rule([RBAC_GROUP], ["rolebindings", "roles"], _ALL),
            ],
            labels=_to("admin"),
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            [
                _rule(
                    core,
                    [
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                        "secrets",
                        "services/proxy",
                    ],
                    _READ,
                ),
                _rule(core, ["serviceaccounts"], ["impersonate"]),
                _rule(
                    core,
                    ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
                    _WRITE,
                ),
                _rule(core, ["pods/eviction"], ["create"]),
                _rule(
                    core,
                    [
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                    _WRITE,
                ),
                _rule(core, ["serviceaccounts/token"], ["create"]),
                _rule(
                    ["apps"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                    _WRITE,
                ),
                _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
                _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
                _rule(
                    ["extensions"],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                    _WRITE,
                ),
                _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
                _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
                _rule(["coordination.k8s.io"], ["leases"], _ALL),
            ],
            labels=_to("edit"),
        ),
        _cluster_role(
            "system:aggregate-to-view",
            [
                _rule(
                    core,
                    [
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                    _READ,
                ),
                _rule(
                    core,
                    [
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                    _READ,
                ),
                _rule(core, ["namespaces"], _READ),
                _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
                _rule(
                    ["apps"],
                    [
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                    _READ,
                ),
                _rule(
                    ["autoscaling"],
                    ["horizontalpodautoscalers", "horizontalpodautoscalers/status"],
                    _READ,
                ),
                _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
                _rule(
                    ["extensions"],
                    [
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                    _READ,
                ),
                _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
                _rule(
                    ["networking.k8s.io"],
                    ["ingresses", "ingresses/status", "networkpolicies"],
                    _READ,
                ),
            ],
            labels=_to("view"),
        ),
        _cluster_role(
            "system:auth-delegator",
            [
                _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            ],
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role(
            "system:discovery",
            [
                _urls(
                    [
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
                    ["get"],
                )
            ],
        ),
        _cluster_role(
            "system:monitoring",
            [
                _urls(
                    [
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                    ["get"],
                )
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])],
        ),
        _cluster_role(
            "system:service-account-issuer-discovery",
            [_urls(["/.well-known/openid-configuration", "/openid/v1/jwks"], ["get"])],
        ),
        _cluster_role("view", None, labels=_to("edit"), aggregate="view"),
    ]


def _cluster_binding(name: str, role: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_LABELS), "annotations": {AUTOUPDATE: "true"}},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "Group", "apiGroup": RBAC_GROUP, "name": g} for g in groups],
    }


def _cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        _cluster_binding("cluster-admin", "cluster-admin", ["system:masters"]),
        _cluster_binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _cluster_binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _cluster_binding("system:monitoring", "system:monitoring", ["system:monitoring"]),
        _cluster_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            ["system:authenticated", "system:unauthenticated"],
        ),
        _cluster_binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            ["system:serviceaccounts"],
        ),
    ]


@dataclass(frozen=True, slots=True)
class BootstrapPolicy:
    cluster_roles: tuple[dict[str, Any], ...]
    cluster_role_bindings: tuple[dict[str, Any], ...]
    roles: tuple[dict[str, Any], ...] = ()
    role_bindings: tuple[dict[str, Any], ...] = ()


def load() -> BootstrapPolicy:
    """A fresh copy of the policy (callers may change what they get)."""
    return BootstrapPolicy(tuple(_cluster_roles()), tuple(_cluster_role_bindings()))


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What to write for a binding; `recreate` when its roleRef changed (roleRef is
    immutable, so kube deletes and creates the binding)."""

    obj: dict[str, Any]
    recreate: bool = False


def _skipped(existing: dict[str, Any]) -> bool:
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    return annotations.get(AUTOUPDATE) == "false"


def _merge_meta(out: dict[str, Any], expected: dict[str, Any]) -> bool:
    meta = out.setdefault("metadata", {})
    changed = False
    for key in ("labels", "annotations"):
        have = meta.get(key) or {}
        for k, v in (expected["metadata"].get(key) or {}).items():
            if k not in have:
                have[k] = v
                changed = True
        if have:
            meta[key] = have
    return changed


def _covered(rule: dict[str, Any], rules: list[dict[str, Any]]) -> bool:
    """Whether one existing rule grants all of `rule` (a per-rule approximation of kube's
    breakdown-based covers: enough to see which bootstrap rules are missing)."""
    fields = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    for have in rules:
        if all(
            ("*" in (have.get(f) or []) and f != "resourceNames")
            or set(rule.get(f) or []) <= set(have.get(f) or [])
            for f in fields
        ) and (bool(rule.get("resourceNames")) or not have.get("resourceNames")):
            return True
    return False


def reconcile_role(
    existing: dict[str, Any] | None, expected: dict[str, Any]
) -> dict[str, Any] | None:
    """The role to write (`expected` when missing), or None when nothing is to change."""
    if existing is None:
        return copy.deepcopy(expected)
    if _skipped(existing):
        return None
    out = copy.deepcopy(existing)
    changed = _merge_meta(out, expected)
    if expected.get("aggregationRule"):
        have = (out.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        for selector in expected["aggregationRule"]["clusterRoleSelectors"]:
            if selector not in have:
                have.append(copy.deepcopy(selector))
                changed = True
        out["aggregationRule"] = {"clusterRoleSelectors": have}
    else:
        rules = out.get("rules") or []
        for rule in expected.get("rules") or []:
            if not _covered(rule, rules):
                rules.append(copy.deepcopy(rule))
                changed = True
        out["rules"] = rules
    return out if changed else None


def reconcile_binding(
    existing: dict[str, Any] | None, expected: dict[str, Any]
) -> Reconciled | None:
    """The binding to write, or None when nothing is to change."""
    if existing is None:
        return Reconciled(copy.deepcopy(expected))
    if _skipped(existing):
        return None
    if existing.get("roleRef") != expected["roleRef"]:
        fresh = copy.deepcopy(expected)
        _merge_meta(fresh, existing)
        return Reconciled(fresh, recreate=True)
    out = copy.deepcopy(existing)
    changed = _merge_meta(out, expected)
    subjects = out.get("subjects") or []
    for subject in expected.get("subjects") or []:
        if subject not in subjects:
            subjects.append(copy.deepcopy(subject))
            changed = True
    out["subjects"] = subjects
    return Reconciled(out) if changed else None
