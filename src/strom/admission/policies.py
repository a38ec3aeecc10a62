"""ValidatingAdmissionPolicy: CEL validations bound to requests by their bindings.

For each binding whose policy exists and whose match constraints (the policy's, then the
binding's matchResources) select the request, the policy's matchConditions must all hold;
then its params are found (paramRef by name or selector, in the param namespace or the
request's), its variables computed, and each validation evaluated per param. A false
validation (or, under failurePolicy Fail, one that errs) is acted on as the binding says:
Deny refuses (kube's 422 `ValidatingAdmissionPolicy 'p' with binding 'b' denied request:
…`, or the validation's reason), Warn adds a Warning, Audit adds the
`validation.policy.admission.k8s.io/validation_failure` audit annotation. auditAnnotations
add `<policy>/<key>` annotations. Read from k8s.io/apiserver/pkg/admission/plugin/policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from strom.cache.state import StateCache
from strom.cel import CompileError, EvalError, Program, compile_expression
from strom.errors import Cause, Details, StatusError
from strom.registry.hooks import AdmissionRequest
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.types import TypeTable
from strom.selectors import LabelSelector, label_selector_from_object
from strom.user import user_info_dict

from .webhook_rules import Condition, Matcher, compile_condition, rule_of
from .webhooks import render_object

__all__ = ["POLICY_VARIABLES", "PolicyDispatcher", "compile_policy_expression"]

_GROUP = "admissionregistration.k8s.io"
POLICIES = next(t for t in BUILTIN if t.group == _GROUP and t.kind == "ValidatingAdmissionPolicy")
BINDINGS = next(
    t for t in BUILTIN if t.group == _GROUP and t.kind == "ValidatingAdmissionPolicyBinding"
)
_NAMESPACES = next(t for t in BUILTIN if t.group == "" and t.plural == "namespaces")
POLICY_VARIABLES = frozenset(
    {"object", "oldObject", "request", "params", "namespaceObject", "variables"}
)
_FAILURE_KEY = "validation.policy.admission.k8s.io/validation_failure"
_REASON_CODES = {
    "Unauthorized": 401,
    "Forbidden": 403,
    "Invalid": 422,
    "RequestEntityTooLarge": 413,
}


def compile_policy_expression(expression: str) -> Program:
    """A policy's expression; `authorizer` is refused (strom has no CEL authorizer yet)."""
    if "authorizer" in expression:
        raise CompileError(
            "ERROR: <input>: strom does not provide the `authorizer` variable to policies"
        )
    return compile_expression(expression, POLICY_VARIABLES)


@dataclass(frozen=True, slots=True)
class _Validation:
    index: int
    expression: str
    program: Program
    message: str
    message_expression: Program | None
    reason: str


@dataclass(frozen=True, slots=True)
class _Policy:
    name: str
    failure_policy: str
    param_kind: tuple[str, str] | None  # (apiVersion, kind)
    matcher: Matcher
    conditions: tuple[Condition, ...]
    variables: tuple[tuple[str, Program], ...]
    validations: tuple[_Validation, ...]
    audit_annotations: tuple[tuple[str, Program], ...]


@dataclass(frozen=True, slots=True)
class _Binding:
    name: str
    policy: str
    param_name: str
    param_namespace: str
    param_selector: LabelSelector | None
    deny_missing_params: bool
    has_param_ref: bool
    matcher: Matcher | None
    actions: frozenset[str]


def _matcher(raw: Mapping[str, Any], *, binding: bool = False) -> Matcher:
    """A policy's matchConstraints, or a binding's matchResources (whose empty resourceRules
    leave the policy's in force)."""
    rules = tuple(rule_of(r) for r in raw.get("resourceRules") or ())
    return Matcher(
        rules=None if binding and not rules else rules,
        exclude=tuple(rule_of(r) for r in raw.get("excludeResourceRules") or ()),
        match_policy=str(raw.get("matchPolicy") or "Equivalent"),
        namespace_selector=label_selector_from_object(raw.get("namespaceSelector") or {}),
        object_selector=label_selector_from_object(raw.get("objectSelector") or {}),
    )


