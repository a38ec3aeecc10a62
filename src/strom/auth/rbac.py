"""RBAC: kube-apiserver's role-based authorizer, evaluated from an immutable policy snapshot.

The semantics are kube's, function by function:

* plugin/pkg/auth/authorizer/rbac/rbac.go: `Authorize` (ALLOW with `RBAC: allowed by ...`, else
  NO_OPINION whose reason carries the resolution errors; RBAC never denies), `RulesFor` and
  `RuleAllows`; subject_locator.go's `AllowedSubjects`;
* pkg/registry/rbac/validation/rule.go: `DefaultRuleResolver.VisitRulesFor` (cluster role
  bindings always, role bindings of the request's namespace), `appliesTo` (the first matching
  subject is the one described), `GetRoleReferenceRules`, the binding describers and
  `ConfirmNoEscalation`;
* pkg/apis/rbac/v1/evaluation_helpers.go: the Verb/APIGroup/Resource(incl. `*/subresource`)/
  ResourceName/NonResourceURL(trailing `*`) matchers and `CompactString`;
* component-helpers' policy_comparator.go (`Covers`, `BreakdownRule`) and policy_compact.go;
* pkg/registry/rbac/escalation_check.go and the policybased storages of roles, cluster roles
  and (cluster) role bindings: what the caller checks before ConfirmNoEscalation;
* pkg/apis/rbac/validation/validation.go: `ValidatePolicyRule`, the roleRef and subject rules.

Why a snapshot: a decision must never wait on the store and must stay cheap with thousands of
bindings. `PolicySnapshot.build` indexes bindings by subject (User name, Group name, and a
ServiceAccount as the username it authenticates as), resolves every roleRef once and compiles
rules into frozensets with `*` flags. It is never mutated: when an RBAC object changes the
owner builds a new one and swaps the reference, so a request sees one consistent policy.

Binding order: kube visits bindings in informer-map order, which Go leaves unspecified; here it
is name order (cluster role bindings), then name order within the namespace (role bindings),
so the binding named in an allow reason is deterministic.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strom.auth.authn import MASTERS_GROUP, UserInfo
from strom.auth.authz import Attributes, Decision
from strom.errors import Cause
from strom.gofmt import go_quote

# strom.registry.validation (field-error wording, name rules) imports this module for the RBAC
# kinds, so it is imported inside the functions that need it, never at module load.

__all__ = [
    "AGGREGATION_RULE_MESSAGE",
    "CACHE_SIZE",
    "FULL_AUTHORITY",
    "RBAC_GROUP",
    "FieldError",
    "PolicySnapshot",
    "RBACAuthorizer",
    "RoleRefError",
    "allowed_subjects",
    "bind_attributes",
    "breakdown_rule",
    "compact_rules",
    "compact_string",
    "confirm_no_escalation",
    "covers",
    "escalate_attributes",
    "escalation_allowed",
    "has_aggregation_rule",
    "only_gc_fields_changed",
    "role_ref_rules",
    "rules_for",
    "rules_review_status",
    "validate_binding",
    "validate_policy_rule",
    "validate_role",
    "validate_role_ref",
    "validate_role_ref_update",
    "validate_subject",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
CACHE_SIZE = 4096
"""Most (user, groups, namespace) rule lists RBACAuthorizer keeps; least recently used go first."""

_SA_PREFIX = "system:serviceaccount:"  # serviceaccount.ServiceAccountUsernamePrefix
_ALL = "*"  # VerbAll, APIGroupAll, ResourceAll, NonResourceAll
_ROLE_RESOURCES = {"Role": "roles", "ClusterRole": "clusterroles"}

# clusterrole/policybased: setting or changing an aggregationRule needs `*` on everything.
FULL_AUTHORITY: tuple[Mapping[str, Any], ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)
AGGREGATION_RULE_MESSAGE = "must have cluster-admin privileges to use the aggregationRule"

FieldError = tuple[str, str, str]
"""(reason, field path, message) of one field error, e.g. ("FieldValueRequired",
"rules[0].verbs", "Required value: verbs must contain at least one value")."""

_serials = itertools.count(1)

_Fields = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""A rule's (verbs, apiGroups, resources, resourceNames, nonResourceURLs)."""


