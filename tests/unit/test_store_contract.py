"""The Store contract, run against every backend: SQLite and a real etcd.

The shared cases are those of test_sqlite_store.py. The etcd-only cases cover what a
networked, shared store adds: kube's key/value layout under a prefix, writes of another replica
arriving through the change feed, compaction by another replica, the feed's reset when its
resume point is compacted, and a 3-member cluster losing a member (kill -9) mid-writes.
One etcd serves the module; each test gets its own key prefix.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from etcd3aio._protobuf import KVStub, RangeRequest

from strom.storage.base import (
    Change,
    ChangeType,
    Compacted,
    Conflict,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    Store,
)
from strom.storage.etcd import EtcdStore, ServerVersion
from strom.storage.etcd._feed import Feed
from strom.storage.sqlite import SQLiteStore
from strom.testing.etcd import EtcdCluster, etcd_available, make_tls, start_etcd

pytestmark = pytest.mark.timeout(60)

StoreFactory = Callable[[], Store]
WAIT = 10.0  # upper bound for anything asynchronous to show up; never slept


def require_etcd() -> None:
    if not etcd_available():
        pytest.fail("no etcd binary: install Debian's etcd-server (scripts/install-system-deps.sh)")


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = start_etcd(members=1)
    try:
        yield cluster
    finally:
        cluster.stop()


def etcd_factory(cluster: EtcdCluster, prefix: str | None = None) -> Callable[[], EtcdStore]:
    chosen = prefix or f"/t-{uuid.uuid4().hex[:10]}/registry"
    return lambda: EtcdStore(endpoints=cluster.endpoints, prefix=chosen)


@pytest.fixture(params=["sqlite", "etcd"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of stores over one location (a file or a key prefix): call again = reopen."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "s.db")
    factory: StoreFactory = etcd_factory(request.getfixturevalue("etcd"))
    return factory


def run(open_store: StoreFactory, body: Callable[[Any], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        store = open_store()
        await store.start()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def obj(name: str, value: str = "v") -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"k": value}}


# --- the shared contract --------------------------------------------------------------------
def test_revisions_increase_and_are_set_in_objects(open_store: StoreFactory) -> None:
    async def body(store: Store) -> None:
        a = await store.create("/registry/cm/ns/a", obj("a"))
        b = await store.create("/registry/cm/ns/b", obj("b"))
        assert b.rev == a.rev + 1
        assert a.obj["metadata"]["resourceVersion"] == str(a.rev)
        assert b'"resourceVersion":"%d"' % b.rev in b.value
        u = await store.update("/registry/cm/ns/a", obj("a", "w"), expected_rev=a.rev)
        assert u.rev == b.rev + 1 and u.create_rev == a.rev
        assert store.current_rev == u.rev
        got = await store.get("/registry/cm/ns/a")
        assert got is not None and got.obj["data"] == {"k": "w"}
        assert got.value == u.value  # what a write returns is what a read returns
        assert await store.get("/registry/cm/ns/nope") is None

    run(open_store, body)


def test_compare_and_swap(open_store: StoreFactory) -> None:
    async def body(store: Store) -> None:
        a = await store.create("/registry/cm/ns/a", obj("a"))
        with pytest.raises(KeyExists):
            await store.create("/registry/cm/ns/a", obj("a"))
        await store.update("/registry/cm/ns/a", obj("a", "1"), expected_rev=a.rev)
        with pytest.raises(Conflict):
            await store.update("/registry/cm/ns/a", obj("a", "2"), expected_rev=a.rev)
        with pytest.raises(KeyNotFound):
            await store.update("/registry/cm/ns/zz", obj("zz"), expected_rev=1)
        with pytest.raises(Conflict):
            await store.delete("/registry/cm/ns/a", expected_rev=a.rev)
        with pytest.raises(KeyNotFound):
            await store.delete("/registry/cm/ns/zz", expected_rev=0)

    run(open_store, body)


def test_concurrent_writers_one_wins(open_store: StoreFactory) -> None:
    async def body(store: Store) -> list[Any]:
        a = await store.create("/registry/cm/ns/a", obj("a"))
        return await asyncio.gather(
            *(
                store.update("/registry/cm/ns/a", obj("a", str(i)), expected_rev=a.rev)
                for i in range(20)
            ),
            return_exceptions=True,
        )

    results = run(open_store, body)
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in wins)


def test_list_at_revision_and_pagination(open_store: StoreFactory) -> None:
    async def body(store: Store) -> None:
        for name in ("c", "a", "b"):
            await store.create(f"/registry/cm/ns/{name}", obj(name))
        rev = store.current_rev
        await store.delete("/registry/cm/ns/b", expected_rev=0)
        await store.create("/registry/cm/ns/d", obj("d"))
        await store.create("/registry/cmx/ns/z", obj("z"))  # outside the prefix
        now = await store.list_prefix("/registry/cm/")
        assert [kv.key.rsplit("/", 1)[1] for kv in now.items] == ["a", "c", "d"]
        assert now.rev == store.current_rev and not now.more
        then = await store.list_prefix("/registry/cm/", rev=rev)
        assert [kv.key.rsplit("/", 1)[1] for kv in then.items] == ["a", "b", "c"]
        assert then.rev == rev
        page = await store.list_prefix("/registry/cm/", rev=rev, limit=2)
        assert page.more and len(page.items) == 2
        rest = await store.list_prefix("/registry/cm/", rev=rev, start_after=page.items[-1].key)
        assert [kv.key.rsplit("/", 1)[1] for kv in rest.items] == ["c"]
        with pytest.raises(FutureRevision):
            await store.list_prefix("/registry/cm/", rev=store.current_rev + 5)

    run(open_store, body)


def test_change_feed_precedes_acknowledgement(open_store: StoreFactory) -> None:
    seen: list[tuple[ChangeType, str, int]] = []

    async def body(store: Store) -> None:
        def listener(changes: Sequence[Change]) -> None:
            seen.extend((c.type, c.key, c.rev) for c in changes)

        store.subscribe(listener)
        a = await store.create("/registry/cm/ns/a", obj("a"))
        assert seen[-1] == (ChangeType.PUT, a.key, a.rev)
        d = await store.delete(a.key, expected_rev=a.rev)
        assert seen[-1] == (ChangeType.DELETE, a.key, d.rev)
        assert d.obj["metadata"]["resourceVersion"] == str(d.rev)

    run(open_store, body)


def test_history_and_compaction(open_store: StoreFactory) -> None:
    async def body(store: Store) -> None:
        a = await store.create("/registry/cm/ns/a", obj("a"))
        u = await store.update(a.key, obj("a", "2"), expected_rev=a.rev)
        b = await store.create("/registry/cm/ns/b", obj("b"))
        d = await store.delete(b.key, expected_rev=b.rev)
        changes = await store.changes_since(a.rev)
        assert [(c.type, c.rev) for c in changes] == [
            (ChangeType.PUT, u.rev),
            (ChangeType.PUT, b.rev),
            (ChangeType.DELETE, d.rev),
        ]
        assert changes[0].prev_obj is not None and changes[0].prev_obj["data"] == {"k": "v"}
        assert changes[2].obj["metadata"]["resourceVersion"] == str(d.rev)
        assert [c.rev for c in await store.changes_since(a.rev, limit=2)] == [u.rev, b.rev]
        assert await store.changes_since(d.rev) == []
        with pytest.raises(FutureRevision):
            await store.changes_since(d.rev + 5)
        await store.compact(d.rev)
        assert store.compact_rev == d.rev
        with pytest.raises(Compacted):
            await store.changes_since(a.rev)
        with pytest.raises(Compacted):
            await store.list_prefix("/registry/cm/", rev=a.rev)
        live = await store.list_prefix("/registry/cm/")
        assert [kv.key for kv in live.items] == [a.key]  # current state survives compaction
        again = await store.create(b.key, obj("b"))  # a compacted-away key can come back
        assert again.rev > d.rev

    run(open_store, body)


def test_reopen_keeps_revisions(open_store: StoreFactory) -> None:
    async def first(store: Store) -> int:
        kv = await store.create("/registry/cm/ns/a", obj("a"))
        await store.delete(kv.key, expected_rev=kv.rev)
        return store.current_rev

    last = run(open_store, first)

    async def second(store: Store) -> None:
        assert store.current_rev == last
        kv = await store.create("/registry/cm/ns/a", obj("a"))
        assert kv.rev == last + 1

    run(open_store, second)


# --- etcd only ------------------------------------------------------------------------------
async def raw_get(cluster: EtcdCluster, key: bytes) -> Any:
    """Read a key with a bare gRPC client, bypassing the store."""
    import grpc.aio  # type: ignore[import-untyped]

    async with grpc.aio.insecure_channel(cluster.endpoints[0]) as channel:
        resp = await KVStub(channel).Range(RangeRequest(key=key), timeout=WAIT)
    return resp.kvs[0] if resp.kvs else None


def test_etcd_layout_prefix_and_values(etcd: EtcdCluster) -> None:
    prefix = f"/p-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        mine = EtcdStore(endpoints=etcd.endpoints, prefix=prefix + "/registry")
        other = EtcdStore(endpoints=etcd.endpoints, prefix=prefix + "/other")
        await mine.start()
        await other.start()
        try:
            created = await mine.create(
                "/registry/cm/ns/a", {"metadata": {"name": "a", "resourceVersion": "77"}}
            )
            await other.create("/registry/cm/ns/b", obj("b"))
            raw = await raw_get(etcd, f"{prefix}/registry/cm/ns/a".encode())
            assert raw is not None and raw.mod_revision == created.rev
            assert raw.value == b'{"metadata":{"name":"a"}}'  # stored without resourceVersion
            assert (
                created.value
                == b'{"metadata":{"name":"a","resourceVersion":"%d"}' % (created.rev) + b"}"
            )
            listed = await mine.list_prefix("/registry/")
            assert [kv.key for kv in listed.items] == ["/registry/cm/ns/a"]
        finally:
            await mine.close()
            await other.close()

    asyncio.run(main())


def test_etcd_server_version_and_head_revision(etcd: EtcdCluster) -> None:
    assert not ServerVersion.parse("3.4.23").progress_notify_reliable
    assert ServerVersion.parse("3.4.31").progress_notify_reliable
    assert not ServerVersion.parse("3.5.12").progress_notify_reliable
    assert ServerVersion.parse("3.5.13").progress_notify_reliable
    assert ServerVersion.parse("3.6.0").progress_notify_reliable
    factory = etcd_factory(etcd)

    async def main() -> None:
        store = factory()
        elsewhere = etcd_factory(etcd)()
        await store.start()
        await elsewhere.start()
        try:
            assert store.server_version is not None and store.server_version.major == 3
            kv = await store.create("/registry/cm/ns/a", obj("a"))
            assert await store.current_revision_from_server() == kv.rev == store.current_rev
            # A write outside the prefix moves etcd's revision but not this store's feed:
            # the case where the cache must fall back to reading etcd directly.
            other = await elsewhere.create("/registry/cm/ns/a", obj("a"))
            assert await store.current_revision_from_server() == other.rev > store.current_rev
        finally:
            await store.close()
            await elsewhere.close()

    asyncio.run(main())


def test_etcd_second_replica_sees_writes_in_order(etcd: EtcdCluster) -> None:
    factory = etcd_factory(etcd)

    async def main() -> None:
        writer, reader = factory(), factory()
        await writer.start()
        await reader.start()
        seen: list[Change] = []
        caught_up = asyncio.Event()
        target = [0]

        def listener(changes: Sequence[Change]) -> None:
            seen.extend(changes)
            if changes[-1].rev >= target[0] > 0:
                caught_up.set()

        reader.subscribe(listener)
        try:
            a = await writer.create("/registry/cm/ns/a", obj("a"))
            u = await writer.update(a.key, obj("a", "2"), expected_rev=a.rev)
            b = await writer.create("/registry/cm/ns/b", obj("b"))
            d = await writer.delete(a.key, expected_rev=u.rev)
            target[0] = d.rev
            if reader.current_rev < d.rev:
                await asyncio.wait_for(caught_up.wait(), WAIT)
            assert [(c.type, c.key, c.rev) for c in seen] == [
                (ChangeType.PUT, a.key, a.rev),
                (ChangeType.PUT, a.key, u.rev),
                (ChangeType.PUT, b.key, b.rev),
                (ChangeType.DELETE, a.key, d.rev),
            ]
            assert seen[1].prev_obj == a.obj and seen[1].value == u.value
            assert seen[3].value == d.value and seen[3].prev_obj == u.obj
            assert reader.current_rev == d.rev
        finally:
            await writer.close()
            await reader.close()

    asyncio.run(main())


def test_etcd_compaction_by_another_replica(etcd: EtcdCluster) -> None:
    factory = etcd_factory(etcd)

    async def main() -> None:
        first, second = factory(), factory()
        await first.start()
        await second.start()
        try:
            a = await first.create("/registry/cm/ns/a", obj("a"))
            u = await first.update(a.key, obj("a", "2"), expected_rev=a.rev)
            await first.compact(u.rev)
            await second.compact(u.rev)  # already compacted: success, not an error
            await second.compact(a.rev)  # behind what is known: nothing to do
            assert second.compact_rev >= u.rev
            # A replica that did not compact learns of it from etcd on its next old read.
            third = factory()
            await third.start()
            try:
                assert third.compact_rev == u.rev
            finally:
                await third.close()
            fresh = factory()
            await fresh.start()
            fresh._compact_rev = 0  # pretend it started before the compaction
            try:
                with pytest.raises(Compacted) as listed:
                    await fresh.list_prefix("/registry/cm/", rev=a.rev)
                assert listed.value.compact_rev == u.rev and fresh.compact_rev == u.rev
                fresh._compact_rev = 0
                with pytest.raises(Compacted) as replayed:
                    await fresh.changes_since(a.rev - 1)
                assert replayed.value.compact_rev == u.rev
            finally:
                await fresh.close()
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def test_etcd_feed_resets_when_resume_point_is_compacted(etcd: EtcdCluster) -> None:
    """A feed whose next revision is compacted jumps to etcd's head and reports it."""
    factory = etcd_factory(etcd)

    async def main() -> None:
        store = factory()
        await store.start()
        try:
            a = await store.create("/registry/cm/ns/a", obj("a"))
            await store.update(a.key, obj("a", "2"), expected_rev=a.rev)
            await store.compact(store.current_rev)
            head = await store.current_revision_from_server()
            assert store._conn is not None
            # A feed that fell behind (as after a long disconnect) resumes at a.rev.
            feed = Feed(
                store._conn,
                store._keys,
                start_rev=a.rev - 1,
                server_rev=store.current_revision_from_server,
                on_compacted=lambda rev: None,
            )
            resets: list[int] = []
            reset_seen = asyncio.Event()
            seen: list[Change] = []

            def on_reset(rev: int) -> None:
                resets.append(rev)
                reset_seen.set()

            feed.subscribe_reset(on_reset)
            feed.subscribe(seen.extend)
            await feed.start(timeout=WAIT)
            try:
                await asyncio.wait_for(reset_seen.wait(), WAIT)
                assert resets == [head] and feed.delivered == head and seen == []
                b = await store.create("/registry/cm/ns/b", obj("b"))
                assert await feed.wait_for(b.rev, timeout=WAIT)
                assert [(c.key, c.rev) for c in seen] == [(b.key, b.rev)]
            finally:
                await feed.close()
        finally:
            await store.close()

    asyncio.run(main())


