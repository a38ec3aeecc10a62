"""The RBAC authorizer (plugin/pkg/auth/authorizer/rbac/rbac.go): `Authorize` answers ALLOW with
`RBAC: allowed by ...`, else NO_OPINION whose reason carries the resolution errors (RBAC never
denies); `RulesFor`, the rules review, and subject_locator.go's `AllowedSubjects`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from strom.auth.authz import Attributes, Decision
from strom.auth.rbac.snapshot import BindingSource, PolicySnapshot
from strom.gofmt import aggregate_errors
from strom.registry.rbac import RBAC_GROUP
from strom.user import MASTERS_GROUP, UserInfo

CACHE_SIZE = 4096
"""Most (user, groups, namespace) rule lists RBACAuthorizer keeps; least recently used go first."""


_CacheKey = tuple[int, str, tuple[str, ...], str]


class RBACAuthorizer:
    """kube's RBAC authorizer over the current PolicySnapshot (`snapshot_provider()`).

    The rule list of a (user, groups, namespace) is kept in an LRU of at most `cache_size`
    entries (CACHE_SIZE, 4096), keyed by the snapshot's serial too; a newer snapshot empties
    it, so memory stays bounded and a policy change applies from the next request.
    """

    def __init__(
        self, snapshot_provider: Callable[[], PolicySnapshot], *, cache_size: int = CACHE_SIZE
    ) -> None:
        self._provider = snapshot_provider
        self._cache_size = cache_size
        self._cache: OrderedDict[_CacheKey, tuple[BindingSource, ...]] = OrderedDict()
        self._cache_serial = 0
        # Decisions by (serial, who, what): a client repeating a request (an operator's GETs)
        # gets the same answer without walking the rules again; same bound and serial as
        # the rule-list LRU, so a policy change still applies from the next request.
        self._decisions: OrderedDict[tuple[Any, ...], tuple[Decision, str]] = OrderedDict()
        self._lock = threading.Lock()

    def _sources(
        self, snapshot: PolicySnapshot, user: UserInfo, namespace: str
    ) -> tuple[BindingSource, ...]:
        key: _CacheKey = (snapshot.serial, user.username, tuple(user.groups), namespace)
        with self._lock:
            if snapshot.serial > self._cache_serial:
                self._cache.clear()
                self._cache_serial = snapshot.serial
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        sources = snapshot.sources(user, namespace)
        with self._lock:
            if snapshot.serial == self._cache_serial and self._cache_size > 0:
                self._cache[key] = sources
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return sources

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        """ALLOW by the first rule that allows; otherwise NO_OPINION, the errors as reason."""
        snapshot = self._provider()
        user = attrs.user
        key = (
            snapshot.serial,
            user.username,
            tuple(user.groups),
            attrs.namespace,
            attrs.verb,
            attrs.resource_request,
            attrs.api_group,
            attrs.resource,
            attrs.subresource,
            attrs.name,
            attrs.path,
        )
        with self._lock:
            if snapshot.serial != self._cache_serial:
                self._decisions.clear()
            hit = self._decisions.get(key)
            if hit is not None:
                self._decisions.move_to_end(key)
                return hit
        decision = self._decide(snapshot, attrs)
        with self._lock:
            if self._cache_size > 0:
                self._decisions[key] = decision
                while len(self._decisions) > self._cache_size:
                    self._decisions.popitem(last=False)
        return decision

    def _decide(self, snapshot: PolicySnapshot, attrs: Attributes) -> tuple[Decision, str]:
        errors: list[str] = []
        for source in self._sources(snapshot, attrs.user, attrs.namespace):
            if source.error is not None:
                errors.append(source.error.message())
                continue
            for rule in source.rules:
                if rule.allows(attrs):
                    return Decision.ALLOW, f"RBAC: allowed by {source.describe}"
        if errors:
            return Decision.NO_OPINION, f"RBAC: {aggregate_errors(errors)}"
        return Decision.NO_OPINION, ""

    def rules_review_status(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """SelfSubjectRulesReview status over the current snapshot."""
        return rules_review_status(self._provider(), user, namespace)


def rules_for(
    snapshot: PolicySnapshot, user: UserInfo, namespace: str, *, registry: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """DefaultRuleResolver.RulesFor: every rule bound to the user, and the resolution errors.

    `registry=True` words missing roles as the registry does (ConfirmNoEscalation's view).
    """
    rules: list[dict[str, Any]] = []
    errors: list[str] = []
    for source in snapshot.sources(user, namespace):
        if source.error is not None:
            errors.append(source.error.message(registry=registry))
        else:
            rules.extend(rule.as_dict() for rule in source.rules)
    return rules, errors


def rules_review_status(snapshot: PolicySnapshot, user: UserInfo, namespace: str) -> dict[str, Any]:
    """SubjectRulesReviewStatus as kube's selfsubjectrulesreview REST shapes it.

    A rule with resources becomes a ResourceRule, one with nonResourceURLs a NonResourceRule
    (a rule with both becomes both, as in rbac.go RulesFor). resourceRules, nonResourceRules
    and incomplete are always present (no omitempty); evaluationError only when set.
    """
    rules, errors = rules_for(snapshot, user, namespace)
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for rule in rules:
        if rule.get("resources"):
            entry: dict[str, Any] = {"verbs": rule["verbs"]}
            for field in ("apiGroups", "resources", "resourceNames"):
                if field in rule:
                    entry[field] = rule[field]
            resource_rules.append(entry)
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}
            )
    status: dict[str, Any] = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }
    if errors:
        status["evaluationError"] = aggregate_errors(errors)
    return status


def allowed_subjects(
    snapshot: PolicySnapshot, attrs: Attributes, *, super_user: str = ""
) -> tuple[list[dict[str, str]], list[str]]:
    """subject_locator.go AllowedSubjects: who may do `attrs`, plus resolution errors.

    Starts with Group system:masters (and the super user, if any), then every subject of a
    binding whose role allows the request. Like kube it returns the list undeduplicated.
    """
    subjects: list[dict[str, str]] = [
        {"kind": "Group", "apiGroup": RBAC_GROUP, "name": MASTERS_GROUP}
    ]
    if super_user:
        subjects.append({"kind": "User", "apiGroup": RBAC_GROUP, "name": super_user})
    errors: list[str] = []
    for b in snapshot.all_bindings(attrs.namespace):
        if b.error is not None:
            errors.append(b.error.message())
        if any(rule.allows(attrs) for rule in b.rules):
            subjects.extend(dict(s) for s in b.subjects)
    return subjects, errors
