"""etcd backend of the `Store` contract, shaped like kube-apiserver's etcd3 storage.

resourceVersion is etcd's `mod_revision`. A create is a txn on `create_revision == 0`; update
and delete are compare-and-swap on `mod_revision` (or on existence when no revision is
expected); the failure branch reads the key back, which tells KeyNotFound from Conflict in the
same round trip. Lists read at one revision (the first page fixes it) in pages. History replay
is a watch from rev+1 over the whole keyspace, so it always ends at a known revision: every
etcd revision is some write, and its event arrives whatever key it touched (events outside the
prefix are dropped). A write returns only after the store's own change feed (`_feed.Feed`)
delivered its revision, so readers of the cache see their own writes.

Transient failures (a member dying, leader elections) are retried on the next endpoint. A
retried write may already have been applied by the attempt that failed; the write then finds
its own bytes in etcd and reports success instead of KeyExists/Conflict.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grpc.aio  # type: ignore[import-untyped]
from etcd3aio._protobuf import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
    WatchCreateRequest,
    WatchRequest,
)

from strom.storage.base import (
    Change,
    ChangeListener,
    Compacted,
    Conflict,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
)
from strom.storage.etcd._codec import (
    KeyMap,
    change_from_event,
    encode_for_storage,
    key_value,
    prefix_end,
    with_revision,
)
from strom.storage.etcd._feed import REQUIRE_LEADER, Feed, ResetListener
from strom.storage.etcd._rpc import (
    Connection,
    EtcdError,
    ServerVersion,
    Stubs,
    TlsFiles,
    is_compacted,
    is_future_revision,
)

__all__ = ["EtcdStore"]

log = logging.getLogger(__name__)

# Per-attempt deadlines: a write is small; a list page or a history replay can be large.
_WRITE_TIMEOUT = 5.0
_READ_TIMEOUT = 30.0
_START_TIMEOUT = 15.0
# How long a write waits for its own revision on the feed before returning anyway (it is
# committed; only read-your-writes through the cache is at stake, and the feed logs why).
_FEED_WAIT = 10.0
_LIST_PAGE = 1000


class EtcdStore:
    """Store on an etcd v3 cluster (`endpoints`: "host:port" or "http(s)://host:port")."""

    def __init__(
        self,
        *,
        endpoints: list[str],
        prefix: str = "/registry",
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> None:
        self._endpoints = list(endpoints)
        self._tls = TlsFiles(ca_file, cert_file, key_file)
        self._keys = KeyMap(prefix)
        self._conn: Connection | None = None
        self._feed: Feed | None = None
        self._compact_rev = 0
        self._listeners: list[ChangeListener] = []
        self._reset_listeners: list[ResetListener] = []
        self.server_version: ServerVersion | None = None

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, learn version and revisions, and start the change feed at etcd's head."""
        self._conn = Connection(self._endpoints, self._tls)
        try:
            self.server_version = await self._conn.server_version(timeout=_START_TIMEOUT)
            rev = await self.current_revision_from_server()
            self._compact_rev = await self._find_compact_rev(rev)
            feed = Feed(
                self._conn,
                self._keys,
                start_rev=rev,
                server_rev=self.current_revision_from_server,
                on_compacted=self._note_compacted,
            )
            for listener in self._listeners:
                feed.subscribe(listener)
            for reset in self._reset_listeners:
                feed.subscribe_reset(reset)
            await feed.start(timeout=_START_TIMEOUT)
        except BaseException:
            await self._conn.close()
            self._conn = None
            raise
        self._feed = feed
        log.info(
            "etcd %s at %s: revision %d, compacted at %d, prefix %r",
            self.server_version,
            ",".join(self._endpoints),
            rev,
            self._compact_rev,
            self._keys.prefix,
        )

    health_check_name = "etcd"

    async def check_health(self) -> None:
        """kube's etcd check: a linearizable read answered by the cluster's quorum."""
        await self.current_revision_from_server()

    async def close(self) -> None:
        if self._feed is not None:
            await self._feed.close()
            self._feed = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    # --- revisions and subscriptions -----------------------------------------------------
    @property
    def current_rev(self) -> int:
        """The newest revision the change feed delivered (etcd's head at start)."""
        return self._feed.delivered if self._feed is not None else 0

    @property
    def compact_rev(self) -> int:
        return self._compact_rev

    @property
    def watch_progress_reliable(self) -> bool:
        """Whether the server's RequestWatchProgress may be used (>= 3.4.31 / 3.5.13)."""
        return self.server_version is not None and self.server_version.progress_notify_reliable

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)
        if self._feed is not None:
            self._feed.subscribe(listener)

    def subscribe_reset(self, listener: ResetListener) -> None:
        """`listener(rev)` runs when the feed skipped compacted history: relist at `rev`."""
        self._reset_listeners.append(listener)
        if self._feed is not None:
            self._feed.subscribe_reset(listener)

    async def consistent_rev(self) -> int:
        """Store protocol: etcd's head, which the cache must reach for a consistent read."""
        return await self.current_revision_from_server()

    async def current_revision_from_server(self) -> int:
        """etcd's current revision, read linearizably (one key, count only: cheap)."""

        async def head(stubs: Stubs) -> Any:
            req = RangeRequest(key=self._keys.root, count_only=True)
            return await stubs.kv.Range(req, timeout=_WRITE_TIMEOUT)

        resp = await self._call(head)
        rev: int = resp.header.revision
        return rev

    def _note_compacted(self, rev: int) -> None:
        self._compact_rev = max(self._compact_rev, rev)

    async def _readable_at(self, rev: int) -> bool:
        async def probe(stubs: Stubs) -> Any:
            req = RangeRequest(key=self._keys.root, count_only=True, revision=rev)
            return await stubs.kv.Range(req, timeout=_WRITE_TIMEOUT)

        try:
            await self._call(probe)
        except grpc.aio.AioRpcError as exc:
            if is_compacted(exc):
                return False
            raise
        return True

    async def _find_compact_rev(self, head: int) -> int:
        """etcd's compacted revision: the oldest still readable one (etcd 3.4 has no API).

        One probe when nothing was compacted, else a binary search (~log2(head) probes).
        """
        if head <= 1 or await self._readable_at(1):
            return 0
        gone, readable = 1, head
        while readable - gone > 1:
            mid = (gone + readable) // 2
            if await self._readable_at(mid):
                readable = mid
            else:
                gone = mid
        return readable

    async def _compacted_error(self, rev: int) -> Compacted:
        head = await self.current_revision_from_server()
        self._note_compacted(await self._find_compact_rev(head))
        return Compacted(rev, self._compact_rev)

    # --- plumbing ------------------------------------------------------------------------
    async def _call(self, fn: Any) -> Any:
        result, _ = await self._call_ambiguous(fn)
        return result

    async def _call_ambiguous(self, fn: Any) -> tuple[Any, bool]:
        if self._conn is None:
            raise EtcdError("etcd store not started")
        return await self._conn.call(fn)

    async def _acknowledge(self, kv: KeyValue) -> KeyValue:
        """Return a write only once the change feed has delivered its revision."""
        assert self._feed is not None
        if not await self._feed.wait_for(kv.rev, timeout=_FEED_WAIT):
            log.warning("change feed lags: acknowledging revision %d before delivery", kv.rev)
        return kv

    # --- reads ---------------------------------------------------------------------------
    async def get(self, key: str) -> KeyValue | None:
        ekey = self._keys.to_etcd(key)

        async def fetch(stubs: Stubs) -> Any:
            return await stubs.kv.Range(RangeRequest(key=ekey), timeout=_READ_TIMEOUT)

        resp = await self._call(fetch)
        return key_value(self._keys, resp.kvs[0]) if resp.kvs else None

    async def list_prefix(
        self, prefix: str, *, rev: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        if rev and rev <= self._compact_rev:
            raise Compacted(rev, self._compact_rev)
        lower = self._keys.to_etcd(prefix)
        end = prefix_end(lower)
        start = max(lower, self._keys.to_etcd(start_after) + b"\0") if start_after else lower
        items: list[KeyValue] = []
        at = rev
        while True:
            page = min(_LIST_PAGE, limit - len(items)) if limit else _LIST_PAGE
            resp = await self._range_page(start, end, rev=at, limit=page)
            at = at or resp.header.revision
            for kv in resp.kvs:
                item = key_value(self._keys, kv)
                if item is not None:
                    items.append(item)
            if not resp.more or (limit and len(items) >= limit):
                return ListResult(items, at, bool(resp.more))
            start = resp.kvs[-1].key + b"\0"

    async def _range_page(self, start: bytes, end: bytes, *, rev: int, limit: int) -> Any:
        async def page(stubs: Stubs) -> Any:
            req = RangeRequest(key=start, range_end=end, revision=rev, limit=limit)
            return await stubs.kv.Range(req, timeout=_READ_TIMEOUT)

        try:
            return await self._call(page)
        except grpc.aio.AioRpcError as exc:
            if is_compacted(exc):
                raise await self._compacted_error(rev) from exc
            if is_future_revision(exc):
                current = await self.current_revision_from_server()
                raise FutureRevision(rev, current) from exc
            raise EtcdError(f"etcd range: {exc.details()}") from exc

    async def changes_since(self, rev: int, *, limit: int = 10_000) -> list[Change]:
        if rev < self._compact_rev:
            raise Compacted(rev, self._compact_rev)
        head = await self.current_revision_from_server()
        if rev > head:
            raise FutureRevision(rev, head)
        # etcd's revision 1 is its empty initial state: no event carries it, so a replay
        # waiting for it would wait for nothing.
        rev = max(rev, 1)
        if rev >= head or limit <= 0:
            return []

        async def replay(stubs: Stubs) -> list[Change]:
            return await self._replay(stubs, rev, head, limit)

        changes: list[Change] = await self._call(replay)
        return changes

    async def _replay(self, stubs: Stubs, rev: int, head: int, limit: int) -> list[Change]:
        """Events in (rev, head] under the prefix, from a watch over the whole keyspace."""
        call = stubs.watch.Watch(metadata=REQUIRE_LEADER, timeout=_READ_TIMEOUT)
        changes: list[Change] = []
        try:
            create = WatchCreateRequest(key=b"\0", range_end=b"\0", start_revision=rev + 1)
            create.prev_kv = True
            await call.write(WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    raise EtcdError("etcd history watch ended early")
                if resp.compact_revision:
                    self._note_compacted(resp.compact_revision)
                    raise Compacted(rev, resp.compact_revision)
                if resp.canceled:
                    raise EtcdError(f"etcd history watch canceled: {resp.cancel_reason}")
                for event in resp.events:
                    if event.kv.mod_revision > head:
                        return changes
                    if self._keys.owns(event.kv.key):
                        change = change_from_event(self._keys, event)
                        if change is not None:
                            changes.append(change)
                            if len(changes) >= limit:
                                return changes
                    if event.kv.mod_revision == head:
                        return changes
        finally:
            call.cancel()

    # --- writes --------------------------------------------------------------------------
    async def create(self, key: str, obj: dict[str, Any]) -> KeyValue:
        ekey = self._keys.to_etcd(key)
        stored = encode_for_storage(obj)
        txn = TxnRequest(
            compare=[Compare(result=Compare.EQUAL, target=Compare.CREATE, key=ekey)],
            success=[RequestOp(request_put=PutRequest(key=ekey, value=stored))],
            failure=[RequestOp(request_range=RangeRequest(key=ekey))],
        )
        resp, ambiguous = await self._txn(txn)
        if resp.succeeded:
            rev = resp.header.revision
        else:
            current = _failure_kv(resp)
            # A retried create whose first attempt landed finds exactly its own bytes.
            mine = (
                ambiguous
                and current is not None
                and current.value == stored
                and current.create_revision == current.mod_revision
            )
            if not mine:
                raise KeyExists(key)
            rev = current.mod_revision
        return await self._acknowledge(KeyValue(key, rev, rev, with_revision(obj, rev), obj))

    async def update(self, key: str, obj: dict[str, Any], *, expected_rev: int) -> KeyValue:
        ekey = self._keys.to_etcd(key)
        stored = encode_for_storage(obj)
        txn = TxnRequest(
            compare=[_expect(ekey, expected_rev)],
            success=[RequestOp(request_put=PutRequest(key=ekey, value=stored, prev_kv=True))],
            failure=[RequestOp(request_range=RangeRequest(key=ekey))],
        )
        resp, ambiguous = await self._txn(txn)
        if resp.succeeded:
            rev = resp.header.revision
            create_rev = resp.responses[0].response_put.prev_kv.create_revision
        else:
            current = _failure_kv(resp)
            if current is None:
                raise KeyNotFound(key)
            mine = ambiguous and current.value == stored and current.mod_revision > expected_rev
            if not mine:
                raise Conflict(key, expected_rev, current.mod_revision)
            rev, create_rev = current.mod_revision, current.create_revision
        kv = KeyValue(key, rev, create_rev, with_revision(obj, rev), obj)
        return await self._acknowledge(kv)

    async def delete(self, key: str, *, expected_rev: int) -> KeyValue:
        ekey = self._keys.to_etcd(key)
        txn = TxnRequest(
            compare=[_expect(ekey, expected_rev)],
            success=[RequestOp(request_delete_range=DeleteRangeRequest(key=ekey, prev_kv=True))],
            failure=[RequestOp(request_range=RangeRequest(key=ekey))],
        )
        resp, _ = await self._txn(txn)
        if not resp.succeeded:
            current = _failure_kv(resp)
            if current is None:
                raise KeyNotFound(key)
            raise Conflict(key, expected_rev, current.mod_revision)
        rev = resp.header.revision
        prev = resp.responses[0].response_delete_range.prev_kvs[0]
        last = key_value(self._keys, prev)
        if last is None:
            raise EtcdError(f"{key}: deleted a non-JSON value")
        value = with_revision(last.obj, rev)
        return await self._acknowledge(KeyValue(key, rev, prev.create_revision, value, last.obj))

    async def _txn(self, txn: Any) -> tuple[Any, bool]:
        async def run(stubs: Stubs) -> Any:
            return await stubs.kv.Txn(txn, timeout=_WRITE_TIMEOUT)

        try:
            return await self._call_ambiguous(run)
        except grpc.aio.AioRpcError as exc:
            raise EtcdError(f"etcd txn: {exc.details()}") from exc

    async def compact(self, rev: int) -> None:
        """Compact etcd's history up to `rev`; safe when several replicas race to do it.

        Skipped if already known compacted that far; etcd's "already compacted" answer (another
        replica got there first) counts as success.
        """
        if rev <= self._compact_rev:
            return

        async def run(stubs: Stubs) -> Any:
            return await stubs.kv.Compact(CompactionRequest(revision=rev), timeout=_READ_TIMEOUT)

        try:
            await self._call(run)
        except grpc.aio.AioRpcError as exc:
            if is_future_revision(exc):
                raise FutureRevision(rev, await self.current_revision_from_server()) from exc
            if not is_compacted(exc):
                raise EtcdError(f"etcd compact: {exc.details()}") from exc
        self._note_compacted(rev)


def _expect(ekey: bytes, expected_rev: int) -> Any:
    """CAS on mod_revision, or "exists" (create_revision > 0) when any revision will do."""
    if expected_rev:
        return Compare(
            result=Compare.EQUAL, target=Compare.MOD, key=ekey, mod_revision=expected_rev
        )
    return Compare(result=Compare.GREATER, target=Compare.CREATE, key=ekey, create_revision=0)


def _failure_kv(resp: Any) -> Any:
    """The key as the failure branch read it, or None if it does not exist."""
    kvs = resp.responses[0].response_range.kvs
    return kvs[0] if kvs else None
