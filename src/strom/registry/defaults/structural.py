"""Custom resources defaulted from their CRD's structural schema (`default:`).

As apiextensions-apiserver's structuraldefaulting does: a property with a `default` that is
absent, or null where the schema does not allow null, gets a copy of the default (then the
default itself is defaulted further down); array items and map values that are null and not
nullable get their schema's default; nulls of non-nullable fields without a default are
dropped (kube prunes them before validation, so they are never an error).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

_HAS_DEFAULTS_MAX = 256
# schema id -> (schema, whether it holds a default anywhere); bounded, identity-checked
_HAS_DEFAULTS: OrderedDict[int, tuple[Any, bool]] = OrderedDict()

__all__ = ["apply_schema_defaults", "read_defaults"]


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _fill(schema: Mapping[str, Any], value: Any) -> Any:
    """The value for a slot holding `value` (absent is passed as None by callers)."""
    if value is None and schema.get("nullable") is not True and "default" in schema:
        return copy.deepcopy(schema["default"])
    return value


def _default(schema: Mapping[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        properties = _map(schema.get("properties"))
        for name, prop in properties.items():
            prop = _map(prop)
            if "default" in prop and (
                name not in value or (value[name] is None and prop.get("nullable") is not True)
            ):
                value[name] = copy.deepcopy(prop["default"])
        additional = schema.get("additionalProperties")
        for key in list(value):
            item = value[key]
            if key in properties:
                sub = _map(properties[key])
            elif isinstance(additional, Mapping):
                sub = additional
                value[key] = item = _fill(sub, item)
            else:
                continue
            if item is None and sub.get("nullable") is not True:
                del value[key]  # kube prunes nulls the schema does not allow
                continue
            _default(sub, item)
    elif isinstance(value, list):
        items = _map(schema.get("items"))
        for index, item in enumerate(value):
            value[index] = item = _fill(items, item)
            _default(items, item)


def apply_schema_defaults(schema: Mapping[str, Any], obj: dict[str, Any]) -> None:
    """Default `obj` in place against its CRD version's openAPIV3Schema."""
    _default(schema, obj)


def _holds_default(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    if "default" in schema:
        return True
    children = list(_map(schema.get("properties")).values())
    children += [schema.get("items"), schema.get("additionalProperties")]
    return any(_holds_default(c) for c in children)


def read_defaults(schema: Any) -> Mapping[str, Any] | None:
    """`schema` if it holds any default (reads must apply them), else None; remembered
    per schema object, so a read of a CRD without defaults costs one lookup."""
    if not isinstance(schema, Mapping):
        return None
    cached = _HAS_DEFAULTS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _HAS_DEFAULTS[id(schema)] = (schema, _holds_default(schema))
        if len(_HAS_DEFAULTS) > _HAS_DEFAULTS_MAX:
            _HAS_DEFAULTS.popitem(last=False)
    return schema if cached[1] else None
