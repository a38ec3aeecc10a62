"""pkg/apis/rbac/validation/validation.go: `ValidatePolicyRule`, roles, and the roleRef and
subject rules of bindings.
The authorizer's packages (`strom.auth.rbac`) re-export these checks; they live here because
validation is the registry's job and the registry sits below auth."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from strom.errors import Cause
from strom.registry.rbac import RBAC_GROUP, mapping_of, rule_fields, string_of
from strom.registry.validation import fielderrors as fe
from strom.registry.validation.meta import (
    name_is_dns_subdomain,
    name_is_path_segment,
    validate_label_selector,
)

FieldError = tuple[str, str, str]
"""(reason, field path, message) of one field error, e.g. ("FieldValueRequired",
"rules[0].verbs", "Required value: verbs must contain at least one value")."""


def _tuples(causes: Iterable[Cause]) -> list[FieldError]:
    return [(c.reason, c.field, c.message) for c in causes]


def validate_policy_rule(rule: Mapping[str, Any], *, cluster: bool, path: str) -> list[FieldError]:
    """ValidatePolicyRule (`cluster` False for a Role's rules). Unknown verbs are fine."""

    verbs, groups, resources, names, urls = rule_fields(rule)
    causes: list[Cause] = []
    if not verbs:
        causes.append(fe.required(f"{path}.verbs", "verbs must contain at least one value"))
    if urls:
        url_value = list(urls)
        if not cluster:
            causes.append(
                fe.invalid(
                    f"{path}.nonResourceURLs",
                    url_value,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if groups or resources or names:
            causes.append(
                fe.invalid(
                    f"{path}.nonResourceURLs",
                    url_value,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return _tuples(causes)
    if not groups:
        causes.append(
            fe.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
        )
    if not resources:
        causes.append(
            fe.required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    return _tuples(causes)


def validate_role(role: Mapping[str, Any], *, cluster: bool) -> list[FieldError]:
    """ValidateRole / ValidateClusterRole beyond ObjectMeta: the rules and aggregationRule."""

    errors: list[FieldError] = []
    rules = role.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        errors.extend(validate_policy_rule(mapping_of(rule), cluster=cluster, path=f"rules[{i}]"))
    aggregation = role.get("aggregationRule")
    if cluster and isinstance(aggregation, Mapping):
        selectors = aggregation.get("clusterRoleSelectors")
        selectors = selectors if isinstance(selectors, list) else []
        if not selectors:
            errors.extend(
                _tuples(
                    [
                        fe.required(
                            "aggregationRule.clusterRoleSelectors",
                            "at least one clusterRoleSelector required if aggregationRule is"
                            " non-nil",
                        )
                    ]
                )
            )
        for i, selector in enumerate(selectors):
            path = f"aggregationRule.clusterRoleSelectors[{i}]"
            errors.extend(_tuples(validate_label_selector(selector, path)))
    return errors


def validate_role_ref(role_ref: Mapping[str, Any], *, cluster: bool) -> list[FieldError]:
    """The roleRef part of ValidateRoleBinding / ValidateClusterRoleBinding (defaulted)."""

    causes: list[Cause] = []
    group = role_ref.get("apiGroup")
    if group != RBAC_GROUP:
        causes.append(fe.not_supported("roleRef.apiGroup", string_of(group), [RBAC_GROUP]))
    kind = string_of(role_ref.get("kind"))
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if kind not in kinds:
        causes.append(fe.not_supported("roleRef.kind", kind, kinds))
    name = string_of(role_ref.get("name"))
    if not name:
        causes.append(fe.required("roleRef.name"))
    else:
        causes.extend(
            fe.invalid("roleRef.name", name, m) for m in name_is_path_segment(name, False)
        )
    return _tuples(causes)


def validate_role_ref_update(
    new_ref: Mapping[str, Any], old_ref: Mapping[str, Any]
) -> list[FieldError]:
    """A binding's roleRef is immutable (the value printed is the internal Go struct)."""

    fields = ("apiGroup", "kind", "name")
    if all(string_of(new_ref.get(f)) == string_of(old_ref.get(f)) for f in fields):
        return []
    value = {
        "APIGroup": string_of(new_ref.get("apiGroup")),
        "Kind": string_of(new_ref.get("kind")),
        "Name": string_of(new_ref.get("name")),
    }
    return _tuples([fe.invalid("roleRef", value, "cannot change roleRef")])


def validate_subject(subject: Mapping[str, Any], *, cluster: bool, path: str) -> list[FieldError]:
    """ValidateRoleBindingSubject (defaulted: User/Group subjects carry the RBAC apiGroup).

    A ServiceAccount needs a namespace only in a ClusterRoleBinding (a RoleBinding's own
    namespace stands in) and must have an empty apiGroup.
    """

    causes: list[Cause] = []
    name = string_of(subject.get("name"))
    group = string_of(subject.get("apiGroup"))
    kind = string_of(subject.get("kind"))
    if not name:
        causes.append(fe.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes.extend(
                fe.invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name, False)
            )
        if group:
            causes.append(fe.not_supported(f"{path}.apiGroup", group, [""]))
        if cluster and not string_of(subject.get("namespace")):
            causes.append(fe.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            causes.append(fe.not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        causes.append(fe.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return _tuples(causes)


def validate_binding(binding: Mapping[str, Any], *, cluster: bool) -> list[FieldError]:
    """ValidateRoleBinding / ValidateClusterRoleBinding beyond ObjectMeta."""
    errors = validate_role_ref(mapping_of(binding.get("roleRef")), cluster=cluster)
    subjects = binding.get("subjects")
    for i, subject in enumerate(subjects if isinstance(subjects, list) else []):
        errors.extend(validate_subject(mapping_of(subject), cluster=cluster, path=f"subjects[{i}]"))
    return errors
