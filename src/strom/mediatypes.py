"""The media types kube-apiserver speaks, named once for every layer (request decoding,
patches, audit, the OpenAPI documents)."""

from __future__ import annotations

__all__ = [
    "APPLY_PATCH",
    "JSON",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PATCH_TYPES",
    "PROTOBUF",
    "STRATEGIC_MERGE_PATCH",
    "WATCH_JSON",
    "WATCH_PROTOBUF",
    "YAML",
    "YAML_TYPES",
]

JSON = "application/json"
YAML = "application/yaml"
# What kube's YAML serializer also accepts on requests.
YAML_TYPES = (YAML, "application/x-yaml", "text/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"
WATCH_JSON = "application/json;stream=watch"
WATCH_PROTOBUF = "application/vnd.kubernetes.protobuf;stream=watch"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# In the order kube lists them (415 messages, the OpenAPI `consumes` of a patch).
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
