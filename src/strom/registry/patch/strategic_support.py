"""Strategic merge patch support: upstream's error messages, schema lookup, Go value rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from strom.errors import StatusError
from strom.registry.schemas import resolve

from .gojson import go_sprint, go_type_name

Schema = dict[str, Any] | None


# --- errors (mergepatch's messages) --------------------------------------------------------
def _internal(message: str) -> StatusError:
    """A non-API error: kube-apiserver answers 500 with Go's message and no reason."""
    return StatusError(500, "", message)


def _no_merge_key(item: Any, merge_key: str) -> StatusError:
    return _internal(f"map: {go_sprint(item)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: Any, actual: Any) -> StatusError:
    return _internal(f"expected a {go_type_name(expected)}, but received a {go_type_name(actual)}")


def _bad_patch_type(directive: Any, patch: dict[str, Any]) -> StatusError:
    if isinstance(directive, str):
        shown = directive
    elif directive is None:
        shown = "%!s(<nil>)"
    else:  # fmt's complaint about a non-string under %s
        shown = f"%!s({go_type_name(directive)}={go_sprint(directive)})"
    return _internal(f"unknown patch type: {shown} in map: {go_sprint(patch)}")


_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_ORDER_LIST = "invalid patch format of setElementOrder list"


# --- schema lookup (forkedjson.LookupPatchMetadata) ----------------------------------------
@dataclass(frozen=True, slots=True)
class _FieldMeta:
    """What the schema says about one field: its resolved schema, strategy and merge key."""

    schema: Schema
    strategy: str = ""
    merge_key: str = ""


def _field_meta(parent: Schema, key: str) -> _FieldMeta:
    if parent is None:
        return _FieldMeta(None)
    properties = parent.get("properties")
    field: Any = None
    if isinstance(properties, dict) and key in properties:
        field = properties[key]
    elif isinstance(parent.get("additionalProperties"), dict):
        field = parent["additionalProperties"]
    if not isinstance(field, dict):
        return _FieldMeta(None)
    strategy = _main_strategy(field.get("x-kubernetes-patch-strategy", ""))
    return _FieldMeta(resolve(field), strategy, field.get("x-kubernetes-patch-merge-key", ""))


def _main_strategy(tag: str) -> str:
    """extractRetainKeysPatchStrategy: the strategy besides retainKeys (which only diffs use)."""
    strategies = tag.split(",") if tag else []
    others = [s for s in strategies if s != "retainKeys"]
    if len(strategies) > 2 or (len(strategies) == 2 and len(others) != 1):
        raise _internal(f"unexpected patch strategy: [{' '.join(strategies)}]")
    return others[0] if others else ""


def _items_schema(array_schema: Schema) -> Schema:
    """The schema of a list's items. A merge-strategy field typed as an object (upstream's
    pointer-to-struct case) describes its items itself."""
    if array_schema is None:
        return None
    items = array_schema.get("items")
    if isinstance(items, dict):
        return resolve(items)
    return array_schema if isinstance(array_schema.get("properties"), dict) else None


# --- values as Go compares them ------------------------------------------------------------
def _go_kind(value: Any) -> str:
    """reflect.TypeOf for decoded JSON: bool, int64 and float64 are different types in Go."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def _identity(value: Any) -> tuple[str, Any]:
    """A hashable key equal exactly when Go's `==` on the two interface values is true."""
    if isinstance(value, dict | list):
        # Go would panic comparing maps; comparing content is the lenient choice.
        return ("json", orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (_go_kind(value), value)


class _Positions:
    """First index of each value (or each map's merge-key value) in an order-giving list."""

    def __init__(self, order: list[Any], merge_key: str, of_maps: bool) -> None:
        self._merge_key = merge_key
        self._of_maps = of_maps
        self._first: dict[tuple[str, Any], int] = {}
        for position, item in enumerate(order):
            self._first.setdefault(self._key(item), position)

    def _key(self, item: Any) -> tuple[str, Any]:
        if self._of_maps:
            return _identity(item.get(self._merge_key) if isinstance(item, dict) else None)
        return _identity(item)

    def index(self, item: Any) -> int:
        return self._first.get(self._key(item), -1)
