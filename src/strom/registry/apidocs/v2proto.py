"""OpenAPI v2 as protobuf (gnostic's `openapi.v2.Document`), the form kubectl asks for.

kubectl falls back to `/openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2
@v1.0+protobuf` when a group-version is missing from `/openapi/v3` (a CRD applied in the same
file as its first object). It reads the paths to learn which kinds support server-side field
validation, and the definitions for client-side validation of the rest. This encodes the
paths, operations, parameters and vendor extensions; definitions are left out, which makes
kubectl skip client-side validation for kinds it cannot find — the server validates anyway.

Field numbers are gnostic's OpenAPIv2.proto (Document, Info, Paths, PathItem, Operation,
Parameter*, NamedAny, Any): a wire format, written here as the numbers the encoder uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["encode_v2_document"]

_OPERATIONS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}
_QUERY_FIELDS = {"required": 1, "in": 2, "description": 3, "name": 4, "type": 6}
_PATH_FIELDS = {"required": 1, "in": 2, "description": 3, "name": 4, "type": 5}
_BODY_FIELDS = {"description": 1, "name": 2, "in": 3, "required": 4}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str(number: int, value: str) -> bytes:
    return _bytes_field(number, value.encode()) if value else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _named_any(name: str, value: Any) -> bytes:
    """NamedAny{name=1, value=Any{yaml=2}}: vendor extensions travel as YAML text."""
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False)
    return _str(1, name) + _bytes_field(2, _str(2, text))


def _extensions(number: int, obj: dict[str, Any]) -> bytes:
    return b"".join(
        _bytes_field(number, _named_any(k, v)) for k, v in obj.items() if k.startswith("x-")
    )


def _fields(table: dict[str, int], param: dict[str, Any]) -> bytes:
    out = b""
    for key, number in table.items():
        value = param.get(key)
        if isinstance(value, bool):
            out += _bool(number, value)
        elif isinstance(value, str):
            out += _str(number, value)
    return out


def _parameter(param: dict[str, Any], shared: dict[str, Any]) -> bytes:
    """ParametersItem{parameter=1}, with `#/parameters/` references inlined.

    kubectl looks for `fieldValidation` among an operation's own parameters without following
    references, so shared parameters are written out in full.
    """
    ref = param.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/parameters/"):
        param = shared.get(ref[len("#/parameters/") :], {})
    where = param.get("in")
    if where == "body":
        inner = _bytes_field(1, _fields(_BODY_FIELDS, param))  # Parameter.body_parameter
    else:
        if where == "path":
            sub = _bytes_field(4, _fields(_PATH_FIELDS, param))
        else:  # query (header/formData are not used by kube's API paths)
            sub = _bytes_field(3, _fields(_QUERY_FIELDS, param))
        inner = _bytes_field(2, sub)  # Parameter.non_body_parameter
    return _bytes_field(1, inner)


def _parameters(number: int, params: Iterable[dict[str, Any]], shared: dict[str, Any]) -> bytes:
    return b"".join(_bytes_field(number, _parameter(p, shared)) for p in params)


def _operation(op: dict[str, Any], shared: dict[str, Any]) -> bytes:
    out = b"".join(_str(1, t) for t in op.get("tags", ()))
    out += _str(3, op.get("description", ""))
    out += _str(5, op.get("operationId", ""))
    out += b"".join(_str(6, p) for p in op.get("produces", ()))
    out += b"".join(_str(7, c) for c in op.get("consumes", ()))
    out += _parameters(8, op.get("parameters", ()), shared)
    out += b"".join(_str(10, s) for s in op.get("schemes", ()))
    out += _extensions(13, op)
    return out


def _path_item(item: dict[str, Any], shared: dict[str, Any]) -> bytes:
    out = b""
    for verb, number in _OPERATIONS.items():
        if verb in item:
            out += _bytes_field(number, _operation(item[verb], shared))
    out += _parameters(9, item.get("parameters", ()), shared)
    out += _extensions(10, item)
    return out


def encode_v2_document(doc: dict[str, Any]) -> bytes:
    """The OpenAPI v2 JSON document (as a dict) in gnostic's protobuf form, minus definitions."""
    info = doc.get("info") or {}
    shared = doc.get("parameters") or {}
    out = _str(1, doc.get("swagger", "2.0"))
    out += _bytes_field(2, _str(1, info.get("title", "")) + _str(2, info.get("version", "")))
    paths = b"".join(
        _bytes_field(2, _str(1, name) + _bytes_field(2, _path_item(item, shared)))
        for name, item in (doc.get("paths") or {}).items()
    )
    out += _bytes_field(8, paths)
    return out
