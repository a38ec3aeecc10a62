"""Calling admission webhooks: AdmissionReview v1 out, its answer checked and applied.

Mutating webhooks run one after another (ordered by configuration name, then position), each
seeing the previous one's patch; those with `reinvocationPolicy: IfNeeded` run once more when
a later webhook changed the object. Validating webhooks run concurrently and the first
refusal in order wins. A call that fails (unreachable, timed out, an answer that is not a
valid AdmissionReview for this request) is skipped under `failurePolicy: Ignore` and is a
500 under `Fail`, worded as kube words it (`failed calling webhook "x": …`); a refusal is
the webhook's own status (default 403, `admission webhook "x" denied the request: …`).
Read from k8s.io/apiserver/pkg/admission/plugin/webhook (dispatchers, request, errors).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonpatch
import orjson

from strom.cache.state import StateCache
from strom.cel import EvalError
from strom.errors import Cause, Details, StatusError
from strom.registry.hooks import AdmissionRequest
from strom.registry.kinds import BUILTIN, ResourceType
from strom.uids import random_uuid
from strom.user import user_info_dict

from .webhook_client import CallError, Target, post_json
from .webhook_rules import Webhook, compile_webhook
from .webhook_target import TargetError, resolve_target

__all__ = ["Observer", "WebhookDispatcher", "render_object"]

_GROUP = "admissionregistration.k8s.io"
MUTATING = next(
    t for t in BUILTIN if t.group == _GROUP and t.kind == "MutatingWebhookConfiguration"
)
VALIDATING = next(
    t for t in BUILTIN if t.group == _GROUP and t.kind == "ValidatingWebhookConfiguration"
)
_NAMESPACES = next(t for t in BUILTIN if t.group == "" and t.plural == "namespaces")

# (webhook name, "admit" | "validating", operation, rejected, seconds)
Observer = Callable[[str, str, str, bool, float], None]


class _CallFailed(Exception):
    """A webhook call that produced no usable answer (subject to the failure policy)."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    rev: int
    webhooks: tuple[Webhook, ...]


