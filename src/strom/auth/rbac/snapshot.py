"""The policy snapshot: every Role, ClusterRole and binding, compiled and indexed by subject.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strom.auth.rbac.rules import ROLE_RESOURCES, CompiledRule
from strom.gofmt import go_quote
from strom.registry.rbac import RBAC_GROUP, mapping_of, string_of
from strom.user import UserInfo

_SA_PREFIX = "system:serviceaccount:"  # serviceaccount.ServiceAccountUsernamePrefix
_serials = itertools.count(1)


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
        return self.kind in ROLE_RESOURCES

    @property
    def resource(self) -> str:
        """`roles` or `clusterroles` (the 404's details.kind); empty for an unknown kind."""
        return ROLE_RESOURCES.get(self.kind, "")

    def message(self, *, registry: bool = False) -> str:
        if not self.not_found:
            return f"unsupported role reference kind: {go_quote(self.kind)}"
        resource = self.resource if registry else self.kind.lower()
        return f"{resource}.{RBAC_GROUP} {go_quote(self.name)} not found"


@dataclass(frozen=True, slots=True)
class CompiledBinding:
    """A binding with its roleRef resolved and its subjects pre-described."""

    head: str  # `ClusterRoleBinding "x" of ClusterRole "y" to `
    described: tuple[str, ...]  # describeSubject of each subject
    subjects: tuple[Mapping[str, str], ...]
    rules: tuple[CompiledRule, ...]
    error: RoleRefError | None


@dataclass(frozen=True, slots=True)
class BindingSource:
    """One binding that applies to a user: kube's describer plus the rules it grants."""

    describe: str
    rules: tuple[CompiledRule, ...]
    error: RoleRefError | None


_Key = tuple[str, str]  # ("u", username) or ("g", group)
_Index = Mapping[_Key, tuple[tuple[int, int], ...]]  # -> (binding position, subject index)


def _subject(raw: Any) -> dict[str, str]:
    """A subject in v1 JSON field order (kind, apiGroup, name, namespace), omitempty kept."""
    s = mapping_of(raw)
    out = {"kind": string_of(s.get("kind"))}
    if string_of(s.get("apiGroup")):
        out["apiGroup"] = string_of(s.get("apiGroup"))
    out["name"] = string_of(s.get("name"))
    if string_of(s.get("namespace")):
        out["namespace"] = string_of(s.get("namespace"))
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
    meta = mapping_of(obj.get("metadata"))
    return string_of(meta.get("namespace")), string_of(meta.get("name"))


@dataclass(frozen=True, slots=True, eq=False)
class PolicySnapshot:
    """Every Role, ClusterRole and binding, indexed for per-request lookups; never mutated.

    `serial` is unique per build, so caches keyed by it can never serve a stale policy.
    """

    serial: int
    _cluster_roles: Mapping[str, tuple[CompiledRule, ...]]
    _roles: Mapping[tuple[str, str], tuple[CompiledRule, ...]]
    _cluster_bindings: tuple[CompiledBinding, ...]
    _cluster_index: _Index
    _bindings: Mapping[str, tuple[CompiledBinding, ...]]
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

        def compiled(obj: Mapping[str, Any]) -> tuple[CompiledRule, ...]:
            rules = obj.get("rules")
            return tuple(CompiledRule.compile(r) for r in rules) if isinstance(rules, list) else ()

        role_rules: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        for role in roles:
            role_rules[_name_of(role)] = compiled(role)
        cluster_rules: dict[str, tuple[CompiledRule, ...]] = {}
        for cluster_role in cluster_roles:
            cluster_rules[_name_of(cluster_role)[1]] = compiled(cluster_role)

        def resolve(
            ref: Mapping[str, Any], namespace: str
        ) -> tuple[CompiledRule, ...] | RoleRefError:
            kind, name = string_of(ref.get("kind")), string_of(ref.get("name"))
            found: tuple[CompiledRule, ...] | None = None
            if kind == "ClusterRole":
                found = cluster_rules.get(name)
            elif kind == "Role":
                found = role_rules.get((namespace, name))
            return RoleRefError(kind, name) if found is None else found

        def binding(obj: Mapping[str, Any], namespace: str, name: str) -> CompiledBinding:
            ref = mapping_of(obj.get("roleRef"))
            raw_subjects = obj.get("subjects")
            subjects = tuple(
                _subject(s) for s in (raw_subjects if isinstance(raw_subjects, list) else ())
            )
            shown = f"{name}/{namespace}" if namespace else name
            kind = "RoleBinding" if namespace else "ClusterRoleBinding"
            head = (
                f"{kind} {go_quote(shown)} of {string_of(ref.get('kind'))}"
                f" {go_quote(string_of(ref.get('name')))} to "
            )
            resolved = resolve(ref, namespace)
            return CompiledBinding(
                head=head,
                described=tuple(_describe_subject(s, namespace) for s in subjects),
                subjects=subjects,
                rules=() if isinstance(resolved, RoleRefError) else resolved,
                error=resolved if isinstance(resolved, RoleRefError) else None,
            )

        def indexed(bindings: Sequence[CompiledBinding], namespace: str) -> _Index:
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
        bindings: dict[str, tuple[CompiledBinding, ...]] = {}
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

    def sources(self, user: UserInfo, namespace: str) -> tuple[BindingSource, ...]:
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

    def role_rules(self, kind: str, name: str, namespace: str) -> tuple[CompiledRule, ...] | None:
        """GetRoleReferenceRules without the error: None when the role does not exist."""
        if kind == "ClusterRole":
            return self._cluster_roles.get(name)
        if kind == "Role":
            return self._roles.get((namespace, name))
        return None

    def all_bindings(self, namespace: str) -> Iterator[CompiledBinding]:
        """Every cluster role binding, then the namespace's role bindings (subject_locator)."""
        yield from self._cluster_bindings
        if namespace:
            yield from self._bindings.get(namespace, ())


def _matching(
    bindings: Sequence[CompiledBinding], index: _Index, keys: Sequence[_Key]
) -> Iterator[BindingSource]:
    hits: dict[int, int] = {}
    for key in keys:
        for pos, idx in index.get(key, ()):
            previous = hits.get(pos)
            if previous is None or idx < previous:
                hits[pos] = idx
    for pos in sorted(hits):
        b = bindings[pos]
        yield BindingSource(b.head + b.described[hits[pos]], b.rules, b.error)
