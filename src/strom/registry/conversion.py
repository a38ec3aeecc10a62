"""Kinds served in two shapes from one storage: events.k8s.io/v1 Event over core/v1 Event,
and autoscaling/v1 HorizontalPodAutoscaler over autoscaling/v2 (registry/hpa_v1.py).

kube-apiserver stores both in `/registry/events` as core Events and converts on the way in and
out (pkg/apis/events/v1/conversion.go), so an event a controller records through
events.k8s.io/v1 shows in `kubectl get events`, and the other way round. strom does the same:
the registry writes and reads the core shape, and this module maps field names between them.
"""

from __future__ import annotations

from typing import Any

import orjson

from strom.registry import hpa_v1
from strom.registry.defaults._order import ORDER
from strom.registry.kinds import BUILTIN, ResourceType

__all__ = ["from_storage", "item_bytes", "needs_conversion", "storage_type", "to_storage"]

_CORE_EVENTS = next(t for t in BUILTIN if t.group == "" and t.plural == "events")
_HPA_V2 = next(
    t
    for t in BUILTIN
    if t.group == "autoscaling" and t.version == "v2" and t.plural == "horizontalpodautoscalers"
)

# events.k8s.io/v1 field -> core/v1 field; the others keep their names.
_EVENTS_V1_TO_CORE = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_CORE_TO_EVENTS_V1 = {core: v1 for v1, core in _EVENTS_V1_TO_CORE.items()}
# Field order of events.k8s.io/v1 Event (Go struct order, kept with the defaults' tables).
_EVENTS_V1_ORDER = tuple(k for k in ORDER["events.Event"] if k not in ("kind", "apiVersion"))


def _is_hpa_v1(rt: ResourceType) -> bool:
    return rt.crd is None and rt.group == "autoscaling" and rt.version == "v1"


def needs_conversion(rt: ResourceType) -> bool:
    return (rt.group == "events.k8s.io" and rt.plural == "events") or _is_hpa_v1(rt)


def storage_type(rt: ResourceType) -> ResourceType:
    """The type whose shape and rules the stored object has."""
    if _is_hpa_v1(rt):
        return _HPA_V2
    return _CORE_EVENTS if needs_conversion(rt) else rt


def to_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A request body of `rt` in the stored (core) shape; kind/apiVersion dropped."""
    if not needs_conversion(rt):
        return obj
    if _is_hpa_v1(rt):
        return hpa_v1.to_v2(obj)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("kind", "apiVersion"):
            continue
        out[_EVENTS_V1_TO_CORE.get(key, key)] = value
    return out


def from_storage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object in `rt`'s shape (without kind/apiVersion)."""
    if not needs_conversion(rt):
        return obj
    if _is_hpa_v1(rt):
        return hpa_v1.from_v2(obj)
    renamed = {_CORE_TO_EVENTS_V1.get(k, k): v for k, v in obj.items()}
    if not renamed.get("reportingController") and isinstance(renamed.get("deprecatedSource"), dict):
        # Old-style events name their reporter in source.component only.
        renamed["reportingController"] = renamed["deprecatedSource"].get("component", "")
    out = {k: renamed[k] for k in _EVENTS_V1_ORDER if k in renamed}
    out.update((k, v) for k, v in renamed.items() if k not in out)
    return out


def item_bytes(rt: ResourceType, value: bytes) -> bytes:
    """Stored bytes as a list item of `rt` (no kind/apiVersion, as typed lists carry)."""
    if not needs_conversion(rt):
        return value
    return orjson.dumps(from_storage(rt, orjson.loads(value)))
