"""admissionregistration.k8s.io/v1 defaults (SetDefaults_ValidatingWebhook, _MutatingWebhook,
_Rule, _ServiceReference, _ValidatingAdmissionPolicySpec, _MatchResources, _ParamRef), keys in
Go struct order."""

from __future__ import annotations

from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, items

__all__ = ["ADMISSION_DEFAULTERS"]

_WEBHOOK_ORDER = (
    "name",
    "clientConfig",
    "rules",
    "failurePolicy",
    "matchPolicy",
    "namespaceSelector",
    "objectSelector",
    "sideEffects",
    "timeoutSeconds",
    "admissionReviewVersions",
    "reinvocationPolicy",
    "matchConditions",
)
_RULE_ORDER = ("operations", "apiGroups", "apiVersions", "resources", "scope")
_CLIENT_ORDER = ("url", "service", "caBundle")
_CONFIGURATION_ORDER = ("kind", "apiVersion", "metadata", "webhooks")


def _webhook(hook: Obj, *, mutating: bool) -> None:
    hook.setdefault("failurePolicy", "Fail")
    hook.setdefault("matchPolicy", "Equivalent")
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is None:
            hook[key] = {}
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    for rule in items(hook, "rules"):
        rule.setdefault("scope", "*")
        conform(rule, _RULE_ORDER)
    client = child(hook, "clientConfig")
    if client is not None:
        service = child(client, "service")
        if service is not None:
            service.setdefault("port", 443)
            conform(service, ORDER["ServiceReference"])
        conform(client, _CLIENT_ORDER)
    conform(hook, _WEBHOOK_ORDER)


def _configuration(mutating: bool) -> Any:
    def default(obj: Obj) -> None:
        for hook in items(obj, "webhooks"):
            _webhook(hook, mutating=mutating)
        conform(obj, _CONFIGURATION_ORDER)

    return default


_MATCH_ORDER = (
    "namespaceSelector",
    "objectSelector",
    "resourceRules",
    "excludeResourceRules",
    "matchPolicy",
)
_NAMED_RULE_ORDER = ("resourceNames", *_RULE_ORDER)
_POLICY_SPEC_ORDER = (
    "paramKind",
    "matchConstraints",
    "validations",
    "failurePolicy",
    "auditAnnotations",
    "matchConditions",
    "variables",
)
_BINDING_SPEC_ORDER = ("policyName", "paramRef", "matchResources", "validationActions")
_PARAM_REF_ORDER = ("name", "namespace", "selector", "parameterNotFoundAction")
_SPEC_OBJECT_ORDER = ("kind", "apiVersion", "metadata", "spec", "status")


def _match_resources(match: Obj) -> None:
    """SetDefaults_MatchResources and _NamedRuleWithOperations."""
    for key in ("namespaceSelector", "objectSelector"):
        if match.get(key) is None:
            match[key] = {}
    match.setdefault("matchPolicy", "Equivalent")
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in items(match, key):
            rule.setdefault("scope", "*")
            conform(rule, _NAMED_RULE_ORDER)
    conform(match, _MATCH_ORDER)


def _policy(obj: Obj) -> None:
    spec = child(obj, "spec")
    if spec is not None:
        spec.setdefault("failurePolicy", "Fail")
        match = child(spec, "matchConstraints")
        if match is not None:
            _match_resources(match)
        conform(spec, _POLICY_SPEC_ORDER)
    conform(obj, _SPEC_OBJECT_ORDER)


def _binding(obj: Obj) -> None:
    spec = child(obj, "spec")
    if spec is not None:
        ref = child(spec, "paramRef")
        if ref is not None:
            ref.setdefault("parameterNotFoundAction", "Deny")
            conform(ref, _PARAM_REF_ORDER)
        match = child(spec, "matchResources")
        if match is not None:
            _match_resources(match)
        conform(spec, _BINDING_SPEC_ORDER)
    conform(obj, _SPEC_OBJECT_ORDER)


_GROUP = "admissionregistration.k8s.io"
ADMISSION_DEFAULTERS: dict[tuple[str, str], Any] = {
    (_GROUP, "ValidatingAdmissionPolicy"): _policy,
    (_GROUP, "ValidatingAdmissionPolicyBinding"): _binding,
    (_GROUP, "MutatingWebhookConfiguration"): _configuration(True),
    (_GROUP, "ValidatingWebhookConfiguration"): _configuration(False),
}
