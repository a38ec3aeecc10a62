"""The live table of served resource types: the built-in kinds plus what CRDs define.

Routing, discovery and OpenAPI read it; it changes only when a CRD is established or removed
(on the event loop), and every change bumps `generation` so derived documents know to rebuild.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from strom.cache.state import ResourceState, StateCache
from strom.registry.kinds import BUILTIN, VIRTUAL, ResourceType

__all__ = ["TypeTable", "types_from_crd"]


class TypeTable:
    """Fields (event loop only):
    by_path: (group, version, plural) -> type, for routing.
    crd_types: CRD name -> the types it serves (one per served version).
    generation: bumped on every change.
    """

    def __init__(self) -> None:
        self.by_path: dict[tuple[str, str, str], ResourceType] = {}
        self.crd_types: dict[str, tuple[ResourceType, ...]] = {}
        self.crd_revs: dict[str, int] = {}
        self.generation = 0
        self._listeners: list[Callable[[], None]] = []
        self._crd_waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        for rt in (*BUILTIN, *VIRTUAL):
            self.by_path[(rt.group, rt.version, rt.plural)] = rt

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_path.get((group, version, plural))

    def with_states(self, cache: StateCache) -> Iterator[tuple[ResourceType, ResourceState]]:
        """Each served resource's cached state, once per storage prefix (versions of one
        resource share it): for what reports per resource (metrics, the live view)."""
        seen: set[str] = set()
        for rt in self.all():
            state = cache.state(rt.key_prefix)
            if state is None or rt.key_prefix in seen:
                continue
            seen.add(rt.key_prefix)
            yield rt, state

    def all(self) -> list[ResourceType]:
        return list(self.by_path.values())

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first."""
        out: dict[str, list[str]] = {}
        for rt in self.by_path.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def set_crd(self, name: str, types: Iterable[ResourceType], rev: int) -> None:
        self._drop(name)
        kept = tuple(types)
        self.crd_types[name] = kept
        self.crd_revs[name] = rev
        for rt in kept:
            self.by_path[(rt.group, rt.version, rt.plural)] = rt
        self._changed()
        self._wake(name, rev)

    def remove_crd(self, name: str, rev: int) -> None:
        self._drop(name)
        self.crd_types.pop(name, None)
        self.crd_revs[name] = rev
        self._changed()
        self._wake(name, rev)

    def _drop(self, name: str) -> None:
        for rt in self.crd_types.get(name, ()):
            if self.by_path.get((rt.group, rt.version, rt.plural)) is rt:
                del self.by_path[(rt.group, rt.version, rt.plural)]

    def _changed(self) -> None:
        self.generation += 1
        for listener in self._listeners:
            listener()

    def _wake(self, name: str, rev: int) -> None:
        still = []
        for want_name, want_rev, fut in self._crd_waiters:
            if want_name == name and want_rev <= rev:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((want_name, want_rev, fut))
        self._crd_waiters = still

    async def wait_for_crd(self, name: str, rev: int, *, timeout: float) -> None:
        """Wait until the CRD's change at `rev` is reflected in this table."""
        if self.crd_revs.get(name, 0) >= rev:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._crd_waiters.append((name, rev, fut))
        await asyncio.wait_for(fut, timeout)


def _established(crd: dict[str, Any]) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Established" and cond.get("status") == "True":
            return True
    return False


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CRD serves: one per served version, once it is Established."""
    if not _established(crd) or (crd.get("metadata") or {}).get("deletionTimestamp"):
        return []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = spec.get("versions") or []
    storage = next((v.get("name", "") for v in versions if v.get("storage")), "")
    conversion = spec.get("conversion") or {}
    webhook = conversion.get("webhook") if conversion.get("strategy") == "Webhook" else None
    out = []
    for v in versions:
        if not v.get("served"):
            continue
        sub = v.get("subresources") or {}
        subresources = tuple(s for s in ("scale", "status") if s in sub)
        out.append(
            ResourceType(
                group=group,
                version=v.get("name", ""),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                crd=v,
                storage_version=storage,
                conversion=webhook if isinstance(webhook, dict) else None,
            )
        )
    return out
