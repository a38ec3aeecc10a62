"""Which version's rules a custom resource is read and served under: the storage version's
schema (its defaults apply on every read, as kube applies them decoding from storage) and a
deprecated version's Warning."""

from __future__ import annotations

from typing import Any

from strom.registry.apidocs.discovery import version_key
from strom.registry.kinds import ResourceType
from strom.registry.types import TypeTable

__all__ = ["deprecation_warning", "storage_schema"]


def storage_schema(types: TypeTable, rt: ResourceType) -> Any:
    """The openAPIV3Schema objects of `rt` are stored under (its storage version's)."""
    stored = rt
    if rt.storage_version and rt.storage_version != rt.version:
        stored = types.lookup(rt.group, rt.storage_version, rt.plural) or rt
    return ((stored.crd or {}).get("schema") or {}).get("openAPIV3Schema")


def deprecation_warning(types: TypeTable, rt: ResourceType) -> str:
    """A deprecated CRD version's warning: its own, or kube's default naming the newest
    served version that is not deprecated and is newer (defaultDeprecationWarning)."""
    assert rt.crd is not None
    own = rt.crd.get("deprecationWarning")
    if isinstance(own, str):
        return own
    text = f"{rt.group}/{rt.version} {rt.kind} is deprecated"
    newer = [
        t.version
        for t in types.all()
        if t.group == rt.group
        and t.plural == rt.plural
        and t.crd is not None
        and t.crd.get("deprecated") is not True
        and version_key(t.version) < version_key(rt.version)
    ]
    if newer:
        best = min(newer, key=version_key)
        text += f"; use {rt.group}/{best} {rt.kind}"
    return text
