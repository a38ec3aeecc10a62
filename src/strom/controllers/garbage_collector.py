"""The garbage collector, as kube-controller-manager's does it: dependents follow their owners.

An object names its owners in `metadata.ownerReferences` (by uid). The collector keeps an
owner graph built from the change feed (uid -> key, owner uid -> dependent keys) and works
two queues:

- a **dependent** whose owners are all gone is deleted (background, or as its own
  `orphan`/`foregroundDeletion` finalizer says); one whose owners are partly gone loses the
  dangling references; one whose remaining owners are being deleted in the foreground is
  deleted too (foreground itself when it has dependents of its own, so the chain holds);
- an **owner being deleted** with the `orphan` finalizer has its reference removed from every
  dependent, then loses the finalizer; with `foregroundDeletion` it waits until no dependent
  that sets `blockOwnerDeletion` is left, then loses the finalizer. Losing the last finalizer
  of an object being deleted removes it (the registry's rule).

It writes through the registry like any client: preconditions on uid, 404 and 409 taken as
"someone else got there first" and retried from the graph's current view. The graph holds
two small entries per object that has owners, so it is bounded by the store's contents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from strom.cache.state import Entry, StateCache
from strom.controllers.queue import WorkQueue
from strom.errors import StatusError
from strom.registry.kinds import ResourceType
from strom.registry.rest import DeleteOptions, Registry, WriteOptions
from strom.registry.types import TypeTable
from strom.storage.base import Change, ChangeType

__all__ = ["FOREGROUND_FINALIZER", "ORPHAN_FINALIZER", "GarbageCollector"]

log = logging.getLogger(__name__)

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def _meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def _owner_uids(obj: dict[str, Any] | None) -> set[str]:
    refs = _meta(obj).get("ownerReferences") or ()
    return {str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")}


def _deleting_with(obj: dict[str, Any], finalizer: str) -> bool:
    meta = _meta(obj)
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or ())


class GarbageCollector:
    """Fields (event loop only):
    uids: object key -> uid, for every live object.
    by_uid: uid -> object key.
    dependents: owner uid -> keys of objects naming it in ownerReferences.
    """

    def __init__(
        self,
        *,
        registry: Registry,
        cache: StateCache,
        types: TypeTable,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = registry
        self.is_leader = is_leader
        self.cache = cache
        self.types = types
        self.uids: dict[str, str] = {}
        self.by_uid: dict[str, str] = {}
        self.dependents: dict[str, set[str]] = {}
        self._by_prefix: dict[str, ResourceType] = {}
        self._prefix_gen = -1
        self.items = WorkQueue()  # dependents to check
        self.owners = WorkQueue()  # owners being deleted with orphan/foreground

    # --- the graph -----------------------------------------------------------------------
    def load(self) -> None:
        for state in self.cache.states():
            for entry in list(state.entries.values()):
                self._put(entry.key, None, entry.obj)

    def resync(self) -> None:
        """Queue everything there is to check (on becoming the leader: while another replica
        led, this one only kept the graph)."""
        for state in self.cache.states():
            for entry in list(state.entries.values()):
                if _owner_uids(entry.obj):
                    self.items.add(entry.key)
                if _deleting_with(entry.obj, ORPHAN_FINALIZER) or _deleting_with(
                    entry.obj, FOREGROUND_FINALIZER
                ):
                    self.owners.add(entry.key)

    def on_changes(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.type == ChangeType.DELETE:
                self._delete(change.key, change.prev_obj or change.obj)
            else:
                self._put(change.key, change.prev_obj, change.obj)

    def _put(self, key: str, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        uid = str(_meta(new).get("uid") or "")
        if uid:
            self.uids[key] = uid
            self.by_uid[uid] = key
        before, after = _owner_uids(old), _owner_uids(new)
        for owner in before - after:
            self._unlink(owner, key)
        for owner in after:
            self.dependents.setdefault(owner, set()).add(key)
        if after:
            self.items.add(key)
        if _deleting_with(new, ORPHAN_FINALIZER) or _deleting_with(new, FOREGROUND_FINALIZER):
            self.owners.add(key)

    def _delete(self, key: str, last: dict[str, Any]) -> None:
        uid = self.uids.pop(key, "")
        if uid and self.by_uid.get(uid) == key:
            del self.by_uid[uid]
        for owner in _owner_uids(last):
            self._unlink(owner, key)
            owner_key = self.by_uid.get(owner)
            if owner_key is not None:
                self.owners.add(owner_key)  # a foreground owner may be waiting for this one
        for dependent in self.dependents.get(uid, ()):
            self.items.add(dependent)

    def _unlink(self, owner: str, key: str) -> None:
        keys = self.dependents.get(owner)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.dependents[owner]

    # --- lookups -------------------------------------------------------------------------
    def _type_of(self, key: str) -> ResourceType | None:
        """The served type whose storage holds `key` (its storage version preferred)."""
        if self._prefix_gen != self.types.generation or not self._by_prefix:
            by_prefix: dict[str, ResourceType] = {}
            for served in self.types.all():
                current = by_prefix.get(served.key_prefix)
                if current is None or served.version == (served.storage_version or served.version):
                    by_prefix[served.key_prefix] = served
            self._by_prefix = by_prefix
            self._prefix_gen = self.types.generation
        last = key.rfind("/")
        cluster = self._by_prefix.get(key[: last + 1])
        if cluster is not None and not cluster.namespaced:
            return cluster
        namespaced = self._by_prefix.get(key[: key.rfind("/", 0, last) + 1])
        if namespaced is not None and namespaced.namespaced:
            return namespaced
        return None

    def _entry(self, key: str) -> tuple[ResourceType, Entry] | None:
        rt = self._type_of(key)
        if rt is None:
            return None
        state = self.cache.state(rt.key_prefix)
        entry = state.entries.get(key) if state is not None else None
        return (rt, entry) if entry is not None else None

    def _owner(self, uid: str, namespace: str) -> dict[str, Any] | None:
        """The live owner with this uid, as the dependent can see it (a namespaced owner
        must share the dependent's namespace)."""
        key = self.by_uid.get(uid)
        if key is None:
            return None
        found = self._entry(key)
        if found is None:
            return None
        rt, entry = found
        if rt.namespaced and _meta(entry.obj).get("namespace") != namespace:
            return None
        return entry.obj

    # --- dependents ----------------------------------------------------------------------
    async def sync_item(self, key: str) -> bool:
        if not self.is_leader():
            return False  # the leader's job; resync() catches up on taking over
        found = self._entry(key)
        if found is None:
            return False
        rt, entry = found
        meta = _meta(entry.obj)
        refs = [r for r in meta.get("ownerReferences") or () if isinstance(r, dict)]
        if not refs or meta.get("deletionTimestamp"):
            return False
        namespace = str(meta.get("namespace") or "")
        solid, dangling, waiting = [], [], []
        for ref in refs:
            owner = self._owner(str(ref.get("uid") or ""), namespace)
            if owner is None:
                dangling.append(ref)
            elif _deleting_with(owner, FOREGROUND_FINALIZER):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                gone = {id(r) for r in (*dangling, *waiting)}
                return await self._set_owner_refs(rt, entry, [r for r in refs if id(r) not in gone])
            return False
        finalizers = meta.get("finalizers") or ()
        if waiting and self.dependents.get(str(meta.get("uid") or "")):
            policy = "Foreground"  # hold the chain: its own dependents go first
        elif ORPHAN_FINALIZER in finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        return await self._delete_object(rt, entry, policy)

    async def _delete_object(self, rt: ResourceType, entry: Entry, policy: str) -> bool:
        meta = _meta(entry.obj)
        opts = DeleteOptions(uid=str(meta.get("uid") or ""), propagation_policy=policy)
        try:
            await self.registry.delete(
                rt, str(meta.get("namespace") or ""), str(meta.get("name") or ""), opts
            )
        except StatusError as exc:
            if exc.code == 404:
                return False
            if exc.code == 409:
                return True
            raise
        return False

    async def _set_owner_refs(
        self, rt: ResourceType, entry: Entry, refs: list[dict[str, Any]]
    ) -> bool:
        obj = self.registry.render_obj(rt, entry.obj)
        meta = obj["metadata"]
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        meta["resourceVersion"] = str(entry.rev)
        return await self._update(rt, obj)

    async def _update(self, rt: ResourceType, obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        try:
            await self.registry.update(
                rt,
                str(meta.get("namespace") or ""),
                str(meta.get("name") or ""),
                obj,
                WriteOptions(field_validation="Ignore", user_agent="generic-garbage-collector"),
            )
        except StatusError as exc:
            if exc.code == 404:
                return False
            if exc.code == 409:
                return True  # changed meanwhile: look again
            raise
        return False

    # --- owners being deleted ------------------------------------------------------------
    async def sync_owner(self, key: str) -> bool:
        if not self.is_leader():
            return False
        found = self._entry(key)
        if found is None:
            return False
        rt, entry = found
        meta = _meta(entry.obj)
        uid = str(meta.get("uid") or "")
        if _deleting_with(entry.obj, ORPHAN_FINALIZER):
            again = False
            for dependent in sorted(self.dependents.get(uid, ())):
                found_dep = self._entry(dependent)
                if found_dep is None:
                    continue
                dep_rt, dep = found_dep
                refs = [
                    r
                    for r in _meta(dep.obj).get("ownerReferences") or ()
                    if isinstance(r, dict) and str(r.get("uid")) != uid
                ]
                again |= await self._set_owner_refs(dep_rt, dep, refs)
            if again or self.dependents.get(uid):
                return True
            return await self._drop_finalizer(rt, entry, ORPHAN_FINALIZER)
        if _deleting_with(entry.obj, FOREGROUND_FINALIZER):
            blocking = False
            for dependent in sorted(self.dependents.get(uid, ())):
                found_dep = self._entry(dependent)
                if found_dep is None:
                    continue
                self.items.add(dependent)
                _, dep = found_dep
                for ref in _meta(dep.obj).get("ownerReferences") or ():
                    if isinstance(ref, dict) and str(ref.get("uid")) == uid:
                        blocking |= ref.get("blockOwnerDeletion") is True
            if blocking:
                return False  # each blocking dependent's deletion requeues this owner
            return await self._drop_finalizer(rt, entry, FOREGROUND_FINALIZER)
        return False

    async def _drop_finalizer(self, rt: ResourceType, entry: Entry, finalizer: str) -> bool:
        obj = self.registry.render_obj(rt, entry.obj)
        meta = obj["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != finalizer]
        if not meta["finalizers"]:
            del meta["finalizers"]
        meta["resourceVersion"] = str(entry.rev)
        return await self._update(rt, obj)
