"""kube-apiserver's RBAC bootstrap policy, and the start-up reconciliation that keeps it.

A kube-apiserver creates the same default ClusterRoles, ClusterRoleBindings, Roles and
RoleBindings on every start (the `rbac/bootstrap-roles` post-start hook in
pkg/registry/rbac/rest/storage_rbac.go): the ones `kubectl get clusterroles` shows on any
cluster, and the ones clients (kubeadm, kubectl auth can-i, controllers) expect to find.
strom ships the same objects as data, `bootstrap_policy.json`, derived from kube's
generated testdata (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/: the
cluster-roles and controller-roles together, as kube's hook appends ControllerRoles() to
ClusterRoles(); likewise the bindings), so the policy is what a current kube-apiserver has.

The reconcile functions are pure: they take the stored object (or None) and the expected
one and say what to write, as kube's pkg/registry/rbac/reconciliation does with
RemoveExtraPermissions/RemoveExtraSubjects off (the start-up mode): only add, never remove,
and leave alone any object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"`.
Talking to the store (create, compare-and-swap update, delete-and-create) is the caller's.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = [
    "AUTOUPDATE_ANNOTATION",
    "BOOTSTRAPPING_LABEL",
    "BootstrapPolicy",
    "Reconciled",
    "covers",
    "load",
    "reconcile_binding",
    "reconcile_role",
    "uncovered_rules",
]

Obj = dict[str, Any]

AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING_LABEL = "kubernetes.io/bootstrapping"
RBAC_GROUP = "rbac.authorization.k8s.io"

_DATA_PACKAGE = "strom.auth"
_DATA_FILE = "bootstrap_policy.json"


@dataclass(frozen=True, slots=True)
class BootstrapPolicy:
    """The four lists kube's post-start hook reconciles, in kube's order.

    Each item is a full rbac.authorization.k8s.io/v1 object (apiVersion, kind, metadata
    with labels and annotations, then rules/aggregationRule or roleRef/subjects). The
    dicts are the caller's own copies: mutating them does not change later `load()`s.
    """

    cluster_roles: tuple[Obj, ...]
    cluster_role_bindings: tuple[Obj, ...]
    roles: tuple[Obj, ...]
    role_bindings: tuple[Obj, ...]


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What to write for a binding.

    `recreate` is False for a create (nothing stored) or an update (`obj` is the stored
    binding with subjects/labels/annotations added; it keeps the stored
    metadata.resourceVersion, so the write can be a compare-and-swap). It is True when the
    stored binding's roleRef differs from the expected one: roleRef is immutable, so kube
    deletes the stored binding and creates `obj` (the expected binding, without a
    resourceVersion) in its place; the caller must do the same.
    """

    obj: Obj
    recreate: bool = False


@functools.cache
def _policy_data() -> Mapping[str, list[Obj]]:
    """Parse the packaged JSON once; callers only ever see deep copies of it."""
    text = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    data: dict[str, list[Obj]] = json.loads(text)
    return data


def load() -> BootstrapPolicy:
    """Return kube's bootstrap RBAC objects (a fresh deep copy on every call)."""
    data = _policy_data()

    def items(key: str) -> tuple[Obj, ...]:
        return tuple(copy.deepcopy(obj) for obj in data[key])

    return BootstrapPolicy(
        cluster_roles=items("clusterRoles"),
        cluster_role_bindings=items("clusterRoleBindings"),
        roles=items("roles"),
        role_bindings=items("roleBindings"),
    )


# --- roles -------------------------------------------------------------------------------


