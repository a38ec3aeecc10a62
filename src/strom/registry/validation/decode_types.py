"""Type checks a typed decoder does: a string where kube-apiserver's Go struct wants a map.

kube-apiserver decodes a built-in object into its Go struct before anything else, and a JSON
value of the wrong type fails there with 400 BadRequest:
`ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal string
into Go struct field ConfigMap.data of type map[string]string`. strom keeps objects as dicts,
so this walk against the kind's definition gives the same answer for the same input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.registry import schemas
from strom.registry.kinds import ResourceType

__all__ = ["decode_type_error"]

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _types(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_type(schema: Mapping[str, Any]) -> str:
    """A Go-like type name for messages (`map[string]string`, `int32`, `[]v1.Container`)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}" if len(parts) >= 2 else name
    types = _types(schema) - {"null"}
    if "object" in types:
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return f"map[string]{_go_type(extra)}"
        return "map[string]interface {}"
    if "array" in types:
        items = schema.get("items")
        return f"[]{_go_type(items)}" if isinstance(items, Mapping) else "[]interface {}"
    if "integer" in types:
        return str(schema.get("format") or "int64")
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    return "string"


def _accepts(schema: Mapping[str, Any], value: Any) -> bool:
    if value is None:
        return True  # null decodes to the zero value in Go
    types = _types(schema) - {"null"}
    if not types:
        return True  # free-form or a $ref checked further down
    kind = _json_kind(value)
    if kind == "bool":
        return "boolean" in types
    if kind == "number":
        if "integer" in types:
            return isinstance(value, int) or float(value).is_integer()
        return "number" in types
    if kind == "string":
        return "string" in types
    if kind == "array":
        return "array" in types
    return "object" in types


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_error(value: str) -> str | None:
    """Go's []byte decoding (standard base64, padded): its error, or None."""
    data = value.encode()
    body = data.rstrip(b"=")
    for index, char in enumerate(body):
        if char not in _BASE64:
            return f"illegal base64 data at input byte {index}"
    padding = len(data) - len(body)
    if len(data) % 4 or padding > 2 or (padding and len(body) % 4 == 0):
        return f"illegal base64 data at input byte {len(body) - len(body) % 4}"
    return None


def _walk(schema: Mapping[str, Any], value: Any, owner: str, field: str) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.endswith((_INT_OR_STRING, _QUANTITY)):
        if isinstance(value, (dict, list, bool)):
            go_type = ref.rsplit(".", 1)[-1]
            return (
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field"
                f" {owner}.{field} of type {go_type}"
            )
        return None
    if isinstance(ref, str):
        resolved = schemas.resolve(dict(schema))
        if not isinstance(resolved.get("properties"), Mapping):
            # A named non-struct type (Time is a string, RawExtension anything): its own type.
            if not _accepts(resolved, value):
                return (
                    f"json: cannot unmarshal {_json_kind(value)} into Go struct field"
                    f" {owner}.{field} of type {_go_type(schema)}"
                )
            return None
        if value is not None and not isinstance(value, Mapping):
            return (
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field"
                f" {owner}.{field} of type {_go_type(schema)}"
            )
        struct = ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        return _walk_struct(resolved, value, struct) if isinstance(value, Mapping) else None
    if not _accepts(schema, value):
        return (
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field {owner}.{field} of"
            f" type {_go_type(schema)}"
        )
    if schema.get("format") == "byte" and isinstance(value, str):
        return _base64_error(value)
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                err = _walk(items, item, owner, field)
                if err:
                    return err
    elif isinstance(value, Mapping):
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and not schema.get("properties"):
            for key, item in value.items():
                err = _walk(extra, item, owner, f"{field}.{key}" if field else key)
                if err:
                    return err
    return None


def _walk_struct(schema: Mapping[str, Any], value: Mapping[str, Any], struct: str) -> str | None:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    for key, item in value.items():
        prop = properties.get(key)
        if isinstance(prop, Mapping):
            err = _walk(prop, item, struct, key)
            if err:
                return err
    return None


def decode_type_error(rt: ResourceType, obj: Mapping[str, Any]) -> str | None:
    """kube's decode error message for the first mistyped field, or None when all fit."""
    if rt.crd is not None:
        return None
    name = schemas.definition_name(rt.group, rt.version, rt.kind)
    if name is None:
        return None
    err = _walk_struct(schemas.definitions()[name], obj, rt.kind)
    if err is None:
        return None
    return f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {err}'
