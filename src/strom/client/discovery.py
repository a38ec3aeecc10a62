"""Resolve what a user types (`po`, `deploy`, `deployments.apps`, `pods.v1.`, a CRD's short
name) into one API resource, the way kubectl's RESTMapper and shortcut expander do.

The server is asked once: aggregated discovery (`apidiscovery.k8s.io/v2`, two requests) when it
offers it, else the legacy documents (`/api`, `/apis`, then every group-version's resource list,
fetched concurrently).  Resources are kept in the server's priority order (core first, then the
groups as `/apis` lists them, each group's preferred version first), which is how kubectl breaks
ties: `events` is the core `events`, not `events.events.k8s.io`.

kubectl's rules, in order:

1. `res.version.group` (two or more dots, group may be empty: `pods.v1.`) names a version;
2. otherwise `res.group` (`deployments.apps`) or bare `res`;
3. `res` matches a plural, then a singular, then a short name, then a kind (case-insensitive);
   the group must match exactly, except that short names may use a group prefix
   (`hpa.autoscal`), as kubectl allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from strom.client.http import ApiError, HttpClient

__all__ = ["ApiResource", "UnknownResourceError", "discover", "resolve", "resolve_resource"]

_AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


class UnknownResourceError(Exception):
    """No resource of that name; the message matches kubectl's."""


@dataclass(frozen=True)
class ApiResource:
    group: str
    version: str
    name: str  # the plural, as in URLs
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_name(self) -> str:
        """`deployments.v1.apps`, `pods.v1.`: the unambiguous spelling."""
        return f"{self.name}.{self.version}.{self.group}"

    def collection_path(self, namespace: str | None) -> str:
        """The list/watch URL; `namespace=None` (or a cluster-scoped type) means all."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.name}"
        return f"{root}/{self.name}"


async def discover(client: HttpClient) -> list[ApiResource]:
    """Every top-level resource the server serves, in priority order."""
    core, groups = await asyncio.gather(
        client.get("/api", accept=f"{_AGGREGATED},application/json"),
        client.get("/apis", accept=f"{_AGGREGATED},application/json"),
    )
    if all("APIGroupDiscoveryList" in r.headers.get("content-type", "") for r in (core, groups)):
        return _from_aggregated(core.json()) + _from_aggregated(groups.json())
    return await _from_legacy(client, core.json(), groups.json())


def _from_aggregated(doc: dict[str, Any]) -> list[ApiResource]:
    found: list[ApiResource] = []
    for group in doc.get("items") or []:
        name = str((group.get("metadata") or {}).get("name", ""))
        for version in group.get("versions") or []:
            for res in version.get("resources") or []:
                found.append(
                    ApiResource(
                        group=name,
                        version=str(version.get("version", "")),
                        name=str(res.get("resource", "")),
                        singular=str(res.get("singularResource", "")),
                        kind=str((res.get("responseKind") or {}).get("kind", "")),
                        namespaced=res.get("scope") == "Namespaced",
                        verbs=tuple(res.get("verbs") or ()),
                        short_names=tuple(res.get("shortNames") or ()),
                    )
                )
    return found


async def _from_legacy(
    client: HttpClient, core: dict[str, Any], groups: dict[str, Any]
) -> list[ApiResource]:
    versions: list[tuple[str, str, str]] = [
        ("", str(v), f"/api/{v}") for v in core.get("versions") or []
    ]
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("version")
        ordered = sorted(group.get("versions") or [], key=lambda v: v.get("version") != preferred)
        for v in ordered:
            versions.append((str(group["name"]), str(v["version"]), f"/apis/{v['groupVersion']}"))

    async def fetch(path: str) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = (await client.get(path)).json()
        except ApiError:  # an unavailable aggregated API: skip it, as kubectl does
            return {}
        return doc

    docs = await asyncio.gather(*(fetch(path) for _, _, path in versions))
    found: list[ApiResource] = []
    for (group, version, _), doc in zip(versions, docs, strict=True):
        for res in doc.get("resources") or []:
            if "/" in str(res.get("name", "")):
                continue  # subresources are not watchable collections
            found.append(
                ApiResource(
                    group=group,
                    version=version,
                    name=str(res["name"]),
                    singular=str(res.get("singularName") or ""),
                    kind=str(res.get("kind", "")),
                    namespaced=bool(res.get("namespaced")),
                    verbs=tuple(res.get("verbs") or ()),
                    short_names=tuple(res.get("shortNames") or ()),
                )
            )
    return found


def resolve_resource(arg: str, resources: Iterable[ApiResource]) -> ApiResource:
    """kubectl's resolution of a resource argument against discovered resources."""
    wanted = arg.strip().lower()
    known = list(resources)
    if not wanted or "/" in wanted:
        raise UnknownResourceError(f'the server doesn\'t have a resource type "{arg}"')
    if wanted.count(".") >= 2:
        res, version, group = wanted.split(".", 2)
        found = _match(res, known, lambda r: r.group == group and r.version == version)
        if found is not None:
            return found
    res, _, group = wanted.partition(".")
    found = _match(res, known, lambda r: not group or r.group == group)
    if found is None and group:
        found = _match_short(res, known, lambda r: r.group.startswith(group))
    if found is None:
        raise UnknownResourceError(f'the server doesn\'t have a resource type "{arg}"')
    return found


def _match(
    res: str, known: list[ApiResource], in_scope: Callable[[ApiResource], bool]
) -> ApiResource | None:
    candidates = [r for r in known if in_scope(r)]
    for key in (
        lambda r: r.name == res,
        lambda r: r.singular == res,
        lambda r: res in r.short_names,
        lambda r: r.kind.lower() == res,
    ):
        for r in candidates:
            if key(r):
                return r
    return None


def _match_short(
    res: str, known: list[ApiResource], in_scope: Callable[[ApiResource], bool]
) -> ApiResource | None:
    return next((r for r in known if in_scope(r) and res in r.short_names), None)


async def resolve(client: HttpClient, arg: str) -> ApiResource:
    """Discover, then resolve `arg`; UnknownResourceError if nothing matches."""
    return resolve_resource(arg, await discover(client))
