"""storage.k8s.io/v1 CSIStorageCapacity and VolumeAttributesClass validation (kube's
pkg/apis/storage/validation), the fields a client is most likely to get wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.errors import Cause
from strom.registry.validation import fielderrors as fe
from strom.registry.validation.meta import validate_label_selector

__all__ = [
    "validate_csi_storage_capacity",
    "validate_volume_attributes_class",
    "validate_volume_attributes_class_update",
]

_IMMUTABLE = "field is immutable"


def validate_csi_storage_capacity(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if not obj.get("storageClassName"):
        causes.append(fe.required("storageClassName"))
    topology = obj.get("nodeTopology")
    if isinstance(topology, Mapping):
        causes += validate_label_selector(topology, "nodeTopology")
    return causes


def validate_volume_attributes_class(obj: Mapping[str, Any]) -> list[Cause]:
    if not obj.get("driverName"):
        return [fe.required("driverName")]
    return []


def validate_volume_attributes_class_update(
    new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    causes = validate_volume_attributes_class(new)
    for field in ("driverName", "parameters"):
        if new.get(field) != old.get(field):
            causes.append(fe.invalid(field, new.get(field), _IMMUTABLE))
    return causes
