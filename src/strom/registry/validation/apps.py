"""Workload controllers: apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet) and batch/v1.

Every controller carries a pod template that its selector must match
(`selector` does not match template `labels`), and in apps/v1 the selector never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.errors import Cause

from . import fielderrors as fe
from .meta import (
    FIELD_IMMUTABLE,
    IS_NEGATIVE_MSG,
    as_list,
    as_map,
    name_is_dns_subdomain,
    semantic_equal,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from .pods import validate_pod_template

__all__ = ["validate_workload", "validate_workload_update"]

_SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_STS_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template',"
    " 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and"
    " 'minReadySeconds' are forbidden"
)
_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels)."""
    for label, value in as_map(selector.get("matchLabels")).items():
        if labels.get(label) != value:
            return False
    for requirement in as_list(selector.get("matchExpressions")):
        requirement = as_map(requirement)
        key, operator = str(requirement.get("key")), requirement.get("operator")
        values = as_list(requirement.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _sorted_map(value: Any) -> Any:
    """Go prints a map[string]string as JSON with sorted keys; null when unset."""
    if not isinstance(value, Mapping):
        return None
    return {k: value[k] for k in sorted(value)}


def _nonnegative(spec: Mapping[str, Any], keys: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    for key in keys:
        value = spec.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            causes.append(fe.invalid(f"spec.{key}", value, IS_NEGATIVE_MSG))
    return causes


def _selector_and_template(
    spec: Mapping[str, Any], *, empty_message: str, template_path: str = "spec.template"
) -> list[Cause]:
    """The selector rules and ValidatePodTemplateSpecForReplicaSet's label match."""
    causes: list[Cause] = []
    selector = spec.get("selector")
    selector_is_empty = False
    if selector is None:
        causes.append(fe.required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
        selector = as_map(selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            selector_is_empty = True
            if empty_message:
                causes.append(fe.invalid("spec.selector", dict(selector), empty_message))
    # The template is a struct, not a pointer, upstream: a missing one is an empty one.
    template = as_map(spec.get("template"))
    labels = as_map(template.get("metadata")).get("labels")
    # A missing selector selects nothing; an empty one everything.
    matches = selector is not None and selector_matches(as_map(selector), as_map(labels))
    if not selector_is_empty and not matches:
        path = f"{template_path}.metadata.labels"
        causes.append(fe.invalid(path, _sorted_map(labels), _SELECTOR_MISMATCH))
    return causes + validate_pod_template(template, template_path)


def _template_restart_policy(template: Any, path: str, supported: tuple[str, ...]) -> list[Cause]:
    """Pod template restartPolicy; absent means Always, the pod default."""
    policy = as_map(as_map(template).get("spec")).get("restartPolicy") or "Always"
    if policy in supported:
        return []
    return [fe.not_supported(f"{path}.spec.restartPolicy", policy, supported)]


def _replicated_spec(spec: Mapping[str, Any], kind: str) -> list[Cause]:
    """Deployment/ReplicaSet/StatefulSet/DaemonSet spec rules."""
    empty = {
        "Deployment": "empty selector is invalid for deployment",
        "ReplicaSet": "empty selector is invalid for deployment",
        "StatefulSet": "empty selector is invalid for statefulset",
        "DaemonSet": "empty selector is invalid for daemonset",
    }[kind]
    causes = _nonnegative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
    causes += _selector_and_template(spec, empty_message=empty)
    causes += _template_restart_policy(spec.get("template"), "spec.template", ("Always",))
    template_spec = as_map(as_map(spec.get("template")).get("spec"))
    if template_spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            fe.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return causes + _strategy(spec, kind)


def _strategy(spec: Mapping[str, Any], kind: str) -> list[Cause]:
    if kind == "Deployment":
        value = as_map(spec.get("strategy")).get("type")
        supported: tuple[str, ...] = ("Recreate", "RollingUpdate")
        path = "spec.strategy.type"
    elif kind in ("StatefulSet", "DaemonSet"):
        value = as_map(spec.get("updateStrategy")).get("type")
        supported = ("OnDelete", "RollingUpdate")
        path = "spec.updateStrategy.type"
        if kind == "StatefulSet":
            policy = spec.get("podManagementPolicy")
            if policy is not None and policy not in ("OrderedReady", "Parallel"):
                return [
                    fe.not_supported(
                        "spec.podManagementPolicy", policy, ("OrderedReady", "Parallel")
                    )
                ]
    else:
        return []
    if value is None or value in supported:
        return []
    return [fe.not_supported(path, value, supported)]


def _job_spec(spec: Mapping[str, Any], template_path: str = "spec.template") -> list[Cause]:
    causes = _nonnegative(spec, ("parallelism", "completions", "backoffLimit"))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        causes.append(fe.invalid("spec.activeDeadlineSeconds", deadline, "must be greater than 0"))
    # The Job strategy generates the selector unless manualSelector is set.
    if spec.get("selector") is not None:
        causes += _selector_and_template(spec, empty_message="", template_path=template_path)
    else:
        causes += validate_pod_template(spec.get("template"), template_path)
    restart = _template_restart_policy(spec.get("template"), template_path, ("OnFailure", "Never"))
    return causes + restart


def _cron_job_name(obj: Mapping[str, Any]) -> list[Cause]:
    """Only on create: Job names get an 11-character suffix and must stay DNS labels."""
    name = str(as_map(obj.get("metadata")).get("name") or "")
    if len(name) > 52:
        return [fe.invalid("metadata.name", name, "must be no more than 52 characters")]
    return []


def _cron_job(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = as_map(obj.get("spec"))
    if not spec.get("schedule"):
        causes.append(fe.required("spec.schedule"))
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        causes.append(
            fe.not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
        )
    job_spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
    if job_spec.get("template") is not None:
        template_path = "spec.jobTemplate.spec.template"
        causes += validate_pod_template(job_spec.get("template"), template_path)
        causes += _template_restart_policy(
            job_spec.get("template"), template_path, ("OnFailure", "Never")
        )
    return causes


def validate_workload(kind: str, obj: Mapping[str, Any]) -> list[Cause]:
    """Create-time validation of the workload kinds."""
    meta = as_map(obj.get("metadata"))
    causes = validate_object_meta(meta, namespaced=True, name_fn=name_is_dns_subdomain)
    spec = as_map(obj.get("spec"))
    if kind == "Job":
        return causes + _job_spec(spec)
    if kind == "CronJob":
        return causes + _cron_job_name(obj) + _cron_job(obj)
    return causes + _replicated_spec(spec, kind)


def validate_workload_update(
    kind: str, new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    causes = validate_object_meta_update(as_map(new.get("metadata")), as_map(old.get("metadata")))
    new_spec, old_spec = as_map(new.get("spec")), as_map(old.get("spec"))
    if kind == "CronJob":
        return causes + _cron_job(new)
    causes += _job_spec(new_spec) if kind == "Job" else _replicated_spec(new_spec, kind)
    # kind is one of the apps/v1 controllers or Job here: their selectors never change.
    if not semantic_equal(new_spec.get("selector"), old_spec.get("selector")):
        causes.append(fe.invalid("spec.selector", new_spec.get("selector"), FIELD_IMMUTABLE))
    if kind == "Job" and not semantic_equal(new_spec.get("template"), old_spec.get("template")):
        causes.append(fe.invalid("spec.template", new_spec.get("template"), FIELD_IMMUTABLE))
    if kind == "StatefulSet":
        frozen_new = {k: v for k, v in new_spec.items() if k not in _STS_MUTABLE}
        frozen_old = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
        if not semantic_equal(frozen_new, frozen_old):
            causes.append(fe.forbidden("spec", _STS_UPDATE_FORBIDDEN))
    return causes
