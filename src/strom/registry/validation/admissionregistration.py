"""Mutating/ValidatingWebhookConfiguration validation (kube's
pkg/apis/admissionregistration/validation), and what strom cannot deliver refused up front.

strom speaks AdmissionReview v1 only, and calls webhooks for objects and their `status` (and
the other subresources whose object is the parent itself); a configuration that asks only
for admission.k8s.io/v1beta1, or names a subresource whose request carries another kind
(`deployments/scale`, `pods/eviction`, `pods/exec`, ...), is refused rather than accepted and
never called.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from strom.cel import CompileError
from strom.errors import Cause

from . import fielderrors as fe
from .formats import is_dns1123_subdomain, is_qualified_name
from .meta import as_list, as_map, validate_label_selector

__all__ = [
    "DELIVERED_SUBRESOURCES",
    "validate_admission_policy",
    "validate_admission_policy_binding",
    "validate_client_config",
    "validate_webhook_configuration",
]

DELIVERED_SUBRESOURCES = frozenset(
    {"", "*", "status", "finalize", "approval", "ephemeralcontainers"}
)
_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_SCOPES = ("*", "Cluster", "Namespaced")
_MAX_CONDITIONS = 64


def _validate_rule(rule: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    operations = [str(o) for o in as_list(rule.get("operations"))]
    if not operations:
        causes.append(fe.required(f"{path}.operations"))
    if len(operations) > 1 and "*" in operations:
        causes.append(
            fe.invalid(
                f"{path}.operations",
                operations,
                "if '*' is present, must not specify other operations",
            )
        )
    for index, op in enumerate(operations):
        if op not in _OPERATIONS:
            causes.append(
                fe.not_supported(f"{path}.operations[{index}]", op, (*_OPERATIONS[1:], "*"))
            )
    for key in ("apiGroups", "apiVersions"):
        values = [str(v) for v in as_list(rule.get(key))]
        if not values:
            causes.append(fe.required(f"{path}.{key}"))
        elif len(values) > 1 and "*" in values:
            causes.append(
                fe.invalid(
                    f"{path}.{key}",
                    values,
                    "if '*' is present, must not specify other API groups"
                    if key == "apiGroups"
                    else "if '*' is present, must not specify other API versions",
                )
            )
    resources = [str(r) for r in as_list(rule.get("resources"))]
    if not resources:
        causes.append(fe.required(f"{path}.resources"))
    for index, resource in enumerate(resources):
        if not resource:
            causes.append(fe.required(f"{path}.resources[{index}]"))
            continue
        _, _, sub = resource.partition("/")
        if sub not in DELIVERED_SUBRESOURCES:
            causes.append(
                fe.not_supported(
                    f"{path}.resources[{index}]",
                    resource,
                    sorted(
                        f"{resource.partition('/')[0]}/{s}" for s in DELIVERED_SUBRESOURCES if s
                    ),
                )
            )
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        causes.append(fe.not_supported(f"{path}.scope", scope, _SCOPES))
    return causes


def validate_client_config(client: Mapping[str, Any], path: str) -> list[Cause]:
    url, service = client.get("url"), client.get("service")
    if (url is None) == (service is None):
        return [fe.required(path, "exactly one of url or service is required")]
    if url is not None:
        parts = urllib.parse.urlsplit(str(url))
        if parts.scheme != "https":
            return [fe.invalid(f"{path}.url", url, "'https' is the only allowed URL scheme")]
        if not parts.hostname:
            return [fe.invalid(f"{path}.url", url, "host must be specified")]
        if parts.username or parts.password:
            return [fe.invalid(f"{path}.url", url, "user information is not permitted in the URL")]
        if parts.fragment:
            return [fe.invalid(f"{path}.url", url, "fragments are not permitted in the URL")]
        if parts.query:
            return [fe.invalid(f"{path}.url", url, "query parameters are not permitted in the URL")]
        return []
    service = as_map(service)
    causes: list[Cause] = []
    for key in ("name", "namespace"):
        if not service.get(key):
            causes.append(fe.required(f"{path}.service.{key}", f"service {key} is required"))
    port = service.get("port")
    if isinstance(port, int) and not 1 <= port <= 65535:
        causes.append(
            fe.invalid(
                f"{path}.service.port",
                port,
                "port is not valid: must be between 1 and 65535, inclusive",
            )
        )
    spath = service.get("path")
    if spath is not None and not str(spath).startswith("/"):
        causes.append(fe.invalid(f"{path}.service.path", spath, "must start with a '/'"))
    return causes


def _validate_conditions(conditions: list[Any], path: str) -> list[Cause]:
    from strom.cel import compile_expression

    causes: list[Cause] = []
    if len(conditions) > _MAX_CONDITIONS:
        causes.append(fe.too_many(path, len(conditions), _MAX_CONDITIONS))
    seen: set[str] = set()
    variables = frozenset({"object", "oldObject", "request", "authorizer", "params"})
    for index, raw in enumerate(conditions):
        condition = as_map(raw)
        name = str(condition.get("name") or "")
        where = f"{path}[{index}]"
        if not name:
            causes.append(fe.required(f"{where}.name"))
        elif problems := is_qualified_name(name):
            causes.append(fe.invalid(f"{where}.name", name, ",".join(problems)))
        elif name in seen:
            causes.append(fe.duplicate(f"{where}.name", name))
        seen.add(name)
        expression = str(condition.get("expression") or "")
        if not expression:
            causes.append(fe.required(f"{where}.expression"))
            continue
        try:
            compile_expression(expression, variables)
        except CompileError as exc:
            causes.append(
                fe.invalid(f"{where}.expression", expression, f"compilation failed: {exc}")
            )
    return causes


def _validate_webhook(hook: Mapping[str, Any], path: str, *, mutating: bool) -> list[Cause]:
    causes: list[Cause] = []
    name = str(hook.get("name") or "")
    if not name:
        causes.append(fe.required(f"{path}.name"))
    elif problems := is_dns1123_subdomain(name):
        causes.append(fe.invalid(f"{path}.name", name, ",".join(problems)))
    elif name.count(".") < 2:
        causes.append(
            fe.invalid(
                f"{path}.name",
                name,
                "should be a domain with at least three segments separated by dots",
            )
        )
    for index, rule in enumerate(as_list(hook.get("rules"))):
        causes += _validate_rule(as_map(rule), f"{path}.rules[{index}]")
    for key, allowed in (
        ("failurePolicy", ("Fail", "Ignore")),
        ("matchPolicy", ("Equivalent", "Exact")),
    ):
        value = hook.get(key)
        if value is not None and value not in allowed:
            causes.append(fe.not_supported(f"{path}.{key}", value, allowed))
    if mutating:
        value = hook.get("reinvocationPolicy")
        if value is not None and value not in ("IfNeeded", "Never"):
            causes.append(
                fe.not_supported(f"{path}.reinvocationPolicy", value, ("IfNeeded", "Never"))
            )
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        causes.append(fe.required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif side_effects not in ("None", "NoneOnDryRun"):
        causes.append(
            fe.not_supported(f"{path}.sideEffects", side_effects, ("None", "NoneOnDryRun"))
        )
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        causes.append(
            fe.invalid(
                f"{path}.timeoutSeconds",
                timeout,
                "the timeout value must be between 1 and 30 seconds",
            )
        )
    versions = [str(v) for v in as_list(hook.get("admissionReviewVersions"))]
    if not versions:
        causes.append(
            fe.required(f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1")
        )
    elif "v1" not in versions:
        if "v1beta1" in versions:
            causes.append(
                fe.invalid(
                    f"{path}.admissionReviewVersions",
                    versions,
                    "strom sends admission.k8s.io/v1 only: must include v1",
                )
            )
        else:
            causes.append(
                fe.invalid(
                    f"{path}.admissionReviewVersions",
                    versions,
                    "must include at least one of v1, v1beta1",
                )
            )
    causes += validate_client_config(as_map(hook.get("clientConfig")), f"{path}.clientConfig")
    for key in ("namespaceSelector", "objectSelector"):
        if isinstance(hook.get(key), Mapping):
            causes += validate_label_selector(hook[key], f"{path}.{key}")
    causes += _validate_conditions(as_list(hook.get("matchConditions")), f"{path}.matchConditions")
    return causes


def validate_webhook_configuration(obj: Mapping[str, Any], *, mutating: bool) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for index, raw in enumerate(as_list(obj.get("webhooks"))):
        hook = as_map(raw)
        path = f"webhooks[{index}]"
        causes += _validate_webhook(hook, path, mutating=mutating)
        name = str(hook.get("name") or "")
        if name and name in seen:
            causes.append(fe.duplicate(f"{path}.name", name))
        seen.add(name)
    return causes


# --- ValidatingAdmissionPolicy and its bindings -------------------------------------------------
_POLICY_VARIABLES = frozenset(
    {"object", "oldObject", "request", "params", "namespaceObject", "variables"}
)
_ACTIONS = ("Audit", "Deny", "Warn")


def _expression_errors(expression: str, path: str) -> list[Cause]:
    from strom.cel import compile_expression

    if not expression.strip():
        return [fe.required(path)]
    if "authorizer" in expression:
        return [
            fe.invalid(path, expression, "strom does not provide the `authorizer` variable yet")
        ]
    try:
        compile_expression(expression, _POLICY_VARIABLES)
    except CompileError as exc:
        return [fe.invalid(path, expression, f"compilation failed: {exc}")]
    return []


def _validate_match_resources(
    match: Mapping[str, Any], path: str, *, required: bool
) -> list[Cause]:
    causes: list[Cause] = []
    rules = as_list(match.get("resourceRules"))
    if required and not rules:
        causes.append(fe.required(f"{path}.resourceRules"))
    for key in ("resourceRules", "excludeResourceRules"):
        for index, rule in enumerate(as_list(match.get(key))):
            causes += _validate_rule(as_map(rule), f"{path}.{key}[{index}]")
    for key in ("namespaceSelector", "objectSelector"):
        if isinstance(match.get(key), Mapping):
            causes += validate_label_selector(match[key], f"{path}.{key}")
    policy = match.get("matchPolicy")
    if policy is not None and policy not in ("Equivalent", "Exact"):
        causes.append(fe.not_supported(f"{path}.matchPolicy", policy, ("Equivalent", "Exact")))
    return causes


def validate_admission_policy(obj: Mapping[str, Any]) -> list[Cause]:
    spec = as_map(obj.get("spec"))
    causes: list[Cause] = []
    validations = as_list(spec.get("validations"))
    audits = as_list(spec.get("auditAnnotations"))
    if not validations and not audits:
        causes.append(
            fe.required(
                "spec.validations", "validations or auditAnnotations must contain at least one item"
            )
        )
    for index, raw in enumerate(validations):
        item, path = as_map(raw), f"spec.validations[{index}]"
        causes += _expression_errors(str(item.get("expression") or ""), f"{path}.expression")
        if item.get("messageExpression"):
            causes += _expression_errors(
                str(item["messageExpression"]), f"{path}.messageExpression"
            )
        reason = item.get("reason")
        if reason is not None and reason not in (
            "Unauthorized",
            "Forbidden",
            "Invalid",
            "RequestEntityTooLarge",
        ):
            causes.append(
                fe.not_supported(
                    f"{path}.reason",
                    reason,
                    ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"),
                )
            )
    for index, raw in enumerate(audits):
        item, path = as_map(raw), f"spec.auditAnnotations[{index}]"
        if not item.get("key"):
            causes.append(fe.required(f"{path}.key"))
        causes += _expression_errors(
            str(item.get("valueExpression") or ""), f"{path}.valueExpression"
        )
    for index, raw in enumerate(as_list(spec.get("variables"))):
        item, path = as_map(raw), f"spec.variables[{index}]"
        if not item.get("name"):
            causes.append(fe.required(f"{path}.name"))
        causes += _expression_errors(str(item.get("expression") or ""), f"{path}.expression")
    causes += _validate_conditions(as_list(spec.get("matchConditions")), "spec.matchConditions")
    match = spec.get("matchConstraints")
    if not isinstance(match, Mapping):
        causes.append(fe.required("spec.matchConstraints"))
    else:
        causes += _validate_match_resources(match, "spec.matchConstraints", required=True)
    failure = spec.get("failurePolicy")
    if failure is not None and failure not in ("Fail", "Ignore"):
        causes.append(fe.not_supported("spec.failurePolicy", failure, ("Fail", "Ignore")))
    param_kind = spec.get("paramKind")
    if isinstance(param_kind, Mapping):
        for key in ("apiVersion", "kind"):
            if not param_kind.get(key):
                causes.append(fe.required(f"spec.paramKind.{key}"))
    return causes


def validate_admission_policy_binding(obj: Mapping[str, Any]) -> list[Cause]:
    spec = as_map(obj.get("spec"))
    causes: list[Cause] = []
    if not spec.get("policyName"):
        causes.append(fe.required("spec.policyName"))
    actions = [str(a) for a in as_list(spec.get("validationActions"))]
    if not actions:
        causes.append(fe.required("spec.validationActions"))
    seen: set[str] = set()
    for index, action in enumerate(actions):
        if action not in _ACTIONS:
            causes.append(fe.not_supported(f"spec.validationActions[{index}]", action, _ACTIONS))
        elif action in seen:
            causes.append(fe.duplicate(f"spec.validationActions[{index}]", action))
        seen.add(action)
    if "Deny" in seen and "Warn" in seen:
        causes.append(
            fe.invalid(
                "spec.validationActions",
                actions,
                "must not contain both Deny and Warn (repeating the same validation failure"
                " information in the API response and headers serves no purpose)",
            )
        )
    ref = spec.get("paramRef")
    if isinstance(ref, Mapping):
        if ref.get("name") and ref.get("selector") is not None:
            causes.append(
                fe.forbidden("spec.paramRef.name", "name and selector are mutually exclusive")
            )
        elif not ref.get("name") and ref.get("selector") is None:
            causes.append(fe.required("spec.paramRef", "one of name or selector must be specified"))
        if isinstance(ref.get("selector"), Mapping):
            causes += validate_label_selector(ref["selector"], "spec.paramRef.selector")
        not_found = ref.get("parameterNotFoundAction")
        if not_found is not None and not_found not in ("Allow", "Deny"):
            causes.append(
                fe.not_supported(
                    "spec.paramRef.parameterNotFoundAction", not_found, ("Allow", "Deny")
                )
            )
    match = spec.get("matchResources")
    if isinstance(match, Mapping):
        causes += _validate_match_resources(match, "spec.matchResources", required=False)
    return causes