def test_etcd_member_killed_during_writes_loses_no_acknowledged_write() -> None:
    require_etcd()
    with start_etcd(members=3) as cluster:
        asyncio.run(_writes_through_member_death(cluster))


async def _writes_through_member_death(cluster: EtcdCluster) -> None:
    store = EtcdStore(endpoints=cluster.endpoints)
    await store.start()
    fed: set[str] = set()
    store.subscribe(lambda changes: fed.update(c.key for c in changes))
    acked: list[str] = []
    failed: list[BaseException] = []
    killed = asyncio.Event()
    after_kill = [0]

    async def writer(w: int) -> None:
        for i in range(60):
            key = f"/registry/cm/ns/w{w}-{i}"
            try:
                await store.create(key, obj(key))
            except Exception as exc:  # ambiguous outcomes are allowed, losses are not
                failed.append(exc)
                continue
            acked.append(key)
            if killed.is_set():
                after_kill[0] += 1
            if len(acked) == 60 and not killed.is_set():
                index, _ = store._conn.current() if store._conn else (0, None)
                cluster.kill_member(index)  # the member this store talks to
                killed.set()

    try:
        await asyncio.gather(*(writer(w) for w in range(4)))
        assert killed.is_set() and after_kill[0] >= 60, (after_kill, failed[:3])
        assert len(failed) <= 4, failed[:3]  # at most the in-flight write of each writer
        assert set(acked) <= fed  # the feed delivered every acknowledged write
        listed = await store.list_prefix("/registry/cm/")
        assert set(acked) <= {kv.key for kv in listed.items}
    finally:
        await store.close()
    survivors = [m.endpoint for m in cluster.members if m.running]
    fresh = EtcdStore(endpoints=survivors)
    await fresh.start()
    try:
        listed = await fresh.list_prefix("/registry/cm/")
        assert set(acked) <= {kv.key for kv in listed.items}
    finally:
        await fresh.close()


def test_etcd_over_tls_with_client_certificate(tmp_path: Path) -> None:
    require_etcd()
    tls = make_tls(tmp_path / "pki")
    with start_etcd(tls=tls) as cluster:

        async def main() -> None:
            store = EtcdStore(
                endpoints=cluster.endpoints,
                ca_file=tls.ca_file,
                cert_file=tls.client_cert,
                key_file=tls.client_key,
            )
            await store.start()
            seen: list[int] = []
            store.subscribe(lambda changes: seen.extend(c.rev for c in changes))
            try:
                kv = await store.create("/registry/cm/ns/a", obj("a"))
                assert seen == [kv.rev]
                got = await store.get(kv.key)
                assert got is not None and got.value == kv.value
            finally:
                await store.close()

        assert cluster.endpoints[0].startswith("https://")
        asyncio.run(main())
