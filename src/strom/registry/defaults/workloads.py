"""Defaults of the workload kinds (pkg/apis/apps/v1, batch/v1 and autoscaling/v2 defaults.go):
their own fields, then the pod template each carries."""

from __future__ import annotations

import copy
from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, items, struct
from strom.registry.defaults.core import default_pvc
from strom.registry.defaults.pods import default_pod_template

__all__ = ["WORKLOAD_DEFAULTERS"]

_INT32_MAX = 2**31 - 1
_SCALE_UP_RULES: Obj = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_RULES: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _template(spec: Obj) -> None:
    template = struct(spec, "template")
    if template is not None:
        default_pod_template(template)


def _status(obj: Obj, order: str, zeros: tuple[str, ...] = ()) -> None:
    """The status struct, with the int fields that have no omitempty written as 0."""
    status = struct(obj, "status")
    if status is not None:
        for key in zeros:
            status.setdefault(key, 0)
        if order:
            conform(status, ORDER[order])


def _finish(obj: Obj) -> None:
    struct(obj, "metadata")
    conform(obj, ORDER["object"])


def default_deployment(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        _template(spec)
        strategy = struct(spec, "strategy")
        if strategy is not None:
            if not strategy.get("type"):
                strategy["type"] = "RollingUpdate"
            if strategy["type"] == "RollingUpdate":
                rolling = struct(strategy, "rollingUpdate")
                if rolling is not None:
                    _setdefault_none(rolling, "maxUnavailable", "25%")
                    _setdefault_none(rolling, "maxSurge", "25%")
                    conform(rolling, ORDER["RollingUpdate"])
            conform(strategy, ORDER["strategy"])
        _setdefault_none(spec, "revisionHistoryLimit", 10)
        _setdefault_none(spec, "progressDeadlineSeconds", 600)
        conform(spec, ORDER["DeploymentSpec"])
    _status(obj, "")
    _finish(obj)


def _setdefault_none(obj: Obj, key: str, value: Any) -> None:
    """Default a pointer field: only absent or null counts as unset."""
    if obj.get(key) is None:
        obj[key] = value


def default_daemon_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        _template(spec)
        strategy = struct(spec, "updateStrategy")
        if strategy is not None:
            if not strategy.get("type"):
                strategy["type"] = "RollingUpdate"
            if strategy["type"] == "RollingUpdate":
                rolling = struct(strategy, "rollingUpdate")
                if rolling is not None:
                    _setdefault_none(rolling, "maxUnavailable", 1)
                    _setdefault_none(rolling, "maxSurge", 0)
                    conform(rolling, ORDER["RollingUpdate"])
            conform(strategy, ORDER["strategy"])
        _setdefault_none(spec, "revisionHistoryLimit", 10)
        conform(spec, ORDER["DaemonSetSpec"])
    _status(
        obj,
        "DaemonSetStatus",
        ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"),
    )
    _finish(obj)


def default_stateful_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        _template(spec)
        for claim in items(spec, "volumeClaimTemplates"):
            default_pvc(claim)
        if not spec.get("podManagementPolicy"):
            spec["podManagementPolicy"] = "OrderedReady"
        strategy = struct(spec, "updateStrategy")
        if strategy is not None:
            if not strategy.get("type"):
                strategy["type"] = "RollingUpdate"
                struct(strategy, "rollingUpdate")
            rolling = child(strategy, "rollingUpdate")
            if strategy["type"] == "RollingUpdate" and rolling is not None:
                _setdefault_none(rolling, "partition", 0)
                _setdefault_none(rolling, "maxUnavailable", 1)  # MaxUnavailableStatefulSet: beta
                conform(rolling, ORDER["RollingUpdateStatefulSetStrategy"])
            conform(strategy, ORDER["strategy"])
        retention = struct(spec, "persistentVolumeClaimRetentionPolicy")
        if retention is not None:
            for key in ("whenDeleted", "whenScaled"):
                if not retention.get(key):
                    retention[key] = "Retain"
            conform(retention, ORDER["StatefulSetPersistentVolumeClaimRetentionPolicy"])
        _setdefault_none(spec, "replicas", 1)
        _setdefault_none(spec, "revisionHistoryLimit", 10)
        conform(spec, ORDER["StatefulSetSpec"])
    _status(obj, "StatefulSetStatus", ("replicas", "availableReplicas"))
    _finish(obj)


def default_replica_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        _setdefault_none(spec, "replicas", 1)
        _template(spec)
        conform(spec, ORDER["ReplicaSetSpec"])
    _status(obj, "ReplicaSetStatus", ("replicas",))
    _finish(obj)


def default_job(obj: Obj) -> None:
    """SetDefaults_Job."""
    spec = struct(obj, "spec")
    if spec is not None:
        _default_job_spec_common(spec)
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
        _setdefault_none(spec, "parallelism", 1)
        if spec.get("backoffLimit") is None:
            per_index = spec.get("backoffLimitPerIndex") is not None
            spec["backoffLimit"] = _INT32_MAX if per_index else 6
        template = child(spec, "template")
        labels = child(child(template, "metadata") or {}, "labels") if template else None
        meta = struct(obj, "metadata")
        if labels and meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
        _setdefault_none(spec, "completionMode", "NonIndexed")
        _setdefault_none(spec, "suspend", False)
        if spec.get("podReplacementPolicy") is None:
            has_failure_policy = spec.get("podFailurePolicy") is not None
            spec["podReplacementPolicy"] = "Failed" if has_failure_policy else "TerminatingOrFailed"
        _setdefault_none(spec, "manualSelector", False)
        conform(spec, ORDER["JobSpec"])
    _status(obj, "")
    _finish(obj)


def _default_job_spec_common(spec: Obj) -> None:
    """What a JobSpec gets wherever it is (a Job or a CronJob's job template)."""
    _template(spec)
    for rule in items(child(spec, "podFailurePolicy") or {}, "rules"):
        for pattern in items(rule, "onPodConditions"):
            if not pattern.get("status"):
                pattern["status"] = "True"
            conform(pattern, ORDER["PodFailurePolicyOnPodConditionsPattern"])


def default_cron_job(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        if not spec.get("concurrencyPolicy"):
            spec["concurrencyPolicy"] = "Allow"
        _setdefault_none(spec, "suspend", False)
        _setdefault_none(spec, "successfulJobsHistoryLimit", 3)
        _setdefault_none(spec, "failedJobsHistoryLimit", 1)
        job_template = struct(spec, "jobTemplate")
        if job_template is not None:
            struct(job_template, "metadata")
            job_spec = struct(job_template, "spec")
            if job_spec is not None:
                _default_job_spec_common(job_spec)
                conform(job_spec, ORDER["JobSpec"])
            conform(job_template, ORDER["PodTemplateSpec"])
        conform(spec, ORDER["CronJobSpec"])
    _status(obj, "")
    _finish(obj)


def default_hpa(obj: Obj) -> None:
    """autoscaling/v2 SetDefaults_HorizontalPodAutoscaler."""
    spec = struct(obj, "spec")
    if spec is not None:
        struct(spec, "scaleTargetRef")
        _setdefault_none(spec, "minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ]
        behavior = child(spec, "behavior")
        if behavior is not None:
            behavior["scaleUp"] = _scaling_rules(child(behavior, "scaleUp"), _SCALE_UP_RULES)
            behavior["scaleDown"] = _scaling_rules(child(behavior, "scaleDown"), _SCALE_DOWN_RULES)
            conform(behavior, ORDER["HorizontalPodAutoscalerBehavior"])
        conform(spec, ORDER["HorizontalPodAutoscalerSpec"])
    _status(obj, "HorizontalPodAutoscalerStatus", ("desiredReplicas",))
    _finish(obj)


def _scaling_rules(given: Obj | None, defaults: Obj) -> Obj:
    """copyHPAScalingRules: the defaults, overridden by every non-null field given."""
    rules = copy.deepcopy(defaults)
    for key, value in (given or {}).items():
        if value is not None:
            rules[key] = value
    conform(rules, ORDER["HPAScalingRules"])
    return rules


WORKLOAD_DEFAULTERS: dict[str, Any] = {
    "Deployment": default_deployment,
    "DaemonSet": default_daemon_set,
    "StatefulSet": default_stateful_set,
    "ReplicaSet": default_replica_set,
    "Job": default_job,
    "CronJob": default_cron_job,
    "HorizontalPodAutoscaler": default_hpa,
}
