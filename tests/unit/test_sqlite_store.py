"""The SQLite store's contract: revisions, CAS, history, compaction, the change feed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from strom.storage.base import (
    Change,
    ChangeType,
    Compacted,
    Conflict,
    FutureRevision,
    KeyExists,
    KeyNotFound,
)
from strom.storage.sqlite import SQLiteStore


def run(tmp_path: Path, body: Callable[[SQLiteStore], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        store = SQLiteStore(tmp_path / "s.db")
        await store.start()
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def obj(name: str, value: str = "v") -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"k": value}}


def test_revisions_increase_and_are_set_in_objects(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
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

    run(tmp_path, body)


def test_compare_and_swap(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
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

    run(tmp_path, body)


def test_concurrent_writers_one_wins(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> list[Any]:
        a = await store.create("/registry/cm/ns/a", obj("a"))
        return await asyncio.gather(
            *(
                store.update("/registry/cm/ns/a", obj("a", str(i)), expected_rev=a.rev)
                for i in range(20)
            ),
            return_exceptions=True,
        )

    results = run(tmp_path, body)
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in wins)


def test_list_at_revision_and_pagination(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
        for name in ("c", "a", "b"):
            await store.create(f"/registry/cm/ns/{name}", obj(name))
        rev = store.current_rev
        await store.delete("/registry/cm/ns/b", expected_rev=0)
        await store.create("/registry/cm/ns/d", obj("d"))
        await store.create("/registry/cmx/ns/z", obj("z"))  # outside the prefix
        now = await store.list_prefix("/registry/cm/")
        assert [kv.key.rsplit("/", 1)[1] for kv in now.items] == ["a", "c", "d"]
        then = await store.list_prefix("/registry/cm/", rev=rev)
        assert [kv.key.rsplit("/", 1)[1] for kv in then.items] == ["a", "b", "c"]
        page = await store.list_prefix("/registry/cm/", rev=rev, limit=2)
        assert page.more and len(page.items) == 2
        rest = await store.list_prefix("/registry/cm/", rev=rev, start_after=page.items[-1].key)
        assert [kv.key.rsplit("/", 1)[1] for kv in rest.items] == ["c"]
        with pytest.raises(FutureRevision):
            await store.list_prefix("/registry/cm/", rev=store.current_rev + 5)

    run(tmp_path, body)


def test_change_feed_precedes_acknowledgement(tmp_path: Path) -> None:
    seen: list[tuple[ChangeType, str, int]] = []

    async def body(store: SQLiteStore) -> None:
        def listener(changes: Sequence[Change]) -> None:
            seen.extend((c.type, c.key, c.rev) for c in changes)

        store.subscribe(listener)
        a = await store.create("/registry/cm/ns/a", obj("a"))
        assert seen[-1] == (ChangeType.PUT, a.key, a.rev)
        d = await store.delete(a.key, expected_rev=a.rev)
        assert seen[-1] == (ChangeType.DELETE, a.key, d.rev)
        assert d.obj["metadata"]["resourceVersion"] == str(d.rev)

    run(tmp_path, body)


def test_history_and_compaction(tmp_path: Path) -> None:
    async def body(store: SQLiteStore) -> None:
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

    run(tmp_path, body)


def test_reopen_keeps_revisions(tmp_path: Path) -> None:
    async def first(store: SQLiteStore) -> int:
        kv = await store.create("/registry/cm/ns/a", obj("a"))
        await store.delete(kv.key, expected_rev=kv.rev)
        return store.current_rev

    last = run(tmp_path, first)

    async def second(store: SQLiteStore) -> None:
        assert store.current_rev == last
        kv = await store.create("/registry/cm/ns/a", obj("a"))
        assert kv.rev == last + 1

    run(tmp_path, second)
