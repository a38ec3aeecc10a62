"""Custom resources against their CRD's openAPIV3Schema: validation and pruning.

Validation words its causes as apiextensions-apiserver converts kube-openapi's errors
(`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer:
"string"`); the field path and the `in body` name are the same string. Pruning drops what
the structural schema does not describe, silently, unless x-kubernetes-preserve-unknown-fields.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import orjson

from strom.errors import Cause
from strom.gofmt import go_float

from . import fielderrors as fe
from .meta import as_list, as_map

__all__ = ["json_type", "prune", "validate_against_schema"]

_RESOURCE_META = ("apiVersion", "kind", "metadata")


def json_type(value: Any) -> str:
    """The OpenAPI type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_ok(expected: str, actual: str) -> bool:
    return expected == actual or (expected == "number" and actual == "integer")


def validate_against_schema(schema: Mapping[str, Any], value: Any, path: str = "") -> list[Cause]:
    """All causes for `value` under `schema`, kube-openapi's validators in kube's order."""
    causes: list[Cause] = []
    _validate(schema, value, path, causes)
    return causes


def _validate(schema: Mapping[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    if value is None and schema.get("nullable") is True:
        return
    actual = json_type(value)
    if not _check_type(schema, actual, path, causes):
        _check_enum(schema, value, path, causes)
        return
    _check_enum(schema, value, path, causes)
    if isinstance(value, str):
        _check_string(schema, value, path, causes)
    elif actual in ("integer", "number"):
        _check_number(schema, value, path, causes)
    elif isinstance(value, list):
        _check_array(schema, value, path, causes)
    elif isinstance(value, Mapping):
        _check_object(schema, value, path, causes)
    for sub in as_list(schema.get("allOf")):
        _validate(as_map(sub), value, path, causes)
    _check_any_of(schema, value, path, causes)


def _check_type(schema: Mapping[str, Any], actual: str, path: str, causes: list[Cause]) -> bool:
    if schema.get("x-kubernetes-int-or-string") is True:
        if actual in ("integer", "string"):
            return True
        detail = f"{path} in body must be of type integer,string: {fe.go_quote(actual)}"
        causes.append(fe.type_invalid(path, actual, detail))
        return False
    expected = schema.get("type")
    if not isinstance(expected, str) or not expected or _type_ok(expected, actual):
        return True
    detail = f"{path} in body must be of type {expected}: {fe.go_quote(actual)}"
    causes.append(fe.type_invalid(path, actual, detail))
    return False


def _check_enum(schema: Mapping[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    enum = schema.get("enum")
    if not isinstance(enum, list) or (value in enum and _same_kinds(value, enum)):
        return
    shown = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in enum]
    causes.append(fe.not_supported(path, value, shown))


def _same_kinds(value: Any, enum: list[Any]) -> bool:
    """`True in [1]` is true in Python; JSON equality also compares types."""
    return any(value == e and json_type(value) == json_type(e) for e in enum)


def _number_text(limit: Any, value: Any) -> str:
    if isinstance(value, int) and float(limit).is_integer():
        return str(int(limit))
    return go_float(float(limit))


def _check_number(schema: Mapping[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    maximum, minimum = schema.get("maximum"), schema.get("minimum")
    if isinstance(maximum, int | float):
        exclusive = schema.get("exclusiveMaximum") is True
        if value > maximum or (exclusive and value == maximum):
            bound = "less than" if exclusive else "less than or equal to"
            text = f"{path} in body should be {bound} {_number_text(maximum, value)}"
            causes.append(fe.invalid(path, value, text))
    if isinstance(minimum, int | float):
        exclusive = schema.get("exclusiveMinimum") is True
        if value < minimum or (exclusive and value == minimum):
            bound = "greater than" if exclusive else "greater than or equal to"
            text = f"{path} in body should be {bound} {_number_text(minimum, value)}"
            causes.append(fe.invalid(path, value, text))
    factor = schema.get("multipleOf")
    if isinstance(factor, int | float) and factor > 0 and (value / factor) % 1 != 0:
        text = f"{path} in body should be a multiple of {_number_text(factor, value)}"
        causes.append(fe.invalid(path, value, text))


def _check_string(schema: Mapping[str, Any], value: str, path: str, causes: list[Cause]) -> None:
    max_length, min_length = schema.get("maxLength"), schema.get("minLength")
    if isinstance(max_length, int) and len(value) > max_length:
        causes.append(fe.too_long(path, max_length))
    if isinstance(min_length, int) and len(value) < min_length:
        text = f"{path} in body should be at least {min_length} chars long"
        causes.append(fe.invalid(path, value, text))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True
        if not matched:
            causes.append(fe.invalid(path, value, f"{path} in body should match '{pattern}'"))
    fmt = schema.get("format")
    check = _FORMATS.get(fmt) if isinstance(fmt, str) else None
    if check is not None and not check(value):
        detail = f"{path} in body must be of type {fmt}: {fe.go_quote(value)}"
        causes.append(fe.type_invalid(path, value, detail))


def _check_array(
    schema: Mapping[str, Any], value: list[Any], path: str, causes: list[Cause]
) -> None:
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(items, item, f"{path}[{index}]", causes)
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if isinstance(min_items, int) and len(value) < min_items:
        text = f"{path} in body should have at least {min_items} items"
        causes.append(fe.invalid(path, len(value), text))
    if isinstance(max_items, int) and len(value) > max_items:
        causes.append(fe.too_many(path, len(value), max_items))
    _check_list_type(schema, value, path, causes)


def _go_map(keys: Mapping[str, Any]) -> str:
    """A map[string]interface{} as Go's %#v prints it (kube's duplicate map-list key)."""
    parts = ", ".join(f"{fe.go_quote(k)}:{_go_scalar(v)}" for k, v in sorted(keys.items()))
    return "map[string]interface {}{" + parts + "}"


def _go_scalar(value: Any) -> str:
    if isinstance(value, str):
        return fe.go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}"
    return fe.go_value(value)


def _check_list_type(
    schema: Mapping[str, Any], value: list[Any], path: str, causes: list[Cause]
) -> None:
    """x-kubernetes-list-type set: no item twice; map: no two items with the same keys."""
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                causes.append(fe.duplicate(f"{path}[{index}]", item))
            else:
                seen.append(item)
    elif list_type == "map":
        keys = [str(k) for k in as_list(schema.get("x-kubernetes-list-map-keys"))]
        found: set[bytes] = set()
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            key = {k: item[k] for k in keys if k in item}
            marker = orjson.dumps(key, option=orjson.OPT_SORT_KEYS)
            if marker in found:
                causes.append(
                    Cause(
                        "FieldValueDuplicate",
                        f"Duplicate value: {_go_map(key)}",
                        f"{path}[{index}]",
                    )
                )
            found.add(marker)


def _check_object(
    schema: Mapping[str, Any], value: Mapping[str, Any], path: str, causes: list[Cause]
) -> None:
    for name in as_list(schema.get("required")):
        if isinstance(name, str) and name not in value:
            causes.append(fe.required(_child(path, name)))
    properties = as_map(schema.get("properties"))
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            _validate(as_map(properties[key]), item, _child(path, key), causes)
        elif isinstance(additional, Mapping):
            _validate(additional, item, _child(path, key), causes)
    if schema.get("x-kubernetes-embedded-resource") is True:
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                causes.append(fe.required(_child(path, key), "must not be empty"))
    min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
    if isinstance(max_props, int) and len(value) > max_props:
        causes.append(fe.too_many(path, len(value), max_props))
    if isinstance(min_props, int) and len(value) < min_props:
        text = f"{path} in body should have at least {min_props} properties"
        causes.append(fe.invalid(path, min_props, text))


def _check_any_of(schema: Mapping[str, Any], value: Any, path: str, causes: list[Cause]) -> None:
    branches = [as_map(s) for s in as_list(schema.get("anyOf"))]
    if not branches:
        return
    results = [validate_against_schema(branch, value, path) for branch in branches]
    if all(results):
        text = f"{fe.go_quote(path)} must validate at least one schema (anyOf)"
        causes.append(fe.invalid("<nil>", "", text))
        causes.extend(results[0])


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper() or " " in value


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _is_byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


_HOSTNAME_RE = re.compile(
    r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$"
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")

_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_datetime,
    "date": _is_date,
    "uuid": _is_uuid,
    "byte": _is_byte,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "cidr": _is_cidr,
    "hostname": lambda v: len(v) <= 255 and _HOSTNAME_RE.match(v) is not None,
    "email": lambda v: _EMAIL_RE.match(v) is not None,
    "mac": lambda v: _MAC_RE.match(v) is not None,
}


def prune(
    schema: Mapping[str, Any],
    value: Any,
    path: str,
    unknown: list[str],
    *,
    is_resource: bool = False,
    meta_known: Callable[[Mapping[str, Any], str, list[str]], Any] | None = None,
) -> Any:
    """`value` without fields `schema` does not describe; their paths go to `unknown`.

    `is_resource` marks an object whose apiVersion/kind/metadata are always kept (the root, or
    an x-kubernetes-embedded-resource); `meta_known` prunes such a metadata against ObjectMeta.
    """
    if isinstance(value, list):
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return value
        return [
            prune(items, item, f"{path}[{i}]", unknown, meta_known=meta_known)
            for i, item in enumerate(value)
        ]
    if not isinstance(value, Mapping):
        return value
    embedded = is_resource or schema.get("x-kubernetes-embedded-resource") is True
    properties = as_map(schema.get("properties"))
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    out: dict[str, Any] = {}
    for key, item in value.items():
        child = _child(path, key)
        if embedded and key in _RESOURCE_META:
            out[key] = (
                meta_known(item, child, unknown) if key == "metadata" and meta_known else item
            )
        elif key in properties:
            out[key] = prune(as_map(properties[key]), item, child, unknown, meta_known=meta_known)
        elif isinstance(additional, Mapping):
            out[key] = prune(additional, item, child, unknown, meta_known=meta_known)
        elif preserve or additional is True:
            out[key] = item
        else:
            unknown.append(child)
    return out
