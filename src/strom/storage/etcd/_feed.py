"""The change feed: ONE etcd watch on the whole prefix, fed to listeners in revision order.

The watch starts at the revision the store started at, asks for `prev_kv` (a DELETED event
carries the last state, a MODIFIED one the object it replaced) and carries `hasleader`
metadata, so a member cut off from the quorum cancels it instead of going quiet. Every watch
response becomes one batch for the listeners; then the writers waiting for those revisions
are released, which is how a write is acknowledged only after the cache has it.

Writes of other strom replicas arrive the same way. If the stream breaks, the feed resumes on
the next endpoint from the last delivered revision + 1, so nothing is lost or repeated. If
that revision has been compacted meanwhile, the gap cannot be replayed: the feed jumps to
etcd's current revision R, tells the reset listeners "relist at R" and continues after R.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc.aio  # type: ignore[import-untyped]
from etcd3aio._protobuf import WatchCreateRequest, WatchRequest

from strom.storage.base import Change, ChangeListener, StorageError
from strom.storage.etcd._codec import KeyMap, change_from_event
from strom.storage.etcd._rpc import Connection

__all__ = ["REQUIRE_LEADER", "Feed", "ResetListener"]

log = logging.getLogger(__name__)

# Called with the revision R the feed jumped to: state must be rebuilt by listing at R.
ResetListener = Callable[[int], None]
REQUIRE_LEADER = (("hasleader", "true"),)
_BACKOFF_START = 0.05
_BACKOFF_MAX = 2.0


class _Compacted(Exception):
    def __init__(self, compact_rev: int) -> None:
        super().__init__(f"watch start compacted (at {compact_rev})")
        self.compact_rev = compact_rev


class _Broken(Exception):
    pass


class Feed:
    """Follows the prefix from `delivered` on; event loop only.

    Fields:
      delivered: newest revision handed to the listeners (or skipped by a reset).
      _waiters: heap of (revision, seq, future) for writers waiting on delivery.
      _created: set once the first watch stream is established.
    """

    def __init__(
        self,
        conn: Connection,
        keys: KeyMap,
        *,
        start_rev: int,
        server_rev: Callable[[], Awaitable[int]],
        on_compacted: Callable[[int], None],
    ) -> None:
        self._conn = conn
        self._keys = keys
        self._server_rev = server_rev
        self._on_compacted = on_compacted
        self.delivered = start_rev
        self._listeners: list[ChangeListener] = []
        self._reset_listeners: list[ResetListener] = []
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._created = asyncio.Event()
        self._established = False  # the current stream got as far as "created"
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def subscribe_reset(self, listener: ResetListener) -> None:
        self._reset_listeners.append(listener)

    async def start(self, *, timeout: float) -> None:
        self._task = asyncio.create_task(self._run(), name="etcd-feed")
        try:
            await asyncio.wait_for(self._created.wait(), timeout)
        except TimeoutError:
            await self.close()
            raise

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._release(2**63)

    async def wait_for(self, rev: int, *, timeout: float) -> bool:
        """Wait until `rev` has been delivered; False if that took longer than `timeout`."""
        if self.delivered >= rev:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rev, next(self._seq), fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        return True

    # --- the watch loop ------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = _BACKOFF_START
        while True:
            index, _ = self._conn.current()
            self._established = False
            try:
                try:
                    await self._follow()
                except _Compacted as exc:
                    await self._reset(exc.compact_rev)
                    continue
            except (grpc.aio.AioRpcError, _Broken, StorageError) as exc:
                log.warning("etcd watch broke at revision %d: %s", self.delivered, exc)
                self._conn.failover(index)
            except Exception:
                log.exception("etcd watch failed at revision %d", self.delivered)
            if self._established:
                backoff = _BACKOFF_START
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _follow(self) -> None:
        _, stubs = self._conn.current()
        call = stubs.watch.Watch(metadata=REQUIRE_LEADER)
        try:
            await call.write(
                WatchRequest(
                    create_request=WatchCreateRequest(
                        key=self._keys.root,
                        range_end=self._keys.root_end,
                        start_revision=self.delivered + 1,
                        prev_kv=True,
                    )
                )
            )
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    raise _Broken("stream ended")
                if resp.compact_revision:
                    raise _Compacted(resp.compact_revision)
                if resp.canceled:
                    raise _Broken(resp.cancel_reason or "watch canceled")
                if resp.created:
                    self._established = True
                    self._created.set()
                if resp.events:
                    self._deliver(resp.events)
        finally:
            call.cancel()

    def _deliver(self, events: Any) -> None:
        """On the loop: one watch response -> one batch, then release waiting writers."""
        changes: list[Change] = []
        last = self.delivered
        for event in events:
            last = max(last, event.kv.mod_revision)
            change = change_from_event(self._keys, event)
            if change is not None:
                changes.append(change)
        if changes:
            for listener in self._listeners:
                try:
                    listener(changes)
                except Exception:
                    log.exception("change listener failed")
        self.delivered = last
        self._release(last)

    def _release(self, rev: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= rev:
            _, _, fut = heapq.heappop(waiters)
            if not fut.done():
                fut.set_result(None)

    async def _reset(self, compact_rev: int) -> None:
        """The resume point was compacted: jump to etcd's current revision and say so."""
        self._on_compacted(compact_rev)
        rev = await self._server_rev()
        log.error(
            "etcd compacted (at %d) past the change feed (at %d): jumping to %d",
            compact_rev,
            self.delivered,
            rev,
        )
        self.delivered = max(self.delivered, rev)
        if not self._reset_listeners:
            log.error("no reset listener: caches fed by this store are stale until restart")
        for listener in self._reset_listeners:
            try:
                listener(self.delivered)
            except Exception:
                log.exception("reset listener failed")
        self._release(self.delivered)
