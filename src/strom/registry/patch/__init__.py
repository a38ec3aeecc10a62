"""PATCH bodies applied to a stored object, as kube-apiserver applies them.

Three content types, three algorithms: JSON patch (RFC 6902, with the leniencies of the
evanphx/json-patch v4 library kube-apiserver uses), JSON merge patch (RFC 7386, same library)
and strategic merge patch (`strategic`, schema-driven, built-in kinds only). Everything here is a
pure function of the stored object and the request body; the handler owns I/O, preconditions,
admission and storage.

Errors carry kube-apiserver's codes and words (handlers/patch.go in k8s.io/apiserver). The
request's `fieldValidation` is taken to be kube's default, `Warn`, under which each body is first
decoded strictly: an undecodable body is 400 (`error decoding patch: ...` for JSON and merge
patches), a JSON-patch operation that cannot be applied is 422 with a message that names neither
the operation nor the path, and anything else a body can provoke is a `StatusError` too.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import jsonpatch
import jsonpointer
import orjson

from strom.errors import Cause, StatusError
from strom.registry.schemas import definitions

from .gojson import GoJSONError, decode, go_quote, json_kind, unmarshal_type_error
from .strategic import strategic_merge

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "apply_patch",
]

from strom.mediatypes import APPLY_PATCH as _APPLY_PATCH
from strom.mediatypes import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH

# What kube-apiserver's 415 lists: built-in kinds accept all four, custom resources have no
# schema to drive a strategic merge (CBOR apply is behind a disabled feature gate in v1.36).
_BUILTIN_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, _APPLY_PATCH)
_CUSTOM_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, _APPLY_PATCH)

# handlers/patch.go's maxJSONPatchOperations.
_MAX_JSON_PATCH_OPERATIONS = 10000


def apply_patch(
    *,
    original: dict[str, Any],
    patch_bytes: bytes,
    content_type: str,
    definition: str | None,
    kind: str,
    name: str,
) -> dict[str, Any]:
    """Return a new object: `original` (left untouched) with the PATCH body applied.

    `content_type` is the request's Content-Type (parameters such as `; charset=` are ignored,
    as kube-apiserver ignores them); `definition` names the schema definition of a built-in kind
    (`io.k8s.api.apps.v1.Deployment`) and is None for custom resources. `kind` and `name` say
    which object is patched; kube-apiserver's patch errors name neither, so neither do these.
    Server-side apply (`application/apply-patch+yaml`) is not a patch in this sense and is
    refused here like any other unknown type.
    """
    del kind, name  # part of the call's vocabulary; upstream's patch errors carry neither
    patch_type = content_type.split(";", 1)[0] if content_type.find(";") > 0 else content_type
    accepted = _BUILTIN_PATCH_TYPES if definition is not None else _CUSTOM_PATCH_TYPES
    if patch_type not in accepted or patch_type == _APPLY_PATCH:
        raise _unsupported_media_type(accepted)
    try:
        if patch_type == JSON_PATCH:
            return _apply_json_patch(original, patch_bytes)
        if patch_type == MERGE_PATCH:
            return _apply_merge_patch(original, patch_bytes)
        assert definition is not None  # custom resources were refused above
        return _apply_strategic_merge_patch(original, patch_bytes, definition)
    except RecursionError as exc:
        # Only a pathologically nested body gets here; Go's decoder refuses those too.
        raise StatusError.bad_request("exceeded max depth") from exc


def _unsupported_media_type(accepted: tuple[str, ...]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = orjson.loads(orjson.dumps(document))
    return copied


# --- JSON patch ----------------------------------------------------------------------------
def _apply_json_patch(original: dict[str, Any], patch_bytes: bytes) -> dict[str, Any]:
    operations = _decode_json_patch(patch_bytes)
    if len(operations) > _MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is"
            f" {_MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}",
        )
    try:
        patched = _KubeJsonPatch(operations).apply(original)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        LookupError,
        TypeError,
        ValueError,
    ) as exc:
        # Every failed operation, a failed `test` included, is the same generic 422.
        raise StatusError.unprocessable() from exc
    return _require_object(patched)


def _decode_json_patch(patch_bytes: bytes) -> list[Any]:
    """The strict decode into []jsonPatchOp that kube runs before applying anything."""
    try:
        document = decode(patch_bytes)
    except GoJSONError as exc:
        raise StatusError.bad_request(f"error decoding patch: {exc}") from exc
    if document is None:
        return []
    if not isinstance(document, list):
        raise _json_patch_shape_error(document, "[]handlers.jsonPatchOp")
    for operation in document:
        if operation is None:
            continue
        if not isinstance(operation, dict):
            raise _json_patch_shape_error(operation, "handlers.jsonPatchOp")
        for member, value in operation.items():
            if member in ("op", "path", "from") and not isinstance(value, str | None):
                raise _json_patch_shape_error(value, "string", field=f"jsonPatchOp.{member}")
    return document


def _json_patch_shape_error(value: Any, go_type: str, *, field: str = "") -> StatusError:
    message = unmarshal_type_error(value, go_type, field=field)
    return StatusError.bad_request(f"error decoding patch: {message}")


def _require_object(patched: Any) -> dict[str, Any]:
    """A patch may replace the whole document with an array, which no object decodes from."""
    if isinstance(patched, dict):
        return patched
    body = orjson.dumps(patched).decode()
    detail = (
        "couldn't get version/kind; json parse error: json: cannot unmarshal"
        f" {json_kind(patched)} into Go value of type struct {{ APIVersion string"
        ' "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
    )
    cause = Cause("FieldValueInvalid", f"Invalid value: {go_quote(body)}: {detail}", "patch")
    raise StatusError.invalid("", "", [cause])


def _strictly_equal(left: Any, right: Any) -> bool:
    """JSON equality without Python's `True == 1 == 1.0`: json-patch v4 compares the bytes."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_strictly_equal(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_strictly_equal, left, right))
    return bool(left == right)


