"""strom.cache.state over a real SQLite store: reads, history windows, catch-up and waiters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from strom.cache.state import MIN_HISTORY, StateCache
from strom.errors import StatusError
from strom.storage.sqlite import SQLiteStore

pytestmark = pytest.mark.timeout(60)

CM = "/registry/configmaps/"
SECRETS = "/registry/secrets/"


def cm(name: str, value: str = "v") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"}, "data": {"k": value}}


def run(tmp_path: Path, body: Callable[[SQLiteStore, StateCache], Awaitable[None]]) -> None:
    async def main() -> None:
        store = SQLiteStore(tmp_path / "s.db")
        await store.start()
        cache = StateCache(store)
        await cache.start([(CM, True), (SECRETS, True)])
        try:
            await body(store, cache)
        finally:
            await store.close()

    asyncio.run(main())


async def revs(history: Any) -> list[int]:
    out: list[int] = []
    async for page in history:
        out.extend(ev.rev for ev in page)
    return out


def test_reads_follow_the_store(tmp_path: Path) -> None:
    async def body(store: SQLiteStore, cache: StateCache) -> None:
        state = cache.state(CM)
        assert state is not None
        for name in ("b", "a", "c"):
            await store.create(f"{CM}default/{name}", cm(name))
        kv = await store.update(f"{CM}default/a", cm("a", "new"), expected_rev=2)
        await store.delete(f"{CM}default/c", expected_rev=3)
        assert cache.rev == kv.rev + 1
        assert [e.key for e in state.scan(f"{CM}default/")] == [f"{CM}default/a", f"{CM}default/b"]
        entry = state.get(f"{CM}default/a")
        assert entry is not None and entry.obj["data"] == {"k": "new"} and entry.rev == kv.rev
        assert state.count_after(f"{CM}default/", f"{CM}default/a") == 1
        assert len(state) == 2

    run(tmp_path, body)


def test_history_from_the_window_ends_where_live_events_begin(tmp_path: Path) -> None:
    async def body(store: SQLiteStore, cache: StateCache) -> None:
        state = cache.state(CM)
        assert state is not None
        for i in range(5):
            await store.create(f"{CM}default/c{i}", cm(f"c{i}"))
        await store.create(f"{SECRETS}default/s", cm("s"))  # another resource's revision
        history = cache.history_since(state, 2)
        # Written after the catch-up was taken: live events, not history.
        await store.create(f"{CM}default/late", cm("late"))
        assert await revs(history) == [3, 4, 5]
        assert await revs(cache.history_since(state, cache.rev)) == []
        assert await revs(cache.history_since(state, cache.rev + 10)) == []

    run(tmp_path, body)


def test_history_older_than_the_window_is_read_from_the_store(tmp_path: Path) -> None:
    async def body(store: SQLiteStore, cache: StateCache) -> None:
        state = cache.state(CM)
        assert state is not None
        total = MIN_HISTORY + 50
        for i in range(total):
            await store.create(f"{CM}default/c{i}", cm(f"c{i}"))
            if i % 10 == 0:
                await store.create(f"{SECRETS}default/s{i}", cm(f"s{i}"))
        state.trim(time.monotonic() + 3600)  # the window keeps only MIN_HISTORY events
        assert len(state.history) == MIN_HISTORY and state.window_start > 10
        assert state.events_after(10) is None
        got = await revs(cache.history_since(state, 10))
        expected = [c.rev for c in await store.changes_since(10) if c.key.startswith(CM)]
        assert got == expected and len(got) == total - 9  # c9.. (revs after 10, secrets out)

    run(tmp_path, body)


def test_compacted_history_is_410_expired(tmp_path: Path) -> None:
    async def body(store: SQLiteStore, cache: StateCache) -> None:
        state = cache.state(CM)
        assert state is not None
        for i in range(MIN_HISTORY + 20):
            await store.create(f"{CM}default/c{i}", cm(f"c{i}"))
        state.trim(time.monotonic() + 3600)
        await store.compact(50)
        with pytest.raises(StatusError) as refused:
            cache.check_not_compacted(3)
        assert (refused.value.code, refused.value.reason) == (410, "Expired")
        assert refused.value.message == "too old resource version: 3 (51)"
        cache.check_not_compacted(50)  # not before the compacted revision: fine
        with pytest.raises(StatusError) as gone:
            await revs(cache.history_since(state, 3))
        assert gone.value.code == 410 and "too old resource version: 3" in gone.value.message

    run(tmp_path, body)


def test_waiters_that_give_up_are_removed(tmp_path: Path) -> None:
    async def body(store: SQLiteStore, cache: StateCache) -> None:
        results = await asyncio.gather(
            *(cache.wait_until_fresh(cache.rev + 1000 + i, timeout=0.05) for i in range(50))
        )
        assert results == [False] * 50
        assert cache._waiters == []
        # A waiter that is satisfied is removed as well, and says so.
        waiting = asyncio.ensure_future(cache.wait_until_fresh(cache.rev + 1, timeout=5))
        await asyncio.sleep(0)  # let it queue
        assert len(cache._waiters) == 1
        await store.create(f"{CM}default/x", cm("x"))
        assert await waiting is True
        assert cache._waiters == []

    run(tmp_path, body)
