"""The watch cache: current state and recent history of every resource, in RAM.

Reads are served from here, not from the store: one dict lookup for a get, a slice of a sorted
key list for a list. Each entry keeps the object's JSON bytes exactly as stored, so a get is a
copy of bytes and a list is a join of them; nothing is serialized again.

Per resource (storage prefix; all versions of a resource share one) there is also a cyclic
buffer of recent events — the history watchers resume from — and the set of watchers, fed in
`StateCache._on_changes`, which runs on the event loop for every committed batch before the
writers are acknowledged. Everything here runs on the event loop only; there are no locks.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from strom.cache.watchers import Watcher, WatcherSet, WatchEvent
from strom.errors import StatusError
from strom.storage.base import Change, ChangeType, Compacted, Store

__all__ = ["Entry", "History", "ResourceState", "StateCache"]

History = AsyncIterator[Sequence[WatchEvent]]
"""A watch's catch-up: the events it missed, a page at a time."""

# History kept per resource (kube-apiserver's watch cache: 100 to 100Ki events, ~75 s).
MIN_HISTORY = 100
MAX_HISTORY = 100 * 1024
HISTORY_SECONDS = 75.0
# Watchers written per turn of the event loop when flushing a fan-out.
FLUSH_SLICE = 1000
# Buckets (bytes) of apiserver_watch_events_sizes; counted per event, not per watcher.
EVENT_SIZE_BUCKETS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
# Recent changes read back from the store at start-up, so clients resume across restarts.
STARTUP_HISTORY = 10_000
# Changes read from the store's log per page when a watch resumes from before the window.
STORE_HISTORY_PAGE = 5000


@dataclass(frozen=True, slots=True)
class Entry:
    """One live object: its revision, stored bytes and decoded form (read-only)."""

    key: str
    rev: int
    value: bytes
    obj: dict[str, Any]


class ResourceState:
    """Live objects, recent events and watchers under one key prefix.

    Fields (event loop only):
      entries: key -> Entry for every live object.
      _keys: the keys of `entries`, sorted; kept in step on create and delete.
      history: recent events, oldest first, with their arrival times.
      window_start: every event of this resource with rev > window_start is in `history`.
      watchers: who gets this resource's events.
    Invariants: `_keys == sorted(entries)`; `history` revisions strictly increase and are all
    > window_start.
    """

    def __init__(self, prefix: str, *, namespaced: bool, window_start: int) -> None:
        self.prefix = prefix
        self.entries: dict[str, Entry] = {}
        self._keys: list[str] = []
        self.history: deque[tuple[float, WatchEvent]] = deque()
        self.window_start = window_start
        self.watchers = WatcherSet(prefix, namespaced=namespaced)
        # Event size histogram: counts per bucket (last = +Inf) and the sum of sizes.
        self.size_counts = [0] * (len(EVENT_SIZE_BUCKETS) + 1)
        self.size_sum = 0
        # While the initial list runs: key -> revision of deletions seen meanwhile.
        self.deleted_while_loading: dict[str, int] | None = None
        # Bumped by every change applied: readers that derived something from `entries` can
        # tell cheaply that nothing here has changed since.
        self.changes = 0

    def apply(self, change: Change) -> None:
        self.changes += 1
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

    def remember(self, event: WatchEvent, now: float) -> None:
        """Append to history; drop what is both old and beyond the minimum, or over the max."""
        self.history.append((now, event))
        self.trim(now)

    def trim(self, now: float) -> None:
        history = self.history
        while len(history) > MIN_HISTORY and (
            len(history) > MAX_HISTORY or now - history[0][0] > HISTORY_SECONDS
        ):
            _, dropped = history.popleft()
            self.window_start = dropped.rev

    def events_after(self, rev: int) -> list[WatchEvent] | None:
        """History after `rev`, or None if the buffer no longer covers it."""
        if rev < self.window_start:
            return None
        history = self.history
        # Binary search on revisions (history is sorted by rev).
        lo, hi = 0, len(history)
        while lo < hi:
            mid = (lo + hi) // 2
            if history[mid][1].rev <= rev:
                lo = mid + 1
            else:
                hi = mid
        return [history[i][1] for i in range(lo, len(history))]

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

    def count_after(self, prefix: str, key: str) -> int:
        """How many live keys under `prefix` sort after `key` (two bisections)."""
        keys = self._keys
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return bisect.bisect_left(keys, end) - bisect.bisect_right(keys, key)

    def __len__(self) -> int:
        return len(self.entries)