def _compile_policy(obj: Mapping[str, Any]) -> _Policy | None:
    spec = obj.get("spec") or {}
    try:
        validations = []
        for index, raw in enumerate(spec.get("validations") or ()):
            message_expression = raw.get("messageExpression")
            validations.append(
                _Validation(
                    index=index,
                    expression=str(raw.get("expression") or ""),
                    program=compile_policy_expression(str(raw.get("expression") or "")),
                    message=str(raw.get("message") or ""),
                    message_expression=(
                        compile_policy_expression(str(message_expression))
                        if message_expression
                        else None
                    ),
                    reason=str(raw.get("reason") or ""),
                )
            )
        param_kind = spec.get("paramKind")
        return _Policy(
            name=str((obj.get("metadata") or {}).get("name") or ""),
            failure_policy=str(spec.get("failurePolicy") or "Fail"),
            param_kind=(
                (str(param_kind.get("apiVersion") or ""), str(param_kind.get("kind") or ""))
                if isinstance(param_kind, Mapping)
                else None
            ),
            matcher=_matcher(spec.get("matchConstraints") or {}),
            conditions=tuple(compile_condition(c) for c in spec.get("matchConditions") or ()),
            variables=tuple(
                (
                    str(v.get("name") or ""),
                    compile_policy_expression(str(v.get("expression") or "")),
                )
                for v in spec.get("variables") or ()
            ),
            validations=tuple(validations),
            audit_annotations=tuple(
                (
                    str(a.get("key") or ""),
                    compile_policy_expression(str(a.get("valueExpression") or "")),
                )
                for a in spec.get("auditAnnotations") or ()
            ),
        )
    except CompileError:
        return None  # refused when written; a policy that no longer compiles does nothing


def _compile_binding(obj: Mapping[str, Any]) -> _Binding:
    spec = obj.get("spec") or {}
    ref = spec.get("paramRef")
    ref = ref if isinstance(ref, Mapping) else {}
    selector = ref.get("selector")
    resources = spec.get("matchResources")
    return _Binding(
        name=str((obj.get("metadata") or {}).get("name") or ""),
        policy=str(spec.get("policyName") or ""),
        param_name=str(ref.get("name") or ""),
        param_namespace=str(ref.get("namespace") or ""),
        param_selector=label_selector_from_object(selector)
        if isinstance(selector, Mapping)
        else None,
        deny_missing_params=ref.get("parameterNotFoundAction", "Deny") != "Allow",
        has_param_ref=bool(ref),
        matcher=_matcher(resources, binding=True) if isinstance(resources, Mapping) else None,
        actions=frozenset(str(a) for a in spec.get("validationActions") or ()),
    )