def reconcile_role(existing: Obj | None, expected: Obj) -> Obj | None:
    """Return the (Cluster)Role to write so `existing` grants at least what `expected` does.

    - `existing` None: the expected role, to be created.
    - `existing` annotated autoupdate "false": None (kube skips reconcile-protected roles).
    - otherwise a copy of `existing` (its resourceVersion kept, for a compare-and-swap
      update) with expected labels and annotations added where their keys are missing
      (stored values win), the expected rules it does not cover appended, and the expected
      aggregationRule's clusterRoleSelectors added where missing (an aggregationRule the
      expected role lacks is removed, as kube does); None if that changes nothing.

    Rules of aggregated roles (admin, edit, view) are left to the aggregation controller:
    kube's reconcile has no special case for them, but their expected rules are empty
    (`rules: null` in kube's testdata), so nothing is ever added to what the controller
    aggregated, and the stored rules are kept as they are.
    """
    if existing is None:
        return copy.deepcopy(expected)
    if _protected(existing):
        return None

    result = copy.deepcopy(existing)
    changed = _merge_metadata(result, existing, expected)

    missing = uncovered_rules(existing.get("rules") or [], expected.get("rules") or [])
    if missing:
        result["rules"] = [*(result.get("rules") or []), *missing]
        changed = True

    expected_agg = expected.get("aggregationRule")
    existing_agg = existing.get("aggregationRule")
    if expected_agg is None and existing_agg is not None:
        # kube: "we didn't expect this to be an aggregated role at all"
        del result["aggregationRule"]
        changed = True
    else:
        missing_selectors = _missing_selectors(existing_agg, expected_agg)
        if missing_selectors:
            agg = result.get("aggregationRule") or {}
            agg["clusterRoleSelectors"] = [
                *(agg.get("clusterRoleSelectors") or []),
                *missing_selectors,
            ]
            result["aggregationRule"] = agg
            changed = True

    return result if changed else None


def covers(owner_rules: Iterable[Mapping[str, Any]], rules: Iterable[Mapping[str, Any]]) -> bool:
    """Whether `owner_rules` allow everything `rules` allow (kube's validation.Covers)."""
    return not uncovered_rules(owner_rules, rules)


def uncovered_rules(
    owner_rules: Iterable[Mapping[str, Any]], rules: Iterable[Mapping[str, Any]]
) -> list[Obj]:
    """The parts of `rules` that `owner_rules` do not allow, as kube computes them.

    As in kube's Covers, each rule is broken down into atomic rules (one API group,
    resource, verb and resource name; or one non-resource URL and verb) and each atom must
    be allowed by a single owner rule, so permissions spread over several owner rules
    still count as covered. The atoms left over are returned; kube appends exactly these
    to a role it reconciles, and so does `reconcile_role`.
    """
    owners = list(owner_rules)
    return [
        atom
        for rule in rules
        for atom in _breakdown(rule)
        if not any(_rule_covers(owner, atom) for owner in owners)
    ]


def _breakdown(rule: Mapping[str, Any]) -> list[Obj]:
    """kube's BreakdownRule: an equivalent list of single-verb/-resource/-name rules."""
    verbs = _strs(rule, "verbs")
    names = _strs(rule, "resourceNames")
    atoms: list[Obj] = []
    for group in _strs(rule, "apiGroups"):
        for resource in _strs(rule, "resources"):
            for verb in verbs:
                atom: Obj = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                if names:
                    atoms.extend({**atom, "resourceNames": [name]} for name in names)
                else:
                    atoms.append(atom)
    for url in _strs(rule, "nonResourceURLs"):
        for verb in verbs:
            atoms.append({"verbs": [verb], "nonResourceURLs": [url]})
    return atoms


