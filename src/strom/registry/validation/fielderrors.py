"""Field errors worded the way k8s.io/apimachinery/pkg/util/validation/field words them.

kube-apiserver builds every 422 cause from a `field.Error` (type, path, bad value, detail) and
`ErrorBody()` turns it into text: `Invalid value: "x": <detail>`, `Required value`, ... The bad
value is printed Go-style: strings with `%q`, numbers and booleans with `%v`, anything larger
as JSON. These constructors reproduce that text so callers only name the path and the detail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from strom.errors import Cause
from strom.gofmt import go_float, go_quote

__all__ = [
    "duplicate",
    "forbidden",
    "go_quote",
    "go_value",
    "invalid",
    "not_supported",
    "required",
    "too_long",
    "too_many",
    "type_invalid",
]


def go_value(value: Any) -> str:
    """A bad value as field.Error.ErrorBody prints it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    # Go marshals larger values as JSON (maps with sorted keys); callers pass dicts whose
    # order already matches Go's (sorted for maps, declaration order for structs).
    return orjson.dumps(value).decode()


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", _with_detail("Required value", detail), path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", _with_detail("Forbidden", detail), path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(
        "FieldValueInvalid", _with_detail(f"Invalid value: {go_value(value)}", detail), path
    )


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    body = _with_detail(f"Invalid value: {go_value(value)}", detail)
    return Cause("FieldValueTypeInvalid", body, path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {go_value(value)}", path)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(go_quote(v) for v in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return Cause(
        "FieldValueNotSupported",
        _with_detail(f"Unsupported value: {go_value(value)}", detail),
        path,
    )


def too_long(path: str, max_bytes: int) -> Cause:
    """field.TooLong: the value itself is never printed."""
    detail = f"may not be more than {max_bytes} bytes" if max_bytes >= 0 else "value is too long"
    return Cause("FieldValueTooLong", f"Too long: {detail}", path)


def too_many(path: str, actual: int, maximum: int) -> Cause:
    return Cause(
        "FieldValueTooMany", f"Too many: {actual}: must have at most {maximum} items", path
    )