class StateCache:
    """All `ResourceState`s, fed by one subscription to the store's change feed.

    Fields (event loop only):
      rev: the newest revision applied; reads and watch registrations are consistent at it.
      _states: prefix -> ResourceState for every registered resource prefix.
      _waiters: futures of readers waiting for `rev` to reach a revision.
      _startup_history: changes read back at start, handed to prefixes as they register.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._states: dict[str, ResourceState] = {}
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._startup_history: list[Change] = []
        self._history_start = 0
        self._startup_rev = 0
        self._history_known = False
        self.rev = 0
        # Watchers with queued frames, in the order they were first queued (an ordered set).
        self._dirty: dict[Watcher, None] = {}
        self._round: list[Watcher] = []  # the watchers being flushed, in slices
        self._round_pos = 0
        self._round_started = 0.0
        self._flush_scheduled = False

    @property
    def store(self) -> Store:
        return self._store

    def check_not_compacted(self, rev: int) -> None:
        """410 Expired, worded as kube's, when history at `rev` is compacted away."""
        compact_rev = self._store.compact_rev
        if rev < compact_rev:
            raise _too_old(rev, compact_rev)

    def history_since(self, state: ResourceState, after: int) -> History:
        """The events of `state` after revision `after`, up to the cache's revision now.

        Call it in the same step of the event loop as the watcher registers: the history
        ends where the watcher's live events begin, so none is missed or sent twice. What the
        window still holds comes from memory (a list of references, framed by the caller as
        it writes); older history is read from the store's change log a page at a time while
        the caller writes the previous one. A revision compacted meanwhile raises 410.
        """
        upto = self.rev
        if after >= upto:
            return _pages([])
        buffered = state.events_after(after)
        if buffered is not None:
            return _pages(buffered)
        return self._store_history(state.prefix, after, upto)

    async def _store_history(self, prefix: str, after: int, upto: int) -> History:
        rev = after
        while rev < upto:
            try:
                changes = await self._store.changes_since(rev, limit=STORE_HISTORY_PAGE)
            except Compacted as exc:
                raise _too_old(after, exc.compact_rev) from exc
            if not changes:
                return
            yield [WatchEvent(c) for c in changes if c.rev <= upto and c.key.startswith(prefix)]
            rev = changes[-1].rev

    async def start(self, prefixes: Sequence[tuple[str, bool]]) -> None:
        """Load recent history and the current state of each prefix, then follow changes."""
        self._store.subscribe(self._on_changes)
        self.rev = self._store.current_rev
        self._history_start = max(self._store.compact_rev, self.rev - STARTUP_HISTORY)
        self._startup_history = await self._store.changes_since(
            self._history_start, limit=STARTUP_HISTORY
        )
        self._startup_rev = self.rev
        self._history_known = True
        for prefix, namespaced in prefixes:
            await self.add_prefix(prefix, namespaced=namespaced)

    async def add_prefix(self, prefix: str, *, namespaced: bool) -> ResourceState:
        """Register a prefix (a new CRD's resource) and load what the store holds under it."""
        state = self._states.get(prefix)
        if state is not None:
            return state
        state = ResourceState(prefix, namespaced=namespaced, window_start=self.rev)
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
        self._seed_history(state, result.rev)
        return state

    def _seed_history(self, state: ResourceState, listed_rev: int) -> None:
        """Give a prefix registered at start-up the history read back from the store.

        Only while nothing has changed since start-up is that history complete for it; a
        prefix registered later (a new CRD) starts its window at its registration.
        """
        if self.rev != self._startup_rev or not self._history_known:
            return
        now = time.monotonic()
        seeded = [
            (now, WatchEvent(c))
            for c in self._startup_history
            if c.key.startswith(state.prefix) and c.rev <= listed_rev
        ]
        state.history.extendleft(reversed(seeded))
        state.window_start = self._history_start

    def forget_startup_history(self) -> None:
        """Drop the start-up history once every prefix known at start-up has taken its part."""
        self._startup_history = []
        self._history_known = False

    def state(self, prefix: str) -> ResourceState | None:
        return self._states.get(prefix)

    def states(self) -> list[ResourceState]:
        return list(self._states.values())

    def _route(self, key: str) -> ResourceState | None:
        # Keys are /registry/<resource>/... (core) or /registry/<group>/<resource>/...
        second = key.find("/", 10)
        state = self._states.get(key[: second + 1])
        if state is None:
            third = key.find("/", second + 1)
            state = self._states.get(key[: third + 1])
        return state

    def _on_changes(self, changes: Sequence[Change]) -> None:
        now = time.monotonic()
        touched = self._dirty
        by_state: dict[ResourceState, list[WatchEvent]] = {}
        for change in changes:
            state = self._route(change.key)
            if state is None:
                continue
            state.apply(change)
            event = WatchEvent(change)
            state.remember(event, now)
            size = len(change.value)
            state.size_counts[bisect.bisect_left(EVENT_SIZE_BUCKETS, size)] += 1
            state.size_sum += size
            if state.watchers.cluster_wide or state.watchers.by_namespace:
                by_state.setdefault(state, []).append(event)
        self.rev = changes[-1].rev
        for state, events in by_state.items():
            state.watchers.fan_out(events, touched)
        if touched and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if self._waiters:
            still = []
            for want, fut in self._waiters:
                if want <= self.rev:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((want, fut))
            self._waiters = still

    def _flush(self) -> None:
        """Write what the fan-out queued, a slice of watchers per turn of the event loop.

        Writing in the next turn rather than inside the change feed lets batches that arrive
        meanwhile join the same write; slicing keeps a large fan-out from holding the loop
        (other requests interleave). A watcher queued again while a round is under way sends
        everything it has at its turn; an empty turn later costs nothing.
        """
        loop = asyncio.get_running_loop()
        if self._round_pos >= len(self._round):
            self._round = list(self._dirty)
            self._dirty.clear()
            self._round_pos = 0
            self._round_started = loop.time()
        end = self._round_pos + FLUSH_SLICE
        for watcher in self._round[self._round_pos : end]:
            watcher.flush()
        self._round_pos = end
        if self._round_pos < len(self._round):
            loop.call_soon(self._flush)
            return
        self._round = []
        self._round_pos = 0
        if self._dirty:
            # Under load, rest as long as the last round took before the next: fan-out gets
            # at most half the loop, writes keep flowing, and the next round carries more
            # events per write (the cost is per write, not per event).
            loop.call_later(loop.time() - self._round_started, self._flush)
        else:
            self._flush_scheduled = False

    async def sync(self, *, timeout: float = 1.0) -> bool:
        """Wait until the cache reflects every write the store had committed when called.

        A no-op on the embedded store (the cache is fed before writes are acknowledged); on
        etcd it covers writes made through other replicas. False if the cache did not catch
        up in time (the caller then reads the store).
        """
        head = await self._store.consistent_rev()
        return await self.wait_until_fresh(head, timeout=timeout)

    async def wait_until_fresh(self, rev: int, *, timeout: float) -> bool:
        """Wait until the cache has applied `rev`; False if that did not happen in time."""
        if self.rev >= rev:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (rev, fut)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        finally:
            # A waiter that gave up (or was cancelled) must not stay queued: clients asking
            # for revisions far ahead would otherwise grow the list without bound.
            with contextlib.suppress(ValueError):  # already resolved and dropped by the feed
                self._waiters.remove(waiter)
        return True

    def trim_history(self) -> None:
        """Drop history older than the window even where no new events push it out."""
        now = time.monotonic()
        for state in self._states.values():
            state.trim(now)

    def stop_watchers(self) -> None:
        """Ask every watch to end (server shutdown): streams finish with their final chunk."""
        for state in self._states.values():
            for watcher in list(state.watchers.all()):
                watcher.stop("shutdown")


async def _pages(events: Sequence[WatchEvent]) -> History:
    if events:
        yield events


def _too_old(rev: int, compact_rev: int) -> StatusError:
    return StatusError.gone(f"too old resource version: {rev} ({compact_rev + 1})")
