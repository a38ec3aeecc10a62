"""Current state of every resource in RAM, fed by the store's change feed.

Reads are served from here, not from the store: one dict lookup for a get, a slice of a sorted
key list for a list. Each entry keeps the object's JSON bytes exactly as stored, so a get is a
copy of bytes and a list is a join of them; nothing is serialized again.

One `ResourceState` per storage prefix (all versions of a resource share one), owned by
`StateCache`, which routes each committed change to its prefix. Everything here runs on the
event loop only; there are no locks.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from strom.storage.base import Change, ChangeType, Store

__all__ = ["Entry", "ResourceState", "StateCache"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One live object: its revision, stored bytes and decoded form (read-only)."""

    key: str
    rev: int
    value: bytes
    obj: dict[str, Any]


class ResourceState:
    """Live objects under one key prefix.

    Fields (event loop only):
      entries: key -> Entry for every live object.
      _keys: the keys of `entries`, sorted; kept in step on create and delete.
    Invariant: `_keys == sorted(entries)`.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.entries: dict[str, Entry] = {}
        self._keys: list[str] = []
        # While the initial list runs: key -> revision of deletions seen meanwhile.
        self.deleted_while_loading: dict[str, int] | None = None

    def load(self, entries: Sequence[Entry]) -> None:
        self.entries = {e.key: e for e in entries}
        self._keys = sorted(self.entries)

    def apply(self, change: Change) -> None:
        if change.type is ChangeType.DELETE:
            if self.deleted_while_loading is not None:
                self.deleted_while_loading[change.key] = change.rev
            if self.entries.pop(change.key, None) is not None:
                i = bisect.bisect_left(self._keys, change.key)
                del self._keys[i]
            return
        if change.key not in self.entries:
            bisect.insort(self._keys, change.key)
        self.entries[change.key] = Entry(change.key, change.rev, change.value, change.obj)

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def scan(self, prefix: str, start_after: str = "") -> Iterator[Entry]:
        """Entries whose key starts with `prefix`, in key order, after `start_after`."""
        keys = self._keys
        lo = bisect.bisect_left(keys, prefix)
        if start_after:
            lo = max(lo, bisect.bisect_right(keys, start_after))
        entries = self.entries
        for i in range(lo, len(keys)):
            key = keys[i]
            if not key.startswith(prefix):
                return
            yield entries[key]

    def __len__(self) -> int:
        return len(self.entries)


class StateCache:
    """All `ResourceState`s, fed by one subscription to the store's change feed.

    Fields (event loop only):
      rev: the newest revision applied; reads are consistent at it.
      _states: prefix -> ResourceState for every registered resource prefix.
      _waiters: futures of readers waiting for `rev` to reach a revision.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._states: dict[str, ResourceState] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.rev = 0

    async def start(self, prefixes: Sequence[str]) -> None:
        """Load the current state of each prefix and start following the change feed."""
        self._store.subscribe(self._on_changes)
        self.rev = self._store.current_rev
        for prefix in prefixes:
            await self.add_prefix(prefix)

    async def add_prefix(self, prefix: str) -> ResourceState:
        """Register a prefix (a new CRD's resource) and load what the store holds under it."""
        state = self._states.get(prefix)
        if state is not None:
            return state
        state = ResourceState(prefix)
        state.deleted_while_loading = {}
        self._states[prefix] = state
        # Changes arriving while the list runs are applied by _on_changes already; the list is
        # at a revision <= theirs, so an entry from the list loses to anything newer.
        try:
            result = await self._store.list_prefix(prefix)
        except BaseException:
            del self._states[prefix]
            raise
        deleted = state.deleted_while_loading
        state.deleted_while_loading = None
        for kv in result.items:
            current = state.entries.get(kv.key)
            if current is not None and current.rev >= kv.rev:
                continue
            if deleted.get(kv.key, 0) > kv.rev:
                continue
            state.apply(Change(ChangeType.PUT, kv.key, kv.rev, kv.value, kv.obj, None))
        return state

    def state(self, prefix: str) -> ResourceState | None:
        return self._states.get(prefix)

    def _route(self, key: str) -> ResourceState | None:
        # Keys are /registry/<resource>/... (core) or /registry/<group>/<resource>/...
        second = key.find("/", 10)
        state = self._states.get(key[: second + 1])
        if state is None:
            third = key.find("/", second + 1)
            state = self._states.get(key[: third + 1])
        return state

    def _on_changes(self, changes: Sequence[Change]) -> None:
        for change in changes:
            state = self._route(change.key)
            if state is not None:
                state.apply(change)
        self.rev = changes[-1].rev
        if self._waiters:
            still = []
            for want, fut in self._waiters:
                if want <= self.rev:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((want, fut))
            self._waiters = still

    async def wait_until_fresh(self, rev: int, *, timeout: float) -> bool:
        """Wait until the cache has applied `rev`; False if that did not happen in time."""
        if self.rev >= rev:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((rev, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        return True