class _Compiled:
    """Compiled objects of one kind, each kept while its stored revision lasts."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[int, Any]] = {}

    def get(self, key: str, rev: int, build: Any, obj: Mapping[str, Any]) -> Any:
        cached = self.by_key.get(key)
        if cached is None or cached[0] != rev:
            cached = self.by_key[key] = (rev, build(obj))
        return cached[1]

    def prune(self, live: set[str]) -> None:
        for key in [k for k in self.by_key if k not in live]:
            del self.by_key[key]


class PolicyDispatcher:
    def __init__(self, cache: StateCache, types: TypeTable | None = None) -> None:
        self.cache = cache
        self.types = types
        self._policies = _Compiled()
        self._bindings = _Compiled()

    def _entries(self, rt: ResourceType) -> Iterator[Any]:
        state = self.cache.state(rt.key_prefix)
        return iter(list(state.entries.values())) if state is not None else iter(())

    def _active(self) -> Iterator[tuple[_Policy, _Binding]]:
        bindings = list(self._entries(BINDINGS))
        if not bindings:
            return
        policies: dict[str, _Policy] = {}
        live: set[str] = set()
        for entry in self._entries(POLICIES):
            live.add(entry.key)
            policy = self._policies.get(entry.key, entry.rev, _compile_policy, entry.obj)
            if policy is not None:
                policies[policy.name] = policy
        self._policies.prune(live)
        live = set()
        for entry in sorted(bindings, key=lambda e: e.key):
            live.add(entry.key)
            binding = self._bindings.get(entry.key, entry.rev, _compile_binding, entry.obj)
            policy = policies.get(binding.policy)
            if policy is not None:
                yield policy, binding
        self._bindings.prune(live)

    def _namespace(self, request: AdmissionRequest) -> dict[str, Any] | None:
        if not request.namespace:
            return None
        state = self.cache.state(_NAMESPACES.key_prefix)
        entry = state.get(_NAMESPACES.key("", request.namespace)) if state is not None else None
        if entry is None:
            return None
        return {"apiVersion": "v1", "kind": "Namespace", **entry.obj}

    def validate(self, request: AdmissionRequest) -> None:
        namespace_obj: dict[str, Any] | None = None
        looked_up = False
        for policy, binding in self._active():
            if not looked_up:
                namespace_obj, looked_up = self._namespace(request), True
            labels = ((namespace_obj or {}).get("metadata") or {}).get("labels") or {}
            if not policy.matcher.matches(request, labels):
                continue
            if binding.matcher is not None and not binding.matcher.matches(request, labels):
                continue
            self._evaluate(policy, binding, request, namespace_obj)

    # --- one policy, one binding ------------------------------------------------------------
    def _evaluate(
        self,
        policy: _Policy,
        binding: _Binding,
        request: AdmissionRequest,
        namespace_obj: dict[str, Any] | None,
    ) -> None:
        base = {
            "object": render_object(request.rt, request.obj),
            "oldObject": render_object(request.rt, request.old),
            "request": _request(request),
            "namespaceObject": namespace_obj,
        }
        for condition in policy.conditions:
            try:
                if condition.program.evaluate({**base, "params": None}) is not True:
                    return
            except EvalError as exc:
                self._fail(
                    policy,
                    binding,
                    request,
                    f"failed to evaluate match condition {condition.name}: {exc}",
                )
                return
        params = self._params(policy, binding, request)
        if params is None:
            return
        for param in params:
            activation = {**base, "params": param}
            variables: dict[str, Any] = {}
            activation["variables"] = variables
            for name, program in policy.variables:
                try:
                    variables[name] = program.evaluate(activation)
                except EvalError:
                    continue  # an unused variable that errs does not matter
            for validation in policy.validations:
                self._validation(policy, binding, request, validation, activation)
            for key, program in policy.audit_annotations:
                try:
                    value = program.evaluate(activation)
                except EvalError:
                    continue
                if isinstance(value, str):
                    request.annotations[f"{policy.name}/{key}"] = value

    def _params(
        self, policy: _Policy, binding: _Binding, request: AdmissionRequest
    ) -> list[Any] | None:
        if policy.param_kind is None:
            return [None]
        if not binding.has_param_ref:
            self._fail(policy, binding, request, "no paramRef set on binding")
            return None
        rt = self._param_type(*policy.param_kind)
        if rt is None:
            self._fail(
                policy,
                binding,
                request,
                "failed to find resource referenced by paramKind:"
                f" '{policy.param_kind[0]}, Kind={policy.param_kind[1]}'",
            )
            return None
        namespace = binding.param_namespace or (request.namespace if rt.namespaced else "")
        state = self.cache.state(rt.key_prefix)
        found: list[Any] = []
        if state is not None:
            if binding.param_name:
                entry = state.get(rt.key(namespace, binding.param_name))
                if entry is not None:
                    found.append(render_object(rt, entry.obj))
            elif binding.param_selector is not None:
                for entry in state.scan(rt.prefix_for(namespace)):
                    labels = (entry.obj.get("metadata") or {}).get("labels") or {}
                    if binding.param_selector.matches(labels):
                        found.append(render_object(rt, entry.obj))
        if not found:
            if binding.deny_missing_params:
                self._deny(
                    policy,
                    binding,
                    request,
                    "failed to configure binding: no params found for policy binding with"
                    " `Deny` parameterNotFoundAction",
                    "",
                )
            return None
        return found

    def _param_type(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        candidates = list(BUILTIN) + (self.types.all() if self.types is not None else [])
        for rt in candidates:
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def _validation(
        self,
        policy: _Policy,
        binding: _Binding,
        request: AdmissionRequest,
        validation: _Validation,
        activation: dict[str, Any],
    ) -> None:
        try:
            result = validation.program.evaluate(activation)
        except EvalError as exc:
            if policy.failure_policy != "Ignore":
                self._act(
                    policy,
                    binding,
                    request,
                    validation,
                    f"expression '{validation.expression}' resulted in error: {exc}",
                )
            return
        if result is True:
            return
        message = validation.message or f"failed expression: {validation.expression.strip()}"
        if validation.message_expression is not None:
            try:
                text = validation.message_expression.evaluate(activation)
            except EvalError:
                text = None
            if isinstance(text, str) and text.strip() and "\n" not in text.strip():
                message = text.strip()
        self._act(policy, binding, request, validation, message)

    def _act(
        self,
        policy: _Policy,
        binding: _Binding,
        request: AdmissionRequest,
        validation: _Validation,
        message: str,
    ) -> None:
        if "Audit" in binding.actions:
            failures = orjson.loads(request.annotations.get(_FAILURE_KEY, "[]"))
            failures.append(
                {
                    "message": message,
                    "policy": policy.name,
                    "binding": binding.name,
                    "expressionIndex": validation.index,
                    "validationActions": sorted(binding.actions),
                }
            )
            request.annotations[_FAILURE_KEY] = orjson.dumps(failures).decode()
        if "Warn" in binding.actions:
            request.warnings.append(
                f"Validation failed for ValidatingAdmissionPolicy '{policy.name}' with binding"
                f" '{binding.name}': {message}"
            )
        if "Deny" in binding.actions:
            self._deny(policy, binding, request, message, validation.reason)

    def _fail(
        self, policy: _Policy, binding: _Binding, request: AdmissionRequest, message: str
    ) -> None:
        """A policy that could not be evaluated: denied under Fail, skipped under Ignore."""
        if policy.failure_policy != "Ignore" and "Deny" in binding.actions:
            self._deny(policy, binding, request, message, "")

    @staticmethod
    def _deny(
        policy: _Policy, binding: _Binding, request: AdmissionRequest, message: str, reason: str
    ) -> None:
        text = (
            f"ValidatingAdmissionPolicy '{policy.name}' with binding '{binding.name}' denied"
            f" request: {message}"
        )
        rt = request.rt
        name = request.name or "Unknown"
        resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
        reason = reason or "Invalid"
        raise StatusError(
            _REASON_CODES.get(reason, 422),
            reason,
            f'{resource} "{name}" is forbidden: {text}',
            Details(name=name, group=rt.group, kind=rt.plural, causes=(Cause("", text),)),
        )


def _request(request: AdmissionRequest) -> dict[str, Any]:
    rt = request.rt
    user = (
        user_info_dict(request.user)
        if request.user is not None
        else {"username": "system:apiserver", "groups": ["system:masters"]}
    )
    return {
        "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
        "subResource": request.subresource,
        "name": request.name,
        "namespace": request.namespace,
        "operation": request.operation,
        "userInfo": user,
        "dryRun": request.dry_run,
        "options": request.options,
    }
