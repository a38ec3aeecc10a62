"""Escalation prevention: pkg/registry/rbac/escalation_check.go, rule.go `ConfirmNoEscalation`,
and what the policybased storages of roles and bindings ask before it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from strom.auth.authz import Attributes
from strom.auth.rbac.authorizer import rules_for
from strom.auth.rbac.compare import compact_rules, compact_string, covers
from strom.auth.rbac.rules import ROLE_RESOURCES
from strom.auth.rbac.snapshot import PolicySnapshot, RoleRefError
from strom.gofmt import aggregate_errors, go_quote, go_quote_list
from strom.registry.rbac import RBAC_GROUP, mapping_of, string_of
from strom.user import MASTERS_GROUP, UserInfo

# clusterrole/policybased: setting or changing an aggregationRule needs `*` on everything.
FULL_AUTHORITY: tuple[Mapping[str, Any], ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)
AGGREGATION_RULE_MESSAGE = "must have cluster-admin privileges to use the aggregationRule"


def confirm_no_escalation(
    snapshot: PolicySnapshot, user: UserInfo, namespace: str, rules: Iterable[Mapping[str, Any]]
) -> str | None:
    """ConfirmNoEscalation: None when the user already holds every rule granted, else kube's
    message (the caller wraps it in `StatusError.forbidden(resource, name, message)`).

    `namespace` is the request's: the Role's or RoleBinding's namespace, "" for cluster-scoped
    objects (then only cluster role bindings count). Before calling, kube lets through:
    `escalation_allowed(user)` (system:masters); for roles and cluster roles a user allowed
    `escalate_attributes(...)`; for bindings a user allowed `bind_attributes(...)` (the caller
    asks the authorizer). Bindings check the rules of `role_ref_rules(...)` (a missing role is
    a 404, not a 403); a cluster role with an aggregationRule also checks FULL_AUTHORITY and
    answers AGGREGATION_RULE_MESSAGE; an update that `only_gc_fields_changed` skips the check.
    """
    owner, errors = rules_for(snapshot, user, namespace, registry=True)
    ok, missing = covers(owner, rules)
    if ok:
        return None
    described = sorted({compact_string(rule) for rule in compact_rules(missing)})
    message = (
        f"user {go_quote(user.username)} (groups={go_quote_list(user.groups)}) is attempting to"
        " grant RBAC permissions not currently held:\n" + "\n".join(described)
    )
    if errors:
        # fmt %v of a []error holding the one aggregate_errors RulesFor returned
        message += f"; resolution errors: [{aggregate_errors(errors)}]"
    return message


def escalation_allowed(user: UserInfo) -> bool:
    """EscalationAllowed: system:masters (the loopback identity) may always grant anything."""
    return MASTERS_GROUP in user.groups


def escalate_attributes(
    user: UserInfo, resource: str, name: str, namespace: str
) -> Attributes | None:
    """RoleEscalationAuthorized's question (`escalate` on the role being written); None for
    resources other than roles and clusterroles, which kube never asks about."""
    if resource not in ("roles", "clusterroles"):
        return None
    return Attributes(
        user=user,
        verb="escalate",
        resource_request=True,
        namespace=namespace,
        api_group=RBAC_GROUP,
        api_version="*",
        resource=resource,
        name=name,
    )


def bind_attributes(
    user: UserInfo, role_ref: Mapping[str, Any], binding_namespace: str
) -> Attributes | None:
    """BindingAuthorized's question (`bind` on the referenced role, in the binding's namespace,
    "" for a ClusterRoleBinding); None for a roleRef kind kube refuses outright."""
    resource = ROLE_RESOURCES.get(string_of(role_ref.get("kind")))
    if resource is None:
        return None
    return Attributes(
        user=user,
        verb="bind",
        resource_request=True,
        namespace=binding_namespace,
        api_group=string_of(role_ref.get("apiGroup")),
        api_version="*",
        resource=resource,
        name=string_of(role_ref.get("name")),
    )


def role_ref_rules(
    snapshot: PolicySnapshot, role_ref: Mapping[str, Any], binding_namespace: str
) -> tuple[list[dict[str, Any]], RoleRefError | None]:
    """GetRoleReferenceRules for a binding being written: the role's rules, or why not.

    kube's binding storages return a missing role as the registry's 404 NotFound
    (`err.resource`, `err.name`, `err.message(registry=True)`), before any escalation check.
    """
    kind, name = string_of(role_ref.get("kind")), string_of(role_ref.get("name"))
    found = snapshot.role_rules(kind, name, binding_namespace)
    if found is None:
        return [], RoleRefError(kind, name)
    return [rule.as_dict() for rule in found], None


def has_aggregation_rule(cluster_role: Mapping[str, Any]) -> bool:
    """clusterrole/policybased hasAggregationRule: an aggregationRule with selectors."""
    selectors = mapping_of(cluster_role.get("aggregationRule")).get("clusterRoleSelectors")
    return isinstance(selectors, list) and len(selectors) > 0


def only_gc_fields_changed(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """IsOnlyMutatingGCFields: the update touches only ownerReferences, finalizers, selfLink
    (what the garbage collector writes), so kube skips the escalation check."""
    from strom.registry.validation.meta import semantic_equal

    copied = dict(new)
    meta = dict(mapping_of(new.get("metadata")))
    old_meta = mapping_of(old.get("metadata"))
    for field in ("ownerReferences", "finalizers", "selfLink"):
        meta.pop(field, None)
        if field in old_meta:
            meta[field] = old_meta[field]
    copied["metadata"] = meta
    return semantic_equal(copied, old)
