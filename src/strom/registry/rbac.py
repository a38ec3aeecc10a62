"""rbac.authorization.k8s.io/v1 objects as stored JSON: the group and typed accessors for a
PolicyRule's fields. Validation (here in the registry) and the authorizer (`strom.auth.rbac`,
a layer up) read rules the same way: anything not a string list counts as empty, as Go's
decoding would have refused it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RBAC_GROUP", "RuleFields", "mapping_of", "rule_fields", "string_of", "strings_of"]

RBAC_GROUP = "rbac.authorization.k8s.io"

_Strings = tuple[str, ...]
RuleFields = tuple[_Strings, _Strings, _Strings, _Strings, _Strings]
"""A rule's (verbs, apiGroups, resources, resourceNames, nonResourceURLs)."""


def strings_of(value: Any) -> tuple[str, ...]:
    """The string items of a stored list (anything else counts as empty, as Go would fail)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def string_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def mapping_of(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rule_fields(rule: Mapping[str, Any]) -> RuleFields:
    return (
        strings_of(rule.get("verbs")),
        strings_of(rule.get("apiGroups")),
        strings_of(rule.get("resources")),
        strings_of(rule.get("resourceNames")),
        strings_of(rule.get("nonResourceURLs")),
    )
