"""Defaulting of built-in kinds, as kube-apiserver v1.36 does it.

kube-apiserver runs the `SetDefaults_*` functions of a kind's API group (recursively: a pod
template inside a Deployment gets the pod spec defaults) whenever it decodes an object, so on
every create and update and again when it reads the object back from etcd; on create the
registry strategy's `PrepareForCreate` also resets and initialises status (a new Pod is
`Pending` with its QoS class, a new Namespace `Active`). Clients see the result in every
response, and operators and `kubectl diff` depend on it, so strom reproduces it:

- `apply_defaults` - the defaulters; in place, idempotent, for every write.
- `initial_status` - the create-time status initialisation (plus the few create-only
  mutations that need no other object: a Job's generated selector, a DaemonSet's template
  generation annotation, the DefaultTolerationSeconds and Priority admission defaults of pods).

Both also write what Go's encoder always writes (empty structs such as `"resources":{}`,
zero counters in some statuses) and put keys in Go struct field order, so responses look
like kube-apiserver's. Custom resources are not handled here (their defaults come from
their OpenAPI schema).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, struct
from strom.registry.defaults.admissionregistration import ADMISSION_DEFAULTERS
from strom.registry.defaults.cluster import CLUSTER_DEFAULTERS
from strom.registry.defaults.core import CORE_DEFAULTERS
from strom.registry.defaults.platform import PLATFORM_DEFAULTERS, PLATFORM_RESETS_STATUS
from strom.registry.defaults.pods import default_pod, pod_admission_defaults, qos_class
from strom.registry.defaults.structural import apply_schema_defaults
from strom.registry.defaults.workloads import WORKLOAD_DEFAULTERS
from strom.registry.kinds import ResourceType

__all__ = ["apply_defaults", "initial_status", "pod_admission_defaults", "qos_class"]

_WORKLOAD_GROUPS = {
    "Deployment": "apps",
    "DaemonSet": "apps",
    "StatefulSet": "apps",
    "ReplicaSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
    "HorizontalPodAutoscaler": "autoscaling",
}
_DEFAULTERS: dict[tuple[str, str], Any] = {
    ("", "Pod"): default_pod,
    **{("", kind): fn for kind, fn in CORE_DEFAULTERS.items()},
    **{(_WORKLOAD_GROUPS[kind], kind): fn for kind, fn in WORKLOAD_DEFAULTERS.items()},
    **CLUSTER_DEFAULTERS,
    **ADMISSION_DEFAULTERS,
    **PLATFORM_DEFAULTERS,
}
# Kinds whose PrepareForCreate starts status over (the CRD strategy writes its own status).
_RESETS_STATUS = {
    ("", "Pod"),
    ("", "Service"),
    ("", "ReplicationController"),
    ("", "ResourceQuota"),
    ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"),
    ("", "Namespace"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("networking.k8s.io", "Ingress"),
    ("policy", "PodDisruptionBudget"),
    ("storage.k8s.io", "VolumeAttachment"),
    *PLATFORM_RESETS_STATUS,
}
_NAMESPACE_FINALIZER = "kubernetes"
_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
_CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def apply_defaults(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Default an object in place (kube's SetObjectDefaults_<Kind>, or for a custom resource
    its CRD schema's `default`s); idempotent.

    `obj` is the whole object; apiVersion and kind may be missing (the kind comes from `rt`).
    """
    if rt.crd is not None:
        schema = (rt.crd.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict):
            apply_schema_defaults(schema, obj)
        return
    defaulter = _DEFAULTERS.get((rt.group, rt.kind))
    if defaulter is not None:
        defaulter(obj)


def initial_status(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Create-only initialisation (kube's PrepareForCreate); call once, on create, after the
    server has set metadata.name and metadata.uid. Also applies the defaults."""
    if rt.crd is not None:
        return
    key = (rt.group, rt.kind)
    if key in _RESETS_STATUS:
        obj.pop("status", None)
    apply_defaults(rt, obj)
    initialiser = _INITIALISERS.get(key)
    if initialiser is not None:
        initialiser(obj)
        apply_defaults(rt, obj)


def _init_pod(obj: Obj) -> None:
    spec = child(obj, "spec") or {}
    status: Obj = {"phase": "Pending", "qosClass": qos_class(spec)}
    if spec.get("schedulingGates"):
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": _now(),
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }
        ]
    obj["status"] = status
    pod_admission_defaults(obj)


def _init_namespace(obj: Obj) -> None:
    obj["status"] = {"phase": "Active"}
    spec = struct(obj, "spec")
    if spec is None:
        return
    finalizers = spec.get("finalizers")
    if not isinstance(finalizers, list):
        spec["finalizers"] = [_NAMESPACE_FINALIZER]
    elif _NAMESPACE_FINALIZER not in finalizers:
        finalizers.append(_NAMESPACE_FINALIZER)


def _init_persistent_volume(obj: Obj) -> None:
    obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": _now()}


def _init_job(obj: Obj) -> None:
    """generateSelector, unless the user asked for a manual selector."""
    spec = child(obj, "spec")
    meta = child(obj, "metadata") or {}
    if spec is None or spec.get("manualSelector") is True:
        return
    template = struct(spec, "template")
    template_meta = struct(template, "metadata") if template is not None else None
    if template_meta is None:
        return
    labels = _labels(template_meta, "labels")
    for label in _JOB_NAME_LABELS:
        labels.setdefault(label, meta.get("name", ""))
    for label in _CONTROLLER_UID_LABELS:
        labels.setdefault(label, meta.get("uid", ""))
    _sort_keys(labels)
    selector = struct(spec, "selector")
    if selector is not None:
        match_labels = _labels(selector, "matchLabels")
        match_labels.setdefault(_CONTROLLER_UID_LABELS[1], meta.get("uid", ""))
        _sort_keys(match_labels)
        conform(selector, ("matchLabels", "matchExpressions"))
    conform(spec, ORDER["JobSpec"])


def _init_daemon_set(obj: Obj) -> None:
    """apps/v1 carries the internal spec.templateGeneration (1 on create) as an annotation."""
    meta = struct(obj, "metadata")
    if meta is None:
        return
    annotations = _labels(meta, "annotations")
    annotations.setdefault(_TEMPLATE_GENERATION, "1")
    _sort_keys(annotations)


def _labels(obj: Obj, key: str) -> dict[str, Any]:
    """A string map under `key`, created when missing."""
    value = child(obj, key)
    if value is None:
        value = obj[key] = {}
    return value


def _sort_keys(mapping: dict[str, Any]) -> None:
    """Go writes maps with sorted keys."""
    ordered = sorted(mapping.items())
    mapping.clear()
    mapping.update(ordered)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_INITIALISERS: dict[tuple[str, str], Any] = {
    ("", "Pod"): _init_pod,
    ("", "Namespace"): _init_namespace,
    ("", "PersistentVolume"): _init_persistent_volume,
    ("batch", "Job"): _init_job,
    ("apps", "DaemonSet"): _init_daemon_set,
}
