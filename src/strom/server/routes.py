"""Parsing request paths into what they address, as kube-apiserver's RequestInfoFactory does."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ResourcePath", "parse_resource_path"]

# Verbs that kube-apiserver calls collection-level for these HTTP methods.
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True, slots=True)
class ResourcePath:
    """A path below /api/v1 or /apis/<group>/<version>.

    `resource` is empty for the group-version root (discovery). `watch_prefix` is set for the
    legacy `/watch/` paths.
    """

    group: str
    version: str
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    watch_prefix: bool = False


def parse_resource_path(path: str) -> ResourcePath | None:
    """None when the path is not below an API group-version."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch = True
        rest = rest[1:]
    if not rest:
        return ResourcePath(group, version, watch_prefix=watch)
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace = rest[1]
        rest = rest[2:]
    else:
        namespace = ""
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    return ResourcePath(group, version, namespace, resource, name, sub, watch)