def _rule_covers(owner: Mapping[str, Any], sub: Mapping[str, Any]) -> bool:
    """kube's ruleCovers: whether one owner rule allows an atomic rule."""
    owner_verbs = _strs(owner, "verbs")
    owner_groups = _strs(owner, "apiGroups")
    owner_names = _strs(owner, "resourceNames")
    sub_names = _strs(sub, "resourceNames")
    verbs_ok = "*" in owner_verbs or _has_all(owner_verbs, _strs(sub, "verbs"))
    groups_ok = "*" in owner_groups or _has_all(owner_groups, _strs(sub, "apiGroups"))
    resources_ok = _resources_cover(_strs(owner, "resources"), _strs(sub, "resources"))
    urls_ok = all(
        any(_url_covers(o, path) for o in _strs(owner, "nonResourceURLs"))
        for path in _strs(sub, "nonResourceURLs")
    )
    # an owner rule with resourceNames covers only atoms naming one of them
    names_ok = not owner_names or (bool(sub_names) and _has_all(owner_names, sub_names))
    return verbs_ok and groups_ok and resources_ok and names_ok and urls_ok


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    """kube's resourceCoversAll: `*`, exact names, or `*/sub` for any `x/sub`."""
    if "*" in owner or _has_all(owner, wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    """kube's nonResourceURLCovers: equal, or a trailing-`*` prefix match."""
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _missing_selectors(existing: Obj | None, expected: Obj | None) -> list[Obj]:
    """Expected clusterRoleSelectors with no semantically equal one in `existing`."""
    if expected is None:
        return []
    have = [_norm_selector(s) for s in (existing or {}).get("clusterRoleSelectors") or []]
    return [
        copy.deepcopy(sel)
        for sel in expected.get("clusterRoleSelectors") or []
        if _norm_selector(sel) not in have
    ]


def _norm_selector(selector: Mapping[str, Any]) -> Obj:
    """Drop empty fields: kube's equality.Semantic treats nil and empty alike."""
    return {k: v for k, v in selector.items() if v}


# --- bindings ----------------------------------------------------------------------------


def reconcile_binding(existing: Obj | None, expected: Obj) -> Reconciled | None:
    """Return what to write so `existing` binds at least the subjects `expected` does.

    - `existing` None: `Reconciled(expected, recreate=False)`, to be created.
    - `existing` annotated autoupdate "false": None, whatever else differs.
    - roleRef differs: `Reconciled(expected, recreate=True)`; delete, then create.
    - otherwise a copy of `existing` (resourceVersion kept) with the missing expected
      subjects appended and expected labels/annotations added where their keys are
      missing; None if nothing changes.

    Subjects are compared as kube does, by kind, apiGroup, name and namespace, after kube's
    defaulting (User and Group subjects get apiGroup rbac.authorization.k8s.io).
    """
    if existing is None:
        return Reconciled(copy.deepcopy(expected))
    if _protected(existing):
        return None
    if _role_ref(existing) != _role_ref(expected):
        return Reconciled(copy.deepcopy(expected), recreate=True)

    result = copy.deepcopy(existing)
    changed = _merge_metadata(result, existing, expected)

    have = {_subject_key(s) for s in existing.get("subjects") or []}
    missing = [
        copy.deepcopy(s) for s in expected.get("subjects") or [] if _subject_key(s) not in have
    ]
    if missing:
        result["subjects"] = [*(result.get("subjects") or []), *missing]
        changed = True

    return Reconciled(result) if changed else None


def _role_ref(binding: Mapping[str, Any]) -> tuple[str, str, str]:
    ref = binding.get("roleRef") or {}
    return (ref.get("apiGroup") or "", ref.get("kind") or "", ref.get("name") or "")


def _subject_key(subject: Mapping[str, Any]) -> tuple[str, str, str, str]:
    kind = subject.get("kind") or ""
    group = subject.get("apiGroup") or ""
    if not group and kind in ("User", "Group"):
        group = RBAC_GROUP  # kube's SetDefaults_Subject
    return (kind, group, subject.get("name") or "", subject.get("namespace") or "")


# --- shared ------------------------------------------------------------------------------


def _protected(obj: Mapping[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(AUTOUPDATE_ANNOTATION) == "false")


def _merge_metadata(result: Obj, existing: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    """Add expected labels/annotations whose keys `existing` lacks; True if any were."""
    changed = False
    result_md = result.setdefault("metadata", {})
    existing_md = existing.get("metadata") or {}
    expected_md = expected.get("metadata") or {}
    for key in ("annotations", "labels"):
        want = expected_md.get(key)
        have = existing_md.get(key)
        if want is None and have is None:
            continue
        merged = {**(want or {}), **(have or {})}
        if merged != (have or {}) or have is None:
            result_md[key] = merged
            changed = True
    return changed


def _strs(rule: Mapping[str, Any], key: str) -> list[str]:
    value = rule.get(key)
    return [str(v) for v in value] if value else []


def _has_all(have: list[str], wanted: list[str]) -> bool:
    return set(wanted).issubset(have)
