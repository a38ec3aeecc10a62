"""RBAC's building blocks: a PolicyRule compiled for matching (evaluation_helpers.go); the JSON
accessors every part of the authorizer shares come from `strom.registry.rbac`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strom.auth.authz import Attributes
from strom.registry.rbac import (
    mapping_of,
    strings_of,
)

ALL = "*"  # VerbAll, APIGroupAll, ResourceAll, NonResourceAll
ROLE_RESOURCES = {"Role": "roles", "ClusterRole": "clusterroles"}


def policy_dict(
    verbs: Sequence[str],
    api_groups: Sequence[str],
    resources: Sequence[str],
    resource_names: Sequence[str],
    urls: Sequence[str],
) -> dict[str, Any]:
    """A v1 PolicyRule as JSON: Go field order, omitempty lists left out (verbs always)."""
    out: dict[str, Any] = {"verbs": list(verbs)}
    if api_groups:
        out["apiGroups"] = list(api_groups)
    if resources:
        out["resources"] = list(resources)
    if resource_names:
        out["resourceNames"] = list(resource_names)
    if urls:
        out["nonResourceURLs"] = list(urls)
    return out


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One PolicyRule, precompiled so matching is set lookups (evaluation_helpers.go)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]
    urls: tuple[str, ...]
    verb_set: frozenset[str]
    any_verb: bool
    group_set: frozenset[str]
    any_group: bool
    resource_set: frozenset[str]
    any_resource: bool
    sub_set: frozenset[str]  # subresources granted on every resource by "*/sub"
    name_set: frozenset[str]  # empty: every name
    url_set: frozenset[str]
    any_url: bool
    url_prefixes: tuple[str, ...]  # entries ending in "*", with the stars trimmed

    @classmethod
    def compile(cls, rule: Any) -> CompiledRule:
        raw = mapping_of(rule)
        verbs = strings_of(raw.get("verbs"))
        groups = strings_of(raw.get("apiGroups"))
        resources = strings_of(raw.get("resources"))
        names = strings_of(raw.get("resourceNames"))
        urls = strings_of(raw.get("nonResourceURLs"))
        return cls(
            verbs=verbs,
            api_groups=groups,
            resources=resources,
            resource_names=names,
            urls=urls,
            verb_set=frozenset(verbs),
            any_verb=ALL in verbs,
            group_set=frozenset(groups),
            any_group=ALL in groups,
            resource_set=frozenset(resources),
            any_resource=ALL in resources,
            sub_set=frozenset(r[2:] for r in resources if r.startswith("*/")),
            name_set=frozenset(names),
            url_set=frozenset(urls),
            any_url=ALL in urls,
            url_prefixes=tuple(u.rstrip("*") for u in urls if u.endswith("*")),
        )

    def allows(self, attrs: Attributes) -> bool:
        """rbac.go RuleAllows."""
        if not (self.any_verb or attrs.verb in self.verb_set):
            return False
        if attrs.resource_request:
            if not (self.any_group or attrs.api_group in self.group_set):
                return False
            if not self.any_resource:
                sub = attrs.subresource
                combined = f"{attrs.resource}/{sub}" if sub else attrs.resource
                if combined not in self.resource_set and not (sub and sub in self.sub_set):
                    return False
            return not self.name_set or attrs.name in self.name_set
        path = attrs.path
        if self.any_url or path in self.url_set:
            return True
        return any(path.startswith(prefix) for prefix in self.url_prefixes)

    def as_dict(self) -> dict[str, Any]:
        return policy_dict(
            self.verbs, self.api_groups, self.resources, self.resource_names, self.urls
        )