class _ReplaceOrAdd(jsonpatch.ReplaceOperation):
    """`replace` of a missing map key sets it, as json-patch v4 does (its map `get` never fails)."""

    def apply(self, obj: Any) -> Any:
        subobj, part = self.pointer.to_last(obj)
        if part is not None and isinstance(subobj, dict) and part not in subobj:
            subobj[part] = orjson.loads(orjson.dumps(self.operation["value"]))
            return obj
        return super().apply(obj)


class _StrictTest(jsonpatch.TestOperation):
    """`test` as json-patch v4 runs it: typed equality, and a missing member equals null."""

    def apply(self, obj: Any) -> Any:
        expected = self.operation.get("value")
        subobj, part = self.pointer.to_last(obj)
        if part is None:
            actual = subobj
        elif isinstance(subobj, dict):
            actual = subobj.get(part)
        else:
            actual = self.pointer.walk(subobj, part)
        if not _strictly_equal(actual, expected):
            raise jsonpatch.JsonPatchTestFailed("test failed", op=self)
        return obj


class _KubeJsonPatch(jsonpatch.JsonPatch):
    operations = MappingProxyType(
        {**jsonpatch.JsonPatch.operations, "replace": _ReplaceOrAdd, "test": _StrictTest}
    )


# --- JSON merge patch ----------------------------------------------------------------------
def _apply_merge_patch(original: dict[str, Any], patch_bytes: bytes) -> dict[str, Any]:
    try:
        patch = decode(patch_bytes)
    except GoJSONError as exc:
        raise StatusError.bad_request(f"error decoding patch: {exc}") from exc
    if patch is None:
        raise StatusError.bad_request("Invalid JSON Patch")  # json-patch's ErrBadJSONPatch
    if not isinstance(patch, dict):
        message = unmarshal_type_error(patch, "map[string]interface {}")
        raise StatusError.bad_request(f"error decoding patch: {message}")
    document = _copy(original)
    _merge_members(document, patch)
    return document


def _merge_members(document: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 as json-patch v4's mergeDocs: null deletes, objects merge, the rest replaces."""
    for key, value in patch.items():
        if value is None:
            document.pop(key, None)
        elif document.get(key) is None:
            document[key] = _without_nulls(value)
        else:
            document[key] = _merge_value(document[key], value)


def _merge_value(current: Any, patch: Any) -> Any:
    if not isinstance(current, dict):
        return _without_nulls(patch)
    if not isinstance(patch, dict):
        return patch  # v4 keeps nulls inside a value that replaces an object
    _merge_members(current, patch)
    return current


def _without_nulls(value: Any) -> Any:
    """v4's pruneNulls, in place: null members go at any depth; null array elements stay."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            _without_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _without_nulls(item)
    return value


# --- strategic merge patch -----------------------------------------------------------------
def _apply_strategic_merge_patch(
    original: dict[str, Any], patch_bytes: bytes, definition: str
) -> dict[str, Any]:
    try:
        patch = decode(patch_bytes)
    except GoJSONError as exc:
        raise StatusError.bad_request(str(exc)) from exc
    if patch is None:
        patch = {}  # Go decodes null into a nil map: nothing to merge
    if not isinstance(patch, dict):
        raise StatusError.bad_request(unmarshal_type_error(patch, "map[string]interface {}"))
    schema = definitions().get(definition)
    merged: dict[str, Any] = strategic_merge(_copy(original), patch, schema)
    return merged
