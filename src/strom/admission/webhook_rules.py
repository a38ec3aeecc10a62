"""Which admission webhooks a request reaches: rules, scope, selectors, match conditions.

A webhook entry of a Mutating/ValidatingWebhookConfiguration is compiled once per stored
revision of its configuration into a `Webhook`; `Webhook.matches` answers for one request as
kube's generic webhook source does (k8s.io/apiserver/pkg/admission/plugin/webhook/predicates):
operations, apiGroups/apiVersions/resources (`*`, `*/*`, `pods/status`, `*/status`,
`pods/*`), scope, then the namespace and object selectors. matchPolicy `Equivalent` (the
default) also matches another served version of the same resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strom.admission.webhook_client import decode_ca_bundle
from strom.cel import CompileError, Program, compile_expression
from strom.registry.hooks import AdmissionRequest
from strom.selectors import LabelSelector, label_selector_from_object

__all__ = [
    "Condition",
    "Matcher",
    "Rule",
    "Webhook",
    "compile_condition",
    "compile_webhook",
    "rule_of",
]

_CONDITION_VARIABLES = frozenset({"object", "oldObject", "request", "authorizer", "params"})


@dataclass(frozen=True, slots=True)
class Rule:
    operations: frozenset[str]
    groups: frozenset[str]
    versions: frozenset[str]
    resources: tuple[tuple[str, str], ...]  # (resource, subresource); "*" wildcards
    scope: str  # * | Cluster | Namespaced
    names: frozenset[str] = frozenset()  # resourceNames (policies only); empty: any

    def matches(self, request: AdmissionRequest, *, any_version: bool) -> bool:
        rt = request.rt
        if "*" not in self.operations and request.operation not in self.operations:
            return False
        if "*" not in self.groups and rt.group not in self.groups:
            return False
        if not any_version and "*" not in self.versions and rt.version not in self.versions:
            return False
        if self.scope == "Cluster" and rt.namespaced:
            return False
        if self.scope == "Namespaced" and not rt.namespaced:
            return False
        if self.names and request.name not in self.names:
            return False
        for resource, sub in self.resources:
            if resource not in ("*", rt.plural):
                continue
            if sub == "*" or sub == request.subresource:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    program: Program


@dataclass(frozen=True, slots=True)
class Matcher:
    """Which requests a webhook or a policy (binding) selects: rules, exclusions, selectors."""

    rules: tuple[Rule, ...] | None  # None: any resource (a binding's matchResources without rules)
    match_policy: str  # Equivalent | Exact
    namespace_selector: LabelSelector
    object_selector: LabelSelector
    exclude: tuple[Rule, ...] = ()

    def _ruled(self, rules: tuple[Rule, ...] | None, request: AdmissionRequest) -> bool:
        if rules is None:
            return True
        if any(r.matches(request, any_version=False) for r in rules):
            return True
        return self.match_policy == "Equivalent" and any(
            r.matches(request, any_version=True) for r in rules
        )

    def matches(
        self, request: AdmissionRequest, namespace_labels: Mapping[str, str] | None
    ) -> bool:
        if not self._ruled(self.rules, request):
            return False
        if self.exclude and self._ruled(self.exclude, request):
            return False
        if not self.object_selector.empty:
            labels = [
                ((o.get("metadata") or {}).get("labels") or {})
                for o in (request.obj, request.old)
                if isinstance(o, dict)
            ]
            if not any(self.object_selector.matches(ls) for ls in labels):
                return False
        if self.namespace_selector.empty:
            return True
        if _is_namespace(request):
            # a Namespace is matched on its own labels (new, or old on delete)
            own = request.obj if isinstance(request.obj, dict) else request.old or {}
            return self.namespace_selector.matches((own.get("metadata") or {}).get("labels"))
        if not request.rt.namespaced:
            return True  # other cluster-scoped objects are never skipped
        return self.namespace_selector.matches(namespace_labels or {})

    def matched_version(self, request: AdmissionRequest) -> str:
        """The version asked for (the request's, unless matched only as Equivalent)."""
        for rule in self.rules or ():
            if rule.matches(request, any_version=False):
                return request.rt.version
        for rule in self.rules or ():
            if rule.matches(request, any_version=True) and "*" not in rule.versions:
                return sorted(rule.versions)[0]
        return request.rt.version


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook of a configuration, ready to match and call."""

    name: str
    configuration: str
    mutating: bool
    url: str
    service: Mapping[str, Any] | None  # {namespace, name, path, port}
    ca_bundle: bytes
    matcher: Matcher
    failure_policy: str  # Fail | Ignore
    side_effects: str
    timeout_seconds: int
    reinvoke: bool  # reinvocationPolicy IfNeeded
    conditions: tuple[Condition, ...]

    def matches(
        self, request: AdmissionRequest, namespace_labels: Mapping[str, str] | None
    ) -> bool:
        """Rules and selectors (match conditions are evaluated by the dispatcher, whose
        errors fall under the failure policy)."""
        return self.matcher.matches(request, namespace_labels)

    def matched_version(self, request: AdmissionRequest) -> str:
        return self.matcher.matched_version(request)


def _is_namespace(request: AdmissionRequest) -> bool:
    return request.rt.group == "" and request.rt.plural == "namespaces"


def rule_of(raw: Mapping[str, Any]) -> Rule:
    resources = []
    for text in raw.get("resources") or ():
        resource, _, sub = str(text).partition("/")
        resources.append((resource, sub if "/" in str(text) else ""))
    return Rule(
        operations=frozenset(str(o) for o in raw.get("operations") or ()),
        groups=frozenset(str(g) for g in raw.get("apiGroups") or ()),
        versions=frozenset(str(v) for v in raw.get("apiVersions") or ()),
        resources=tuple(resources),
        scope=str(raw.get("scope") or "*"),
        names=frozenset(str(n) for n in raw.get("resourceNames") or ()),
    )


def compile_condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        str(raw.get("name") or ""),
        compile_expression(str(raw.get("expression") or ""), _CONDITION_VARIABLES),
    )


def compile_webhook(raw: Mapping[str, Any], configuration: str, *, mutating: bool) -> Webhook:
    """A stored (validated, defaulted) webhook entry, compiled."""
    client = raw.get("clientConfig") or {}
    ca_bundle = decode_ca_bundle(client.get("caBundle"))
    conditions = []
    for item in raw.get("matchConditions") or ():
        try:
            conditions.append(compile_condition(item))
        except CompileError:
            continue  # refused when the configuration was written
    return Webhook(
        name=str(raw.get("name") or ""),
        configuration=configuration,
        mutating=mutating,
        url=str(client.get("url") or ""),
        service=client.get("service"),
        ca_bundle=ca_bundle,
        matcher=Matcher(
            rules=tuple(rule_of(r) for r in raw.get("rules") or ()),
            match_policy=str(raw.get("matchPolicy") or "Equivalent"),
            namespace_selector=label_selector_from_object(raw.get("namespaceSelector") or {}),
            object_selector=label_selector_from_object(raw.get("objectSelector") or {}),
        ),
        failure_policy=str(raw.get("failurePolicy") or "Fail"),
        side_effects=str(raw.get("sideEffects") or ""),
        timeout_seconds=int(raw.get("timeoutSeconds") or 10),
        reinvoke=raw.get("reinvocationPolicy") == "IfNeeded",
        conditions=tuple(conditions),
    )
