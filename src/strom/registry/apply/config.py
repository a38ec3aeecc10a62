"""The body of an apply patch (`application/apply-patch+yaml`): a YAML or JSON configuration,
checked as kube-apiserver checks it before merging (handlers/patch.go's applyPatcher, the
field manager's versionCheckManager and structuredMergeManager)."""

from __future__ import annotations

from typing import Any

import orjson

from strom import yamljson
from strom.errors import StatusError
from strom.registry.kinds import ResourceType

__all__ = ["decode_apply_body", "decode_apply_config", "gvk_string"]


def gvk_string(obj: dict[str, Any]) -> str:
    """schema.GroupVersionKind.String(): `apps/v1, Kind=Deployment`, `/v1, Kind=ConfigMap`."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    text = api_version if isinstance(api_version, str) else ""
    group, _, version = text.rpartition("/")
    return f"{group}/{version}, Kind={kind if isinstance(kind, str) else ''}"


def decode_apply_body(body: bytes) -> dict[str, Any]:
    """The configuration as a map: JSON, else YAML as Go reads it; 400 otherwise."""
    try:
        config: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            config = yamljson.load(body)
        except yamljson.YAMLError as exc:
            raise StatusError.bad_request(f"error decoding YAML: {exc}") from exc
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise StatusError.bad_request(
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot"
            f" unmarshal {_json_kind(config)} into Go value of type map[string]interface {{}}"
        )
    return config


def decode_apply_config(rt: ResourceType, namespace: str, name: str, body: bytes) -> dict[str, Any]:
    config = decode_apply_body(body)
    if config.get("apiVersion") != rt.api_version or config.get("kind") != rt.kind:
        raise StatusError.bad_request(f"invalid object type: {gvk_string(config)}")
    meta = config.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise StatusError.bad_request("metadata must be an object")
    meta = meta or {}
    if meta.get("managedFields") is not None:
        raise StatusError.bad_request("metadata.managedFields must be nil")
    body_name = meta.get("name")
    if body_name and body_name != name:
        raise StatusError.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    body_ns = meta.get("namespace")
    if rt.namespaced and body_ns and body_ns != namespace:
        raise StatusError.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return config


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "value"