# --------------------------------------------------------------------------- helpers


def _strings(value: Any) -> tuple[str, ...]:
    """The string items of a stored list (anything else counts as empty, as Go would fail)."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _go_list(values: Iterable[str]) -> str:
    """Go's `%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def _aggregate(messages: Sequence[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): repeats dropped, several in `[a, b]`."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _policy_dict(
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


# --------------------------------------------------------------------------- compiled rules


@dataclass(frozen=True, slots=True)
class _Rule:
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
    def compile(cls, rule: Any) -> _Rule:
        raw = _map(rule)
        verbs = _strings(raw.get("verbs"))
        groups = _strings(raw.get("apiGroups"))
        resources = _strings(raw.get("resources"))
        names = _strings(raw.get("resourceNames"))
        urls = _strings(raw.get("nonResourceURLs"))
        return cls(
            verbs=verbs,
            api_groups=groups,
            resources=resources,
            resource_names=names,
            urls=urls,
            verb_set=frozenset(verbs),
            any_verb=_ALL in verbs,
            group_set=frozenset(groups),
            any_group=_ALL in groups,
            resource_set=frozenset(resources),
            any_resource=_ALL in resources,
            sub_set=frozenset(r[2:] for r in resources if r.startswith("*/")),
            name_set=frozenset(names),
            url_set=frozenset(urls),
            any_url=_ALL in urls,
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
        return _policy_dict(
            self.verbs, self.api_groups, self.resources, self.resource_names, self.urls
        )


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class RoleRefError:
    """A roleRef that did not resolve: a missing Role/ClusterRole, or an unsupported kind.

    The text differs by who looked: the authorizer reads informer listers, whose NotFound
    names the singular resource (`clusterrole.rbac.authorization.k8s.io "x" not found`); the
    escalation checks read the registry, whose NotFound names the plural one (and is a 404).
    """

    kind: str
    name: str

    @property
    def not_found(self) -> bool:
        return self.kind in _ROLE_RESOURCES

    @property
    def resource(self) -> str:
        """`roles` or `clusterroles` (the 404's details.kind); empty for an unknown kind."""
        return _ROLE_RESOURCES.get(self.kind, "")

    def message(self, *, registry: bool = False) -> str:
        if not self.not_found:
            return f"unsupported role reference kind: {go_quote(self.kind)}"
        resource = self.resource if registry else self.kind.lower()
        return f"{resource}.{RBAC_GROUP} {go_quote(self.name)} not found"


@dataclass(frozen=True, slots=True)
class _Binding:
    """A binding with its roleRef resolved and its subjects pre-described."""

    head: str  # `ClusterRoleBinding "x" of ClusterRole "y" to `
    described: tuple[str, ...]  # describeSubject of each subject
    subjects: tuple[Mapping[str, str], ...]
    rules: tuple[_Rule, ...]
    error: RoleRefError | None


@dataclass(frozen=True, slots=True)
class _Source:
    """One binding that applies to a user: kube's describer plus the rules it grants."""

    describe: str
    rules: tuple[_Rule, ...]
    error: RoleRefError | None


_Key = tuple[str, str]  # ("u", username) or ("g", group)
_Index = Mapping[_Key, tuple[tuple[int, int], ...]]  # -> (binding position, subject index)


def _subject(raw: Any) -> dict[str, str]:
    """A subject in v1 JSON field order (kind, apiGroup, name, namespace), omitempty kept."""
    s = _map(raw)
    out = {"kind": _str(s.get("kind"))}
    if _str(s.get("apiGroup")):
        out["apiGroup"] = _str(s.get("apiGroup"))
    out["name"] = _str(s.get("name"))
    if _str(s.get("namespace")):
        out["namespace"] = _str(s.get("namespace"))
    return out


def _subject_key(subject: Mapping[str, str], binding_namespace: str) -> _Key | None:
    """The lookup key under which appliesToUser would match this subject, if any.

    A ServiceAccount subject matches exactly one username (serviceaccount.MatchesUsername is
    string equality with `system:serviceaccount:NS:NAME`), its namespace defaulting to the
    binding's; in a ClusterRoleBinding without a namespace it matches nobody.
    """
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "User":
        return ("u", name)
    if kind == "Group":
        return ("g", name)
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return ("u", f"{_SA_PREFIX}{namespace}:{name}") if namespace else None
    return None


def _describe_subject(subject: Mapping[str, str], binding_namespace: str) -> str:
    """rule.go describeSubject: `User "alice"`, `ServiceAccount "name/namespace"`."""
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f"{kind} {go_quote(name + '/' + namespace)}"
    return f"{kind} {go_quote(name)}"


def _name_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = _map(obj.get("metadata"))
    return _str(meta.get("namespace")), _str(meta.get("name"))


@dataclass(frozen=True, slots=True, eq=False)
class PolicySnapshot:
    """Every Role, ClusterRole and binding, indexed for per-request lookups; never mutated.

    `serial` is unique per build, so caches keyed by it can never serve a stale policy.
    """

    serial: int
    _cluster_roles: Mapping[str, tuple[_Rule, ...]]
    _roles: Mapping[tuple[str, str], tuple[_Rule, ...]]
    _cluster_bindings: tuple[_Binding, ...]
    _cluster_index: _Index
    _bindings: Mapping[str, tuple[_Binding, ...]]
    _index: Mapping[str, _Index]

    @classmethod
    def build(
        cls,
        roles: Iterable[Mapping[str, Any]],
        cluster_roles: Iterable[Mapping[str, Any]],
        role_bindings: Iterable[Mapping[str, Any]],
        cluster_role_bindings: Iterable[Mapping[str, Any]],
    ) -> PolicySnapshot:
        """Compile the four object lists (as stored, rbac.authorization.k8s.io/v1 JSON)."""

        def compiled(obj: Mapping[str, Any]) -> tuple[_Rule, ...]:
            rules = obj.get("rules")
            return tuple(_Rule.compile(r) for r in rules) if isinstance(rules, list) else ()

        role_rules: dict[tuple[str, str], tuple[_Rule, ...]] = {}
        for role in roles:
            role_rules[_name_of(role)] = compiled(role)
        cluster_rules: dict[str, tuple[_Rule, ...]] = {}
        for cluster_role in cluster_roles:
            cluster_rules[_name_of(cluster_role)[1]] = compiled(cluster_role)

        def resolve(ref: Mapping[str, Any], namespace: str) -> tuple[_Rule, ...] | RoleRefError:
            kind, name = _str(ref.get("kind")), _str(ref.get("name"))
            found: tuple[_Rule, ...] | None = None
            if kind == "ClusterRole":
                found = cluster_rules.get(name)
            elif kind == "Role":
                found = role_rules.get((namespace, name))
            return RoleRefError(kind, name) if found is None else found

        def binding(obj: Mapping[str, Any], namespace: str, name: str) -> _Binding:
            ref = _map(obj.get("roleRef"))
            raw_subjects = obj.get("subjects")
            subjects = tuple(
                _subject(s) for s in (raw_subjects if isinstance(raw_subjects, list) else ())
            )
            shown = f"{name}/{namespace}" if namespace else name
            kind = "RoleBinding" if namespace else "ClusterRoleBinding"
            head = (
                f"{kind} {go_quote(shown)} of {_str(ref.get('kind'))}"
                f" {go_quote(_str(ref.get('name')))} to "
            )
            resolved = resolve(ref, namespace)
            return _Binding(
                head=head,
                described=tuple(_describe_subject(s, namespace) for s in subjects),
                subjects=subjects,
                rules=() if isinstance(resolved, RoleRefError) else resolved,
                error=resolved if isinstance(resolved, RoleRefError) else None,
            )

        def indexed(bindings: Sequence[_Binding], namespace: str) -> _Index:
            index: dict[_Key, list[tuple[int, int]]] = {}
            for pos, b in enumerate(bindings):
                seen: set[_Key] = set()
                for idx, subject in enumerate(b.subjects):
                    key = _subject_key(subject, namespace)
                    if key is not None and key not in seen:
                        seen.add(key)
                        index.setdefault(key, []).append((pos, idx))
            return {key: tuple(hits) for key, hits in index.items()}

        crbs = sorted(
            ((_name_of(o)[1], o) for o in cluster_role_bindings), key=lambda item: item[0]
        )
        cluster_bindings = tuple(binding(obj, "", name) for name, obj in crbs)

        by_namespace: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for obj in role_bindings:
            namespace, name = _name_of(obj)
            if namespace:
                by_namespace.setdefault(namespace, []).append((name, obj))
        bindings: dict[str, tuple[_Binding, ...]] = {}
        index: dict[str, _Index] = {}
        for namespace, items in by_namespace.items():
            items.sort(key=lambda item: item[0])
            bindings[namespace] = tuple(binding(obj, namespace, name) for name, obj in items)
            index[namespace] = indexed(bindings[namespace], namespace)

        return cls(
            serial=next(_serials),
            _cluster_roles=cluster_rules,
            _roles=role_rules,
            _cluster_bindings=cluster_bindings,
            _cluster_index=indexed(cluster_bindings, ""),
            _bindings=bindings,
            _index=index,
        )

    @classmethod
    def empty(cls) -> PolicySnapshot:
        return cls.build((), (), (), ())

    def sources(self, user: UserInfo, namespace: str) -> tuple[_Source, ...]:
        """VisitRulesFor's bindings for this user: cluster role bindings, then the namespace's.

        Only bindings indexed under the user's name or groups are visited; each is described
        by the first of its subjects that applies (appliesTo's subjectIndex).
        """
        keys: list[_Key] = [("u", user.username), *(("g", g) for g in user.groups)]
        out = list(_matching(self._cluster_bindings, self._cluster_index, keys))
        if namespace:
            bindings = self._bindings.get(namespace)
            if bindings:
                out.extend(_matching(bindings, self._index[namespace], keys))
        return tuple(out)

    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[_Rule, ...] | None:
        """GetRoleReferenceRules without the error: None when the role does not exist."""
        if kind == "ClusterRole":
            return self._cluster_roles.get(name)
        if kind == "Role":
            return self._roles.get((namespace, name))
        return None

    def all_bindings(self, namespace: str) -> Iterator[_Binding]:
        """Every cluster role binding, then the namespace's role bindings (subject_locator)."""
        yield from self._cluster_bindings
        if namespace:
            yield from self._bindings.get(namespace, ())


def _matching(
    bindings: Sequence[_Binding], index: _Index, keys: Sequence[_Key]
) -> Iterator[_Source]:
    hits: dict[int, int] = {}
    for key in keys:
        for pos, idx in index.get(key, ()):
            previous = hits.get(pos)
            if previous is None or idx < previous:
                hits[pos] = idx
    for pos in sorted(hits):
        b = bindings[pos]
        yield _Source(b.head + b.described[hits[pos]], b.rules, b.error)


# --------------------------------------------------------------------------- authorizer


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
        self._cache: OrderedDict[_CacheKey, tuple[_Source, ...]] = OrderedDict()
        self._cache_serial = 0
        self._lock = threading.Lock()

    def _sources(
        self, snapshot: PolicySnapshot, user: UserInfo, namespace: str
    ) -> tuple[_Source, ...]:
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
        errors: list[str] = []
        for source in self._sources(self._provider(), attrs.user, attrs.namespace):
            if source.error is not None:
                errors.append(source.error.message())
                continue
            for rule in source.rules:
                if rule.allows(attrs):
                    return Decision.ALLOW, f"RBAC: allowed by {source.describe}"
        if errors:
            return Decision.NO_OPINION, f"RBAC: {_aggregate(errors)}"
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
        status["evaluationError"] = _aggregate(errors)
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


# --------------------------------------------------------------------------- escalation


def _rule_fields(rule: Mapping[str, Any]) -> _Fields:
    return (
        _strings(rule.get("verbs")),
        _strings(rule.get("apiGroups")),
        _strings(rule.get("resources")),
        _strings(rule.get("resourceNames")),
        _strings(rule.get("nonResourceURLs")),
    )


def breakdown_rule(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """BreakdownRule: one rule per (group, resource, verb[, name]) and per (url, verb)."""
    verbs, groups, resources, names, urls = _rule_fields(rule)
    out: list[dict[str, Any]] = []
    for group in groups:
        for resource in resources:
            for verb in verbs:
                if names:
                    out.extend(
                        _policy_dict([verb], [group], [resource], [name], []) for name in names
                    )
                else:
                    out.append(_policy_dict([verb], [group], [resource], [], []))
    for url in urls:
        for verb in verbs:
            out.append(_policy_dict([verb], [], [], [], [url]))
    return out


def _resource_covers_all(owned: frozenset[str], wanted: tuple[str, ...]) -> bool:
    if _ALL in owned or owned.issuperset(wanted):
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


def _rule_covers(owner: _Rule, sub: _Fields) -> bool:
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
    owners = [_Rule.compile(rule) for rule in owner_rules]
    uncovered: list[dict[str, Any]] = []
    for servant in servant_rules:
        for sub in breakdown_rule(servant):
            fields = _rule_fields(sub)
            if not any(_rule_covers(owner, fields) for owner in owners):
                uncovered.append(sub)
    return not uncovered, uncovered


def compact_rules(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """CompactRules: single-group, single-resource rules without names or URLs are merged,
    their verbs appended in order; every other rule is kept as is."""
    compacted: list[dict[str, Any]] = []
    simple: dict[tuple[str, str], dict[str, Any]] = {}
    for rule in rules:
        verbs, groups, resources, names, urls = _rule_fields(rule)
        if names or urls or len(groups) != 1 or len(resources) != 1:
            compacted.append(_policy_dict(verbs, groups, resources, names, urls))
            continue
        existing = simple.get((groups[0], resources[0]))
        if existing is None:
            simple[(groups[0], resources[0])] = _policy_dict(verbs, groups, resources, [], [])
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
        values = _strings(rule.get(field))
        if values:
            parts.append(f"{label}:{_go_list(values)}")
    return "{" + ", ".join(parts) + "}"


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
        f"user {go_quote(user.username)} (groups={_go_list(user.groups)}) is attempting to"
        " grant RBAC permissions not currently held:\n" + "\n".join(described)
    )
    if errors:
        # fmt %v of a []error holding the one aggregate RulesFor returned
        message += f"; resolution errors: [{_aggregate(errors)}]"
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
    resource = _ROLE_RESOURCES.get(_str(role_ref.get("kind")))
    if resource is None:
        return None
    return Attributes(
        user=user,
        verb="bind",
        resource_request=True,
        namespace=binding_namespace,
        api_group=_str(role_ref.get("apiGroup")),
        api_version="*",
        resource=resource,
        name=_str(role_ref.get("name")),
    )


def role_ref_rules(
    snapshot: PolicySnapshot, role_ref: Mapping[str, Any], binding_namespace: str
) -> tuple[list[dict[str, Any]], RoleRefError | None]:
    """GetRoleReferenceRules for a binding being written: the role's rules, or why not.

    kube's binding storages return a missing role as the registry's 404 NotFound
    (`err.resource`, `err.name`, `err.message(registry=True)`), before any escalation check.
    """
    kind, name = _str(role_ref.get("kind")), _str(role_ref.get("name"))
    found = snapshot.role_rules(kind, name, binding_namespace)
    if found is None:
        return [], RoleRefError(kind, name)
    return [rule.as_dict() for rule in found], None


def has_aggregation_rule(cluster_role: Mapping[str, Any]) -> bool:
    """clusterrole/policybased hasAggregationRule: an aggregationRule with selectors."""
    selectors = _map(cluster_role.get("aggregationRule")).get("clusterRoleSelectors")
    return isinstance(selectors, list) and len(selectors) > 0


def only_gc_fields_changed(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """IsOnlyMutatingGCFields: the update touches only ownerReferences, finalizers, selfLink
    (what the garbage collector writes), so kube skips the escalation check."""
    from strom.registry.validation.meta import semantic_equal

    copied = dict(new)
    meta = dict(_map(new.get("metadata")))
    old_meta = _map(old.get("metadata"))
    for field in ("ownerReferences", "finalizers", "selfLink"):
        meta.pop(field, None)
        if field in old_meta:
            meta[field] = old_meta[field]
    copied["metadata"] = meta
    return semantic_equal(copied, old)


# --------------------------------------------------------------------------- validation


def _tuples(causes: Iterable[Cause]) -> list[FieldError]:
    return [(c.reason, c.field, c.message) for c in causes]


def validate_policy_rule(rule: Mapping[str, Any], *, cluster: bool, path: str) -> list[FieldError]:
    """ValidatePolicyRule (`cluster` False for a Role's rules). Unknown verbs are fine."""
    from strom.registry.validation import fielderrors as fe

    verbs, groups, resources, names, urls = _rule_fields(rule)
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
    from strom.registry.validation import fielderrors as fe
    from strom.registry.validation.meta import validate_label_selector

    errors: list[FieldError] = []
    rules = role.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        errors.extend(validate_policy_rule(_map(rule), cluster=cluster, path=f"rules[{i}]"))
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
    from strom.registry.validation import fielderrors as fe
    from strom.registry.validation.meta import name_is_path_segment

    causes: list[Cause] = []
    group = role_ref.get("apiGroup")
    if group != RBAC_GROUP:
        causes.append(fe.not_supported("roleRef.apiGroup", _str(group), [RBAC_GROUP]))
    kind = _str(role_ref.get("kind"))
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if kind not in kinds:
        causes.append(fe.not_supported("roleRef.kind", kind, kinds))
    name = _str(role_ref.get("name"))
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
    from strom.registry.validation import fielderrors as fe

    fields = ("apiGroup", "kind", "name")
    if all(_str(new_ref.get(f)) == _str(old_ref.get(f)) for f in fields):
        return []
    value = {
        "APIGroup": _str(new_ref.get("apiGroup")),
        "Kind": _str(new_ref.get("kind")),
        "Name": _str(new_ref.get("name")),
    }
    return _tuples([fe.invalid("roleRef", value, "cannot change roleRef")])


def validate_subject(subject: Mapping[str, Any], *, cluster: bool, path: str) -> list[FieldError]:
    """ValidateRoleBindingSubject (defaulted: User/Group subjects carry the RBAC apiGroup).

    A ServiceAccount needs a namespace only in a ClusterRoleBinding (a RoleBinding's own
    namespace stands in) and must have an empty apiGroup.
    """
    from strom.registry.validation import fielderrors as fe
    from strom.registry.validation.meta import name_is_dns_subdomain

    causes: list[Cause] = []
    name = _str(subject.get("name"))
    group = _str(subject.get("apiGroup"))
    kind = _str(subject.get("kind"))
    if not name:
        causes.append(fe.required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes.extend(
                fe.invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name, False)
            )
        if group:
            causes.append(fe.not_supported(f"{path}.apiGroup", group, [""]))
        if cluster and not _str(subject.get("namespace")):
            causes.append(fe.required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            causes.append(fe.not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        causes.append(fe.not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return _tuples(causes)


def validate_binding(binding: Mapping[str, Any], *, cluster: bool) -> list[FieldError]:
    """ValidateRoleBinding / ValidateClusterRoleBinding beyond ObjectMeta."""
    errors = validate_role_ref(_map(binding.get("roleRef")), cluster=cluster)
    subjects = binding.get("subjects")
    for i, subject in enumerate(subjects if isinstance(subjects, list) else []):
        errors.extend(validate_subject(_map(subject), cluster=cluster, path=f"subjects[{i}]"))
    return errors
