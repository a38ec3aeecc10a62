"""JSON values as CEL sees them under a structural schema (kube's UnstructuredToVal).

`format: date-time`/`date` strings are timestamps, `format: duration` durations, `format:
byte` bytes, `type: number` always doubles; null fields of objects are absent; property
names that are CEL keywords or hold `.`, `-`, `/` or `__` are escaped as kube escapes them
(`__namespace__`, `a__dot__b`). At a resource root only apiVersion, kind and
metadata.name/generateName are visible, as in kube.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["escape", "to_cel"]

_RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def escape(name: str) -> str | None:
    """The CEL name of a property, or None when kube cannot make one of it."""
    if name in _RESERVED:
        return f"__{name}__"
    escaped = (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )
    return escaped if _IDENT.match(escaped) else None


def _timestamp(value: str, schema_format: str) -> Any:
    try:
        if schema_format == "date":
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        return value


def _duration(value: str) -> Any:
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return timedelta(0)
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return value
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        return value
    return timedelta(seconds=sign * total)


def _scalar(schema: Mapping[str, Any], value: Any) -> Any:
    kind = schema.get("type")
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "string" and isinstance(value, str):
        schema_format = schema.get("format")
        if schema_format in ("date-time", "date"):
            return _timestamp(value, schema_format)
        if schema_format == "duration":
            return _duration(value)
        if schema_format == "byte":
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                return value
    return value


def _object(schema: Mapping[str, Any], value: Mapping[str, Any], root: bool) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        additional = schema.get("additionalProperties")
        sub = additional if isinstance(additional, Mapping) else {}
        return {k: to_cel(sub, v) for k, v in value.items() if v is not None}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if root and key == "metadata" and isinstance(item, Mapping):
            out[key] = {k: item[k] for k in ("name", "generateName") if k in item}
            continue
        name = escape(key)
        if name is None:
            continue
        prop = properties.get(key)
        out[name] = to_cel(prop if isinstance(prop, Mapping) else {}, item)
    return out


def to_cel(schema: Mapping[str, Any], value: Any, *, root: bool = False) -> Any:
    """`value` (decoded JSON) as the CEL value a rule at `schema` sees as `self`."""
    if isinstance(value, Mapping):
        embedded = root or schema.get("x-kubernetes-embedded-resource") is True
        return _object(schema, value, embedded)
    if isinstance(value, list):
        items = schema.get("items")
        sub = items if isinstance(items, Mapping) else {}
        return [to_cel(sub, v) for v in value]
    return _scalar(schema, value)
