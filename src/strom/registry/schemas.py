"""Kubernetes' own schemas for the built-in kinds, from the `kubernetes-validate` package.

That package ships the definitions of kube-apiserver's OpenAPI document (descriptions,
`x-kubernetes-group-version-kind`, patch strategies and merge keys, list types) as JSON Schema
`$defs`. strom reads them instead of writing schemas by hand: OpenAPI, strategic merge patch and
field validation all derive from this one source. Loaded once, lazily, and never mutated.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

__all__ = ["KUBERNETES_VERSION", "definition_name", "definitions", "resolve"]

KUBERNETES_VERSION = "1.36.0"
_DIR = f"v{KUBERNETES_VERSION}-local"
_REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All definitions by name (`io.k8s.api.core.v1.Pod`). Treat as read-only."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", _DIR)
    doc = orjson.loads(root.joinpath("_definitions.json").read_bytes())
    defs: dict[str, dict[str, Any]] = doc["$defs"]
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition that describes a kind, or None for kinds the package does not know."""
    return _gvk_index().get((group, version, kind))


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (possibly nested in allOf) to the definition it names."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return definitions()[ref[len(_REF_PREFIX) :]]
    return schema
