"""flowcontrol.apiserver.k8s.io/v1 FlowSchema and PriorityLevelConfiguration validation (kube's
pkg/apis/flowcontrol/validation), worded as kube words it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from strom.errors import Cause
from strom.registry.validation import fielderrors as fe

__all__ = ["validate_flow_schema", "validate_priority_level"]

_MAX_PRECEDENCE = 10000
_DISTINGUISHERS = ["ByNamespace", "ByUser"]
_SUBJECT_KINDS = ["Group", "ServiceAccount", "User"]
_PRIORITY_TYPES = ["Exempt", "Limited"]
_RESPONSE_TYPES = ["Queue", "Reject"]
_MAX_HASH_BITS = 60  # kube's shufflesharding.MaxHashBits
_Obj = Mapping[str, Any]


def _map(value: Any) -> _Obj:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def validate_flow_schema(obj: _Obj) -> list[Cause]:
    spec = _map(obj.get("spec"))
    causes: list[Cause] = []
    precedence = spec.get("matchingPrecedence", 0)
    if isinstance(precedence, int):
        if precedence <= 0:
            causes.append(
                fe.invalid("spec.matchingPrecedence", precedence, "must be a positive value")
            )
        if precedence > _MAX_PRECEDENCE:
            causes.append(
                fe.invalid(
                    "spec.matchingPrecedence",
                    precedence,
                    f"must not be greater than {_MAX_PRECEDENCE}",
                )
            )
    method = spec.get("distinguisherMethod")
    if isinstance(method, Mapping) and method.get("type") not in _DISTINGUISHERS:
        causes.append(
            fe.not_supported("spec.distinguisherMethod.type", method.get("type"), _DISTINGUISHERS)
        )
    if not _map(spec.get("priorityLevelConfiguration")).get("name"):
        causes.append(
            fe.required("spec.priorityLevelConfiguration.name", "must reference a priority level")
        )
    for i, rule in enumerate(_list(spec.get("rules"))):
        causes += _rule(_map(rule), f"spec.rules[{i}]")
    return causes


def _rule(rule: _Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    subjects = _list(rule.get("subjects"))
    if not subjects:
        causes.append(fe.required(f"{path}.subjects", "subjects must contain at least one value"))
    for i, subject in enumerate(subjects):
        causes += _subject(_map(subject), f"{path}.subjects[{i}]")
    resource_rules = _list(rule.get("resourceRules"))
    non_resource_rules = _list(rule.get("nonResourceRules"))
    if not resource_rules and not non_resource_rules:
        causes.append(
            fe.required(
                path,
                "at least one of resourceRules and nonResourceRules has to be non-empty",
            )
        )
    for i, resource_rule in enumerate(resource_rules):
        causes += _resource_rule(_map(resource_rule), f"{path}.resourceRules[{i}]")
    for i, non_resource_rule in enumerate(non_resource_rules):
        causes += _non_resource_rule(_map(non_resource_rule), f"{path}.nonResourceRules[{i}]")
    return causes


def _subject(subject: _Obj, path: str) -> list[Cause]:
    kind = subject.get("kind")
    causes: list[Cause] = []
    members = {"User": "user", "Group": "group", "ServiceAccount": "serviceAccount"}
    for member_kind, member in members.items():
        present = subject.get(member) is not None
        if kind == member_kind:
            if not present:
                causes.append(
                    fe.required(
                        f"{path}.{member}",
                        f"{member} is required when subject kind is '{member_kind}'",
                    )
                )
            else:
                causes += _member(member_kind, _map(subject.get(member)), f"{path}.{member}")
        elif present and kind in members:
            causes.append(
                fe.forbidden(
                    f"{path}.{member}",
                    f"{member} is forbidden when subject kind is not '{member_kind}'",
                )
            )
    if kind not in members:
        causes.append(fe.not_supported(f"{path}.kind", kind, _SUBJECT_KINDS))
    return causes


def _member(kind: str, member: _Obj, path: str) -> list[Cause]:
    causes = []
    if not member.get("name"):
        causes.append(fe.required(f"{path}.name", ""))
    if kind == "ServiceAccount" and not member.get("namespace"):
        causes.append(fe.required(f"{path}.namespace", ""))
    return causes


def _exclusive_star(values: Sequence[Any], path: str, what: str) -> list[Cause]:
    if "*" in values and len(values) > 1:
        return [fe.invalid(path, values, f"if '*' is present, must not specify other {what}")]
    return []


def _resource_rule(rule: _Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    verbs, groups = _list(rule.get("verbs")), _list(rule.get("apiGroups"))
    resources, namespaces = _list(rule.get("resources")), _list(rule.get("namespaces"))
    if not verbs:
        causes.append(fe.required(f"{path}.verbs", "verbs must contain at least one value"))
    causes += _exclusive_star(verbs, f"{path}.verbs", "verbs")
    if not groups:
        causes.append(
            fe.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
        )
    causes += _exclusive_star(groups, f"{path}.apiGroups", "api groups")
    if not resources:
        causes.append(
            fe.required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    causes += _exclusive_star(resources, f"{path}.resources", "resources")
    if not namespaces and rule.get("clusterScope") is not True:
        causes.append(
            fe.required(
                f"{path}.namespaces",
                "resource rules that are not cluster scoped must supply at least one namespace",
            )
        )
    causes += _exclusive_star(namespaces, f"{path}.namespaces", "namespaces")
    return causes


def _non_resource_rule(rule: _Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    verbs, urls = _list(rule.get("verbs")), _list(rule.get("nonResourceURLs"))
    if not verbs:
        causes.append(fe.required(f"{path}.verbs", "verbs must contain at least one value"))
    causes += _exclusive_star(verbs, f"{path}.verbs", "verbs")
    if not urls:
        causes.append(
            fe.required(
                f"{path}.nonResourceURLs", "nonResourceURLs must contain at least one value"
            )
        )
    causes += _exclusive_star(urls, f"{path}.nonResourceURLs", "nonResourceURLs")
    for i, url in enumerate(urls):
        if isinstance(url, str) and url != "*" and not url.startswith("/"):
            causes.append(fe.invalid(f"{path}.nonResourceURLs[{i}]", url, "must start with slash"))
    return causes


def validate_priority_level(obj: _Obj) -> list[Cause]:
    name = _map(obj.get("metadata")).get("name", "")
    spec = _map(obj.get("spec"))
    kind = spec.get("type")
    causes: list[Cause] = []
    if (name == "exempt") != (kind == "Exempt"):
        causes.append(
            fe.invalid("spec.type", kind, "type must be 'Exempt' if and only if name is 'exempt'")
        )
    if kind not in _PRIORITY_TYPES:
        causes.append(fe.not_supported("spec.type", kind, _PRIORITY_TYPES))
    limited, exempt = spec.get("limited"), spec.get("exempt")
    if kind == "Limited":
        if limited is None:
            causes.append(fe.required("spec.limited", "must not be empty when type is Limited"))
        else:
            causes += _limited(_map(limited), "spec.limited")
        if exempt is not None:
            causes.append(fe.forbidden("spec.exempt", "must be nil if the type is Limited"))
    elif kind == "Exempt":
        if limited is not None:
            causes.append(fe.forbidden("spec.limited", "must be nil if the type is not Limited"))
        if exempt is not None:
            causes += _shares_and_lending(_map(exempt), "spec.exempt")
    return causes


def _shares_and_lending(config: _Obj, path: str) -> list[Cause]:
    causes = []
    shares = config.get("nominalConcurrencyShares")
    if isinstance(shares, int) and shares < 0:
        causes.append(
            fe.invalid(f"{path}.nominalConcurrencyShares", shares, "must be a non-negative integer")
        )
    lendable = config.get("lendablePercent")
    if isinstance(lendable, int) and not 0 <= lendable <= 100:
        causes.append(
            fe.invalid(f"{path}.lendablePercent", lendable, "must be between 0 and 100, inclusive")
        )
    return causes


def _limited(limited: _Obj, path: str) -> list[Cause]:
    causes = _shares_and_lending(limited, path)
    borrowing = limited.get("borrowingLimitPercent")
    if isinstance(borrowing, int) and borrowing < 0:
        causes.append(
            fe.invalid(
                f"{path}.borrowingLimitPercent",
                borrowing,
                "if specified, must be a non-negative integer",
            )
        )
    response = _map(limited.get("limitResponse"))
    response_path = f"{path}.limitResponse"
    kind, queuing = response.get("type"), response.get("queuing")
    if kind not in _RESPONSE_TYPES:
        causes.append(fe.not_supported(f"{response_path}.type", kind, _RESPONSE_TYPES))
    if kind == "Queue":
        if queuing is None:
            causes.append(
                fe.required(f"{response_path}.queuing", "must not be empty if the type is Queue")
            )
        else:
            causes += _queuing(_map(queuing), f"{response_path}.queuing")
    elif queuing is not None:
        causes.append(
            fe.forbidden(
                f"{response_path}.queuing",
                "must be nil if limited.limitedResponse.type is not Limited",
            )
        )
    return causes


def _queuing(queuing: _Obj, path: str) -> list[Cause]:
    causes = []
    for field in ("queueLengthLimit", "queues", "handSize"):
        value = queuing.get(field, 0)
        if isinstance(value, int) and value <= 0:
            causes.append(fe.invalid(f"{path}.{field}", value, "must be positive"))
    queues, hand = queuing.get("queues", 0), queuing.get("handSize", 0)
    if isinstance(queues, int) and isinstance(hand, int) and queues > 0 and hand > 0:
        if hand > queues:
            causes.append(
                fe.invalid(
                    f"{path}.handSize", hand, f"should not be greater than queues ({queues})"
                )
            )
        elif _entropy_bits(queues, hand) > _MAX_HASH_BITS:
            causes.append(
                fe.invalid(
                    f"{path}.handSize",
                    hand,
                    f"required entropy bits of deckSize {queues} and handSize {hand} should "
                    f"not be greater than {_MAX_HASH_BITS}",
                )
            )
    return causes


def _entropy_bits(deck: int, hand: int) -> int:
    """shufflesharding.RequiredEntropyBits: ceil(log2(deck) * hand) (dealt with replacement)."""
    return math.ceil(math.log2(deck) * hand)
