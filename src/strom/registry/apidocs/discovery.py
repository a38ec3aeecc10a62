"""Discovery documents: what `/api`, `/apis` and `/apis/<g>/<v>` answer.

kubectl and client-go learn every resource from these documents (legacy `APIResourceList`s or
one aggregated `apidiscovery.k8s.io/v2` list), so their shape and ordering follow
kube-apiserver v1.36 field for field: groups in kube's priority order, versions newest first,
resources and subresources by name. Builders here return plain dicts; `ApiDocs` serialises and
caches them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from strom.registry.kinds import ResourceType

__all__ = [
    "GroupVersions",
    "aggregated_list",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "group_versions",
    "storage_version_hash",
    "subresource_info",
    "version_key",
]

# kube-apiserver's group priorities (pkg/controlplane/apiserver aggregator priorities), highest
# first; the captured /apis aggregated discovery lists groups in exactly this order.
_GROUP_ORDER: tuple[str, ...] = (
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "resource.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "storagemigration.k8s.io",
)
_GROUP_RANK = {group: rank for rank, group in enumerate(_GROUP_ORDER)}

_STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class SubresourceInfo:
    """What a subresource answers with (its kind, when not the parent's) and its verbs."""

    group: str
    version: str
    kind: str  # "" means the parent's kind
    verbs: tuple[str, ...]


_SUBRESOURCES: dict[str, SubresourceInfo] = {
    "status": SubresourceInfo("", "", "", _STATUS_VERBS),
    "scale": SubresourceInfo("autoscaling", "v1", "Scale", _STATUS_VERBS),
    "finalize": SubresourceInfo("", "", "", ("update",)),
    "ephemeralcontainers": SubresourceInfo("", "", "", _STATUS_VERBS),
    "resize": SubresourceInfo("", "", "", _STATUS_VERBS),
    "binding": SubresourceInfo("", "", "Binding", ("create",)),
    "eviction": SubresourceInfo("policy", "v1", "Eviction", ("create",)),
    "log": SubresourceInfo("", "", "", ("get",)),
    "token": SubresourceInfo("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
    "approval": SubresourceInfo("", "", "", _STATUS_VERBS),
}


def subresource_info(name: str) -> SubresourceInfo:
    """kube's answer kind and verbs for a named subresource (status-like when unknown)."""
    return _SUBRESOURCES.get(name, SubresourceInfo("", "", "", _STATUS_VERBS))


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """apiserver's `discovery.StorageVersionHash`: base64 of sha256("g/v/kind")[:8]."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key putting kube-style versions first: GA > beta > alpha, higher numbers first."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)  # non-kube versions last, alphabetically
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)


def _group_key(group: str) -> tuple[int, str]:
    # Custom groups rank below every built-in group and sort by name, as their APIServices
    # (priority 1000) do.
    return (_GROUP_RANK.get(group, len(_GROUP_ORDER)), group)


@dataclass(frozen=True, slots=True)
class GroupVersions:
    """One served group: its versions (preferred first) and the types of each version."""

    name: str
    versions: tuple[str, ...]
    types: dict[str, tuple[ResourceType, ...]]


def group_versions(types: Iterable[ResourceType]) -> list[GroupVersions]:
    """Served groups in discovery order; the core group ("") comes first when served."""
    by_group: dict[str, dict[str, list[ResourceType]]] = {}
    for rt in types:
        by_group.setdefault(rt.group, {}).setdefault(rt.version, []).append(rt)
    groups = []
    for name in sorted(by_group, key=lambda g: (g != "", _group_key(g))):
        versions = tuple(sorted(by_group[name], key=version_key))
        per_version = {
            v: tuple(sorted(by_group[name][v], key=lambda rt: rt.plural)) for v in versions
        }
        groups.append(GroupVersions(name=name, versions=versions, types=per_version))
    return groups


def _gv_entry(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _api_group_body(group: GroupVersions) -> dict[str, Any]:
    return {
        "name": group.name,
        "versions": [_gv_entry(group.name, v) for v in group.versions],
        "preferredVersion": _gv_entry(group.name, group.versions[0]),
    }


def api_group_list(groups: Sequence[GroupVersions]) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_api_group_body(g) for g in groups if g.name],
    }


def api_group(group: GroupVersions) -> dict[str, Any]:
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group_body(group)}


def _has_storage(rt: ResourceType) -> bool:
    # Create-only review kinds (SelfSubjectReview, ...) are never stored, so kube gives them
    # no storageVersionHash.
    return any(verb != "create" for verb in rt.verbs)


def _legacy_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if _has_storage(rt):
        stored = rt.storage_version or rt.version
        entry["storageVersionHash"] = storage_version_hash(rt.group, stored, rt.kind)
    return entry


def _legacy_subresource(rt: ResourceType, name: str) -> dict[str, Any]:
    info = subresource_info(name)
    entry: dict[str, Any] = {
        "name": f"{rt.plural}/{name}",
        "singularName": "",
        "namespaced": rt.namespaced,
    }
    if info.group or info.version:
        entry["group"] = info.group
        entry["version"] = info.version
    entry["kind"] = info.kind or rt.kind
    entry["verbs"] = list(info.verbs)
    return entry


def api_resource_list(group: str, version: str, types: Sequence[ResourceType]) -> dict[str, Any]:
    """`APIResourceList` for one group/version; the core list carries no apiVersion, as kube's."""
    resources: list[dict[str, Any]] = []
    for rt in sorted(types, key=lambda t: t.plural):
        resources.append(_legacy_resource(rt))
        resources.extend(_legacy_subresource(rt, sub) for sub in sorted(rt.subresources))
    doc: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = resources
    return doc


def _response_kind(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_subresource(rt: ResourceType, name: str) -> dict[str, Any]:
    info = subresource_info(name)
    return {
        "subresource": name,
        "responseKind": _response_kind(info.group, info.version, info.kind or rt.kind),
        "verbs": list(info.verbs),
    }


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": _response_kind("", "", rt.kind),
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            _aggregated_subresource(rt, sub) for sub in sorted(rt.subresources)
        ]
    return entry


def _aggregated_group(group: GroupVersions) -> dict[str, Any]:
    metadata = {"name": group.name} if group.name else {}
    versions = [
        {
            "version": version,
            "resources": [_aggregated_resource(rt) for rt in group.types[version]],
            "freshness": "Current",
        }
        for version in group.versions
    ]
    return {"metadata": metadata, "versions": versions}


def aggregated_list(groups: Sequence[GroupVersions]) -> dict[str, Any]:
    """`APIGroupDiscoveryList` over the given groups (core alone for /api, the rest for /apis)."""
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(g) for g in groups],
    }
