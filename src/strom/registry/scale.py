"""The `scale` subresource: an autoscaling/v1 `Scale` view of a workload's replicas.

Deployments, ReplicaSets and StatefulSets (`spec.replicas`, a LabelSelector), ReplicationControllers
(`spec.replicas`, a selector map) and custom resources whose CRD declares
`subresources.scale` (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`) answer
GET, PUT and PATCH on `/scale`; a write changes the replicas and nothing else, and is recorded
in the parent's managedFields with `subresource: scale` (kube's ScaleHandler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strom.errors import Cause, StatusError
from strom.registry.kinds import ResourceType
from strom.registry.tables._format import format_labels, selector_string

__all__ = [
    "SCALE_API_VERSION",
    "ScaleSpec",
    "replicas_from_scale",
    "scale_of",
    "scale_spec",
    "with_replicas",
]

SCALE_API_VERSION = "autoscaling/v1"


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    spec_replicas: tuple[str, ...]
    status_replicas: tuple[str, ...]
    label_selector: tuple[str, ...] | None
    selector_is_map: bool = False  # ReplicationController's spec.selector


def _path(text: str) -> tuple[str, ...]:
    """A CRD scale path (`.spec.replicas`): the field names it walks."""
    return tuple(part for part in text.strip().lstrip(".").split(".") if part)


def scale_spec(rt: ResourceType) -> ScaleSpec | None:
    if "scale" not in rt.subresources:
        return None
    if rt.crd is not None:
        scale = ((rt.crd.get("subresources") or {}).get("scale")) or {}
        selector = scale.get("labelSelectorPath")
        return ScaleSpec(
            _path(str(scale.get("specReplicasPath") or ".spec.replicas")),
            _path(str(scale.get("statusReplicasPath") or ".status.replicas")),
            _path(str(selector)) if selector else None,
        )
    if rt.group == "" and rt.plural == "replicationcontrollers":
        return ScaleSpec(("spec", "replicas"), ("status", "replicas"), ("spec", "selector"), True)
    return ScaleSpec(("spec", "replicas"), ("status", "replicas"), ("spec", "selector"))


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def scale_of(rt: ResourceType, spec: ScaleSpec, obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale of an object (scaleFromDeployment and its siblings)."""
    meta = obj.get("metadata") or {}
    out_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    replicas = _get(obj, spec.spec_replicas)
    scale_spec_out: dict[str, Any] = {}
    if rt.crd is None:
        # The typed field's default (1) has been applied; omitempty drops a zero.
        if replicas:
            scale_spec_out["replicas"] = replicas
    elif isinstance(replicas, int):
        scale_spec_out["replicas"] = replicas
    status_replicas = _get(obj, spec.status_replicas)
    status: dict[str, Any] = {
        "replicas": status_replicas if isinstance(status_replicas, int) else 0
    }
    if spec.label_selector is not None:
        selector = _get(obj, spec.label_selector)
        if rt.crd is not None:
            text = selector if isinstance(selector, str) else ""
        elif spec.selector_is_map:
            text = format_labels(selector) if selector else ""
        else:
            text = selector_string(selector) or ""
        if text:
            status["selector"] = text
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": out_meta,
        "spec": scale_spec_out,
        "status": status,
    }


def replicas_from_scale(scale: Any, name: str) -> int:
    """The replicas a Scale asks for, checked as ValidateScale checks them."""
    if not isinstance(scale, dict):
        raise StatusError.bad_request("the object provided is unrecognized (must be of type Scale)")
    kind, api_version = scale.get("kind"), scale.get("apiVersion")
    if kind not in (None, "", "Scale") or api_version not in (None, "", SCALE_API_VERSION):
        raise StatusError.bad_request(
            f'{kind} in version "{str(api_version).rpartition("/")[2]}" cannot be handled as a'
            " Scale: the object provided is unrecognized (must be of type Scale)"
        )
    meta = scale.get("metadata") or {}
    if not isinstance(meta, dict):
        raise StatusError.bad_request("metadata must be an object")
    body_name = meta.get("name")
    if body_name not in (None, "", name):
        raise StatusError.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    spec = scale.get("spec") or {}
    replicas = spec.get("replicas", 0) if isinstance(spec, dict) else 0
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise StatusError.bad_request(
            "json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise StatusError.invalid(
            "Scale",
            name,
            [
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "spec.replicas",
                )
            ],
            group="autoscaling",
        )
    return int(replicas)


def with_replicas(spec: ScaleSpec, obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    """A copy of the parent with its replicas path set (intermediate maps created)."""
    out = dict(obj)
    node = out
    for name in spec.spec_replicas[:-1]:
        child = node.get(name)
        child = dict(child) if isinstance(child, dict) else {}
        node[name] = child
        node = child
    node[spec.spec_replicas[-1]] = replicas
    return out
