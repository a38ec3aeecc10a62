"""Write-time validation: the causes of kube-apiserver's 422 Invalid, word for word.

`validate_create` / `validate_update` return the `details.causes` kube-apiserver would send
for an object (empty when it is valid); the caller raises `StatusError.invalid(kind, name,
causes)`. Objects are expected to be defaulted already, as kube validates after defaulting,
and a cluster-scoped object's namespace to be cleared. `unknown_fields` serves
fieldValidation=Strict|Warn and `prune_custom_resource` the silent pruning of custom resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strom.errors import Cause
from strom.registry.kinds import ResourceType

from . import (
    admissionregistration,
    apps,
    certificates,
    core,
    crd,
    flowcontrol,
    platform,
    pods,
    rbac,
    storage,
)
from .cel_rules import validate_rules
from .meta import (
    NameFn,
    as_map,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    name_is_path_segment,
    validate_object_meta,
    validate_object_meta_update,
)
from .schema import validate_against_schema
from .unknown_fields import crd_schema, prune_custom_resource, unknown_fields

__all__ = [
    "prune_custom_resource",
    "unknown_fields",
    "validate_create",
    "validate_ephemeral_containers_update",
    "validate_update",
]

validate_ephemeral_containers_update = pods.validate_ephemeral_containers_update

_Obj = Mapping[str, Any]
_WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
}
_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"
_FLOW = "flowcontrol.apiserver.k8s.io"


def _webhooks(mutating: bool) -> Callable[[_Obj], list[Cause]]:
    return lambda obj: admissionregistration.validate_webhook_configuration(obj, mutating=mutating)


# Kind-specific rules beyond ObjectMeta: create(obj) and update(new, old).
_CREATE_RULES: dict[tuple[str, str], Callable[[_Obj], list[Cause]]] = {
    (_ADMISSION, "MutatingWebhookConfiguration"): _webhooks(True),
    (_ADMISSION, "ValidatingWebhookConfiguration"): _webhooks(False),
    (_ADMISSION, "ValidatingAdmissionPolicy"): admissionregistration.validate_admission_policy,
    (_ADMISSION, "ValidatingAdmissionPolicyBinding"): (
        admissionregistration.validate_admission_policy_binding
    ),
    ("", "ConfigMap"): core.validate_config_map,
    (_FLOW, "FlowSchema"): flowcontrol.validate_flow_schema,
    (_FLOW, "PriorityLevelConfiguration"): flowcontrol.validate_priority_level,
    **platform.CREATE_RULES,
    ("certificates.k8s.io", "CertificateSigningRequest"): certificates.validate_csr,
    ("storage.k8s.io", "CSIStorageCapacity"): storage.validate_csi_storage_capacity,
    ("storage.k8s.io", "VolumeAttributesClass"): storage.validate_volume_attributes_class,
    ("", "Secret"): core.validate_secret,
    ("", "Service"): core.validate_service,
    ("coordination.k8s.io", "Lease"): core.validate_lease,
    (_RBAC, "Role"): rbac.validate_namespaced_role,
    (_RBAC, "ClusterRole"): rbac.validate_cluster_role,
    (_RBAC, "RoleBinding"): rbac.validate_namespaced_binding,
    (_RBAC, "ClusterRoleBinding"): rbac.validate_cluster_binding,
}
_UPDATE_RULES: dict[tuple[str, str], Callable[[_Obj, _Obj], list[Cause]]] = {
    (_ADMISSION, "MutatingWebhookConfiguration"): lambda new, _old: _webhooks(True)(new),
    (_ADMISSION, "ValidatingWebhookConfiguration"): lambda new, _old: _webhooks(False)(new),
    (_ADMISSION, "ValidatingAdmissionPolicy"): lambda new, _old: (
        admissionregistration.validate_admission_policy(new)
    ),
    (_ADMISSION, "ValidatingAdmissionPolicyBinding"): lambda new, _old: (
        admissionregistration.validate_admission_policy_binding(new)
    ),
    ("", "ConfigMap"): core.validate_config_map_update,
    (_FLOW, "FlowSchema"): lambda new, _old: flowcontrol.validate_flow_schema(new),
    (_FLOW, "PriorityLevelConfiguration"): lambda new, _old: (
        flowcontrol.validate_priority_level(new)
    ),
    **platform.UPDATE_RULES,
    ("certificates.k8s.io", "CertificateSigningRequest"): certificates.validate_csr_update,
    ("storage.k8s.io", "CSIStorageCapacity"): lambda new, _old: (
        storage.validate_csi_storage_capacity(new)
    ),
    ("storage.k8s.io", "VolumeAttributesClass"): storage.validate_volume_attributes_class_update,
    ("", "Secret"): core.validate_secret_update,
    ("", "Service"): core.validate_service_update,
    ("coordination.k8s.io", "Lease"): lambda new, _old: core.validate_lease(new),
    (_RBAC, "Role"): lambda new, _old: rbac.validate_namespaced_role(new),
    (_RBAC, "ClusterRole"): lambda new, _old: rbac.validate_cluster_role(new),
    (_RBAC, "RoleBinding"): rbac.validate_binding_update,
    (_RBAC, "ClusterRoleBinding"): rbac.validate_cluster_binding_update,
}


def _name_fn(rt: ResourceType) -> NameFn:
    """The name rule of a kind (each kind's ValidateXName upstream)."""
    if rt.crd is None and rt.group == "" and rt.kind == "Namespace":
        return name_is_dns_label
    if rt.crd is None and rt.group == "" and rt.kind == "Service":
        return name_is_dns1035_label
    if rt.crd is None and rt.group == _RBAC:
        return name_is_path_segment
    return name_is_dns_subdomain


def _key(rt: ResourceType) -> tuple[str, str]:
    return (rt.group, rt.kind)


def _meta(obj: _Obj) -> _Obj:
    return as_map(obj.get("metadata"))


def _dedupe(causes: list[Cause]) -> list[Cause]:
    """kube drops repeated messages from the text; repeated causes add nothing either."""
    seen: set[Cause] = set()
    out = []
    for cause in causes:
        if cause not in seen:
            seen.add(cause)
            out.append(cause)
    return out


def _custom_resource(
    rt: ResourceType,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    warnings: list[str] | None,
) -> list[Cause]:
    """The CRD schema's checks, then its CEL rules unless a value has the wrong type (kube's
    "blocking" errors, which leave rules nothing sound to look at)."""
    schema = crd_schema(rt)
    if not schema:
        return []
    causes = validate_against_schema(schema, obj)
    if any(c.reason == "FieldValueTypeInvalid" for c in causes):
        return causes
    rule_causes, rule_warnings = validate_rules(schema, obj, old)
    if warnings is not None:
        warnings += rule_warnings
    return causes + rule_causes


def validate_create(
    rt: ResourceType, obj: Mapping[str, Any], warnings: list[str] | None = None
) -> list[Cause]:
    """The causes kube-apiserver would report creating `obj` as `rt` (empty: valid);
    `warnings` collects what kube only warns about."""
    key = _key(rt)
    if rt.crd is not None:
        causes = validate_object_meta(
            _meta(obj), namespaced=rt.namespaced, name_fn=name_is_dns_subdomain, kube=False
        )
        return _dedupe(causes + _custom_resource(rt, obj, None, warnings))
    if key == ("", "Pod"):
        return _dedupe(pods.validate_pod(obj))
    if key in _WORKLOADS:
        return _dedupe(apps.validate_workload(rt.kind, obj))
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return _dedupe(crd.validate_crd(obj))
    causes = validate_object_meta(_meta(obj), namespaced=rt.namespaced, name_fn=_name_fn(rt))
    rules = _CREATE_RULES.get(key)
    return _dedupe(causes + (rules(obj) if rules else []))


def validate_update(
    rt: ResourceType,
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    warnings: list[str] | None = None,
) -> list[Cause]:
    """The causes kube-apiserver would report replacing `old` by `new` (empty: valid)."""
    key = _key(rt)
    if rt.crd is not None:
        causes = validate_object_meta_update(_meta(new), _meta(old), kube=False)
        return _dedupe(causes + _custom_resource(rt, new, old, warnings))
    if key == ("", "Pod"):
        return _dedupe(pods.validate_pod_update(new, old))
    if key in _WORKLOADS:
        return _dedupe(apps.validate_workload_update(rt.kind, new, old))
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return _dedupe(crd.validate_crd_update(new, old))
    causes = validate_object_meta_update(_meta(new), _meta(old))
    rules = _UPDATE_RULES.get(key)
    return _dedupe(causes + (rules(new, old) if rules else []))