def render_object(rt: ResourceType, obj: Mapping[str, Any] | None) -> Any:
    """An object as the webhook receives it: with its apiVersion and kind."""
    if obj is None:
        return None
    out = {"apiVersion": rt.api_version, "kind": rt.kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return out


def _user_info(request: AdmissionRequest) -> dict[str, Any]:
    if request.user is None:  # strom's own controllers, as kube's loopback client
        return {"username": "system:apiserver", "groups": ["system:masters"]}
    return user_info_dict(request.user)


class WebhookDispatcher:
    """The two webhook admission plugins over the configurations in the state cache."""

    def __init__(self, cache: StateCache, observe: Observer | None = None) -> None:
        self.cache = cache
        self.observe = observe
        # configuration key -> its compiled webhooks at one revision (only the dispatcher
        # changes it; entries of deleted configurations are dropped when seen missing)
        self._compiled: dict[str, _Compiled] = {}

    # --- configurations ---------------------------------------------------------------------
    def webhooks(self, rt: ResourceType) -> list[Webhook]:
        state = self.cache.state(rt.key_prefix)
        if state is None:
            return []
        out: list[Webhook] = []
        seen: set[str] = set()
        for key in sorted(state.entries):
            entry = state.entries[key]
            seen.add(key)
            compiled = self._compiled.get(key)
            if compiled is None or compiled.rev != entry.rev:
                name = str((entry.obj.get("metadata") or {}).get("name") or "")
                hooks = tuple(
                    compile_webhook(raw, name, mutating=rt is MUTATING)
                    for raw in entry.obj.get("webhooks") or ()
                )
                compiled = self._compiled[key] = _Compiled(entry.rev, hooks)
            out.extend(compiled.webhooks)
        for key in [k for k in self._compiled if k.startswith(rt.key_prefix) and k not in seen]:
            del self._compiled[key]
        return out

    def has_mutating(self) -> bool:
        state = self.cache.state(MUTATING.key_prefix)
        return bool(state is not None and state.entries)

    def _namespace_labels(self, request: AdmissionRequest) -> Mapping[str, str] | None:
        if not request.rt.namespaced or not request.namespace:
            return None
        state = self.cache.state(_NAMESPACES.key_prefix)
        entry = state.get(_NAMESPACES.key("", request.namespace)) if state is not None else None
        if entry is None:
            return None
        return (entry.obj.get("metadata") or {}).get("labels") or {}

    def _matching(self, rt: ResourceType, request: AdmissionRequest) -> list[Webhook]:
        hooks = self.webhooks(rt)
        if not hooks:
            return []
        labels = self._namespace_labels(request)
        return [h for h in hooks if h.matches(request, labels)]

    # --- the two phases ---------------------------------------------------------------------
    async def mutate(self, request: AdmissionRequest) -> None:
        hooks = self._matching(MUTATING, request)
        if not hooks:
            return
        changed_after: dict[str, bool] = {}
        for hook in hooks:
            if await self._mutate_once(hook, request):
                for name in changed_after:
                    changed_after[name] = True
            if hook.reinvoke:
                changed_after[hook.name] = False
        # IfNeeded: once more for each webhook whose object a later webhook changed
        for hook in hooks:
            if hook.reinvoke and changed_after.get(hook.name):
                await self._mutate_once(hook, request)

    async def validate(self, request: AdmissionRequest) -> None:
        hooks = self._matching(VALIDATING, request)
        if not hooks:
            return
        results = await asyncio.gather(
            *(self._call_checked(h, request) for h in hooks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    # --- one call ---------------------------------------------------------------------------
    async def _mutate_once(self, hook: Webhook, request: AdmissionRequest) -> bool:
        """Call one mutating webhook; True when its patch changed the object."""
        response = await self._call_checked(hook, request)
        if response is None:
            return False
        patch = response.get("patch")
        if not patch or request.obj is None:
            return False
        try:
            operations = orjson.loads(base64.b64decode(patch))
            before = render_object(self._version_rt(hook, request), request.obj)
            patched = jsonpatch.JsonPatch(operations).apply(copy.deepcopy(before))
        except (
            ValueError,
            TypeError,
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
        ) as exc:
            raise StatusError.internal(str(exc) or "invalid JSON patch") from exc
        if not isinstance(patched, dict):
            raise StatusError.internal("the webhook's patch did not produce an object")
        if patched == before:
            return False
        patched["apiVersion"] = request.rt.api_version
        request.obj = patched
        return True

    async def _call_checked(self, hook: Webhook, request: AdmissionRequest) -> Any:
        """The webhook's response, None when skipped (conditions false, or failed under
        Ignore); a refusal raises its StatusError."""
        kind = "admit" if hook.mutating else "validating"
        started = time.monotonic()
        rejected = False
        try:
            if not self._conditions_hold(hook, request):
                return None
            if request.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
                raise StatusError.bad_request(
                    f'admission webhook "{hook.name}" does not support dry run'
                )
            try:
                response = await self._call(hook, request)
            except _CallFailed as exc:
                if hook.failure_policy == "Ignore":
                    return None
                rejected = True
                raise StatusError.internal(f'failed calling webhook "{hook.name}": {exc}') from exc
            _record(hook, request, response)
            if response.get("allowed") is not True:
                rejected = True
                raise _denied(hook, request, response.get("status") or {})
            return response
        finally:
            if self.observe is not None:
                self.observe(
                    hook.name, kind, request.operation, rejected, time.monotonic() - started
                )

    def _conditions_hold(self, hook: Webhook, request: AdmissionRequest) -> bool:
        if not hook.conditions:
            return True
        activation = {
            "object": render_object(request.rt, request.obj),
            "oldObject": render_object(request.rt, request.old),
            "request": self._request_body(hook, request, ""),
        }
        failed: list[str] = []
        for condition in hook.conditions:
            try:
                if condition.program.evaluate(activation) is not True:
                    return False
            except EvalError as exc:
                failed.append(f"{condition.name}: {exc}")
        if failed and hook.failure_policy != "Ignore":
            raise StatusError.internal(
                f'failed calling webhook "{hook.name}": match condition evaluation error: '
                + "; ".join(failed)
            )
        return not failed

    def _version_rt(self, hook: Webhook, request: AdmissionRequest) -> ResourceType:
        version = hook.matched_version(request)
        if version == request.rt.version:
            return request.rt
        from dataclasses import replace

        return replace(request.rt, version=version)

    def _request_body(self, hook: Webhook, request: AdmissionRequest, uid: str) -> dict[str, Any]:
        rt = self._version_rt(hook, request)
        body: dict[str, Any] = {
            "uid": uid,
            "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "requestKind": {
                "group": request.rt.group,
                "version": request.rt.version,
                "kind": request.rt.kind,
            },
            "requestResource": {
                "group": request.rt.group,
                "version": request.rt.version,
                "resource": request.rt.plural,
            },
            "name": request.name,
            "operation": request.operation,
            "userInfo": _user_info(request),
            "object": render_object(rt, request.obj),
            "oldObject": render_object(rt, request.old),
            "dryRun": request.dry_run,
        }
        if request.subresource:
            body["subResource"] = body["requestSubResource"] = request.subresource
        if request.namespace:
            body["namespace"] = request.namespace
        if request.options is not None:
            body["options"] = request.options
        return body

    async def _call(self, hook: Webhook, request: AdmissionRequest) -> dict[str, Any]:
        uid = random_uuid()
        review = {
            "kind": "AdmissionReview",
            "apiVersion": "admission.k8s.io/v1",
            "request": self._request_body(hook, request, uid),
        }
        target = self._target(hook)
        try:
            answer = await post_json(target, review, float(hook.timeout_seconds))
        except CallError as exc:
            raise _CallFailed(f"failed to call webhook: {exc}") from exc
        return _checked_response(answer, uid, mutating=hook.mutating)

    def _target(self, hook: Webhook) -> Target:
        try:
            return resolve_target(
                self.cache, hook.url, hook.service, hook.ca_bundle, hook.timeout_seconds
            )
        except TargetError as exc:
            raise _CallFailed(f"failed to call webhook: {exc}") from exc


def _record(hook: Webhook, request: AdmissionRequest, response: Mapping[str, Any]) -> None:
    """The answer's warnings (Warning headers) and audit annotations (as
    `<webhook name>/<key>` on the request's audit event), allowed or not."""
    request.warnings += response.get("warnings") or []
    annotations = response.get("auditAnnotations")
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            if isinstance(key, str) and isinstance(value, str):
                request.annotations[f"{hook.name}/{key}"] = value


def _checked_response(answer: Any, uid: str, *, mutating: bool) -> dict[str, Any]:
    """VerifyAdmissionResponse: the answer must be this request's AdmissionReview v1."""

    def invalid(detail: str) -> _CallFailed:
        return _CallFailed(f"received invalid webhook response: {detail}")

    if not isinstance(answer, dict):
        raise invalid("expected an AdmissionReview object")
    api_version, kind = answer.get("apiVersion"), answer.get("kind")
    if api_version != "admission.k8s.io/v1" or kind != "AdmissionReview":
        raise invalid(
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got"
            f" {api_version or ''}, Kind={kind or ''}"
        )
    response = answer.get("response")
    if not isinstance(response, dict):
        raise invalid("webhook response was absent")
    if response.get("uid") != uid:
        raise invalid(f'expected response.uid="{uid}", got "{response.get("uid") or ""}"')
    patch, patch_type = response.get("patch"), response.get("patchType")
    if mutating:
        if patch and not patch_type:
            raise invalid("webhook returned response.patch but not response.patchType")
        if patch_type and patch_type != "JSONPatch":
            raise invalid(f'webhook returned invalid response.patchType of "{patch_type}"')
    elif patch or patch_type:
        raise invalid("validating webhook may not return response.patch")
    warnings = response.get("warnings")
    if warnings is not None and not (
        isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)
    ):
        raise invalid("response.warnings must be a list of strings")
    return response


def _details(raw: Any, fallback: Details) -> Details:
    if not isinstance(raw, dict):
        return fallback
    causes = tuple(
        Cause(str(c.get("reason") or ""), str(c.get("message") or ""), str(c.get("field") or ""))
        for c in raw.get("causes") or ()
        if isinstance(c, dict)
    )
    return Details(
        name=str(raw.get("name") or ""),
        group=str(raw.get("group") or ""),
        kind=str(raw.get("kind") or ""),
        uid=str(raw.get("uid") or ""),
        causes=causes,
    )


def _denied(hook: Webhook, request: AdmissionRequest, status: Mapping[str, Any]) -> StatusError:
    """webhookerrors.ToStatusErr: the webhook's status, worded as kube words a refusal."""
    raw_code = status.get("code")
    code = raw_code if isinstance(raw_code, int) and 400 <= raw_code <= 599 else 403
    denied = f'admission webhook "{hook.name}" denied the request'
    message, reason = str(status.get("message") or ""), str(status.get("reason") or "")
    if message:
        text = f"{denied}: {message}"
    elif reason:
        text = f"{denied}: {reason}"
    else:
        text = f"{denied} without explanation"
    name = request.name or "Unknown"
    rt = request.rt
    if code == 500:
        details = _details(status.get("details"), Details(causes=(Cause("", text),)))
        return StatusError(
            500, reason or "InternalError", f"Internal error occurred: {text}", details
        )
    resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    # kind is the resource here: kube copies apierrors.NewForbidden, which does the same
    details = _details(status.get("details"), Details(name=name, group=rt.group, kind=rt.plural))
    return StatusError(
        code, reason or "Forbidden", f'{resource} "{name}" is forbidden: {text}', details
    )
