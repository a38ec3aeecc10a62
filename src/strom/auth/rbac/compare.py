"""Comparing rule sets: component-helpers' policy_comparator.go (`Covers`, `BreakdownRule`) and
policy_compact.go, plus `CompactString` for the escalation message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from strom.auth.rbac.rules import ALL, CompiledRule, policy_dict
from strom.gofmt import go_quote_list
from strom.registry.rbac import RuleFields, rule_fields, strings_of


def breakdown_rule(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """BreakdownRule: one rule per (group, resource, verb[, name]) and per (url, verb)."""
    verbs, groups, resources, names, urls = rule_fields(rule)
    out: list[dict[str, Any]] = []
    for group in groups:
        for resource in resources:
            for verb in verbs:
                if names:
                    out.extend(
                        policy_dict([verb], [group], [resource], [name], []) for name in names
                    )
                else:
                    out.append(policy_dict([verb], [group], [resource], [], []))
    for url in urls:
        for verb in verbs:
            out.append(policy_dict([verb], [], [], [], [url]))
    return out


def _resource_covers_all(owned: frozenset[str], wanted: tuple[str, ...]) -> bool:
    if ALL in owned or owned.issuperset(wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: CompiledRule, sub: RuleFields) -> bool:
    """policy_comparator.go ruleCovers, for a broken-down servant rule."""
    verbs, groups, resources, names, urls = sub
    if not (owner.any_verb or owner.verb_set.issuperset(verbs)):
        return False
    if not (owner.any_group or owner.group_set.issuperset(groups)):
        return False
    if not _resource_covers_all(owner.resource_set, resources):
        return False
    if not all(any(_url_covers(o, p) for o in owner.urls) for p in urls):
        return False
    if not names:
        return not owner.name_set
    return not owner.name_set or owner.name_set.issuperset(names)


def covers(
    owner_rules: Iterable[Mapping[str, Any]], servant_rules: Iterable[Mapping[str, Any]]
) -> tuple[bool, list[dict[str, Any]]]:
    """Covers: whether the owner's rules hold every permission of the servant's, and the
    broken-down servant rules they do not."""
    owners = [CompiledRule.compile(rule) for rule in owner_rules]
    uncovered: list[dict[str, Any]] = []
    for servant in servant_rules:
        for sub in breakdown_rule(servant):
            fields = rule_fields(sub)
            if not any(_rule_covers(owner, fields) for owner in owners):
                uncovered.append(sub)
    return not uncovered, uncovered


def compact_rules(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """CompactRules: single-group, single-resource rules without names or URLs are merged,
    their verbs appended in order; every other rule is kept as is."""
    compacted: list[dict[str, Any]] = []
    simple: dict[tuple[str, str], dict[str, Any]] = {}
    for rule in rules:
        verbs, groups, resources, names, urls = rule_fields(rule)
        if names or urls or len(groups) != 1 or len(resources) != 1:
            compacted.append(policy_dict(verbs, groups, resources, names, urls))
            continue
        existing = simple.get((groups[0], resources[0]))
        if existing is None:
            simple[(groups[0], resources[0])] = policy_dict(verbs, groups, resources, [], [])
        else:
            existing["verbs"].extend(verbs)
    return compacted + list(simple.values())


def compact_string(rule: Mapping[str, Any]) -> str:
    """CompactString: `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`."""
    parts = []
    for label, field in (
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs"),
    ):
        values = strings_of(rule.get(field))
        if values:
            parts.append(f"{label}:{go_quote_list(values)}")
    return "{" + ", ".join(parts) + "}"
