"""Fields a kind does not define, for fieldValidation=Strict|Warn, and custom-resource pruning.

Built-in kinds are walked against Kubernetes' own definitions (strom.registry.schemas);
custom resources against their CRD's structural schema, with metadata checked against
ObjectMeta. Paths read the way kube-apiserver's strict decoder prints them
(`spec.template.spec.containers[0].foo`, `metadata.foo`); callers wrap them as
`unknown field "<path>"`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from strom.registry import schemas
from strom.registry.kinds import ResourceType

from .meta import as_map
from .schema import prune

__all__ = ["crd_schema", "prune_custom_resource", "unknown_fields"]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def crd_schema(rt: ResourceType) -> Mapping[str, Any] | None:
    """The openAPIV3Schema of a custom resource's version, or None."""
    if rt.crd is None:
        return None
    schema = as_map(rt.crd.get("schema")).get("openAPIV3Schema")
    return schema if isinstance(schema, Mapping) else None


def _walk_definition(schema: Mapping[str, Any], value: Any, path: str, unknown: list[str]) -> Any:
    """Prune `value` against a built-in definition, recording unknown paths."""
    schema = schemas.resolve(dict(schema))
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return value
        return [
            _walk_definition(items, item, f"{path}[{i}]", unknown) for i, item in enumerate(value)
        ]
    if not isinstance(value, Mapping):
        return value
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    if not isinstance(properties, Mapping):
        if isinstance(additional, Mapping):
            return {
                k: _walk_definition(additional, v, f"{path}.{k}", unknown) for k, v in value.items()
            }
        return value  # free-form (RawExtension, JSON, ...)
    out: dict[str, Any] = {}
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if key in properties:
            out[key] = _walk_definition(properties[key], item, child, unknown)
        else:
            unknown.append(child)
    return out


def _object_meta(value: Any, path: str, unknown: list[str]) -> Any:
    meta_schema = schemas.definitions()[_OBJECT_META]
    return _walk_definition(meta_schema, value, path, unknown)


def _custom_resource(
    rt: ResourceType, obj: Mapping[str, Any], unknown: list[str]
) -> dict[str, Any]:
    schema = crd_schema(rt)
    if schema is None:  # no schema: everything is preserved
        out = dict(copy.deepcopy(obj))
        if "metadata" in out:
            out["metadata"] = _object_meta(out["metadata"], "metadata", unknown)
        return out
    pruned = prune(
        schema, copy.deepcopy(dict(obj)), "", unknown, is_resource=True, meta_known=_object_meta
    )
    return dict(pruned)


def unknown_fields(rt: ResourceType, obj: Mapping[str, Any]) -> list[str]:
    """Dotted paths of the fields `rt` does not define, in the order they appear."""
    unknown: list[str] = []
    if rt.crd is not None:
        _custom_resource(rt, obj, unknown)
        return unknown
    name = schemas.definition_name(rt.group, rt.version, rt.kind)
    if name is None:
        return []
    _walk_definition(schemas.definitions()[name], obj, "", unknown)
    return unknown


def prune_custom_resource(rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `obj` without what its CRD schema does not describe (kube prunes silently)."""
    return _custom_resource(rt, obj, [])
