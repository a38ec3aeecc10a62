"""A Store that times the registry's calls for `etcd_request_duration_seconds`.

kube-apiserver reports every storage request by operation and resource under that name,
whatever the backend; strom does the same for SQLite and etcd alike by wrapping the store the
registry writes and reads through (the watch cache follows the change feed of the inner
store directly, so the fan-out path is not timed and pays nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .base import Change, ChangeListener, KeyValue, ListResult, Store

__all__ = ["ObservedStore", "StorageObserver"]

# (operation, key, seconds)
StorageObserver = Callable[[str, str, float], None]


class ObservedStore:
    """`inner` with its reads and writes timed; `observe` is set once metrics exist."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.observe: StorageObserver | None = None

    def _done(self, operation: str, key: str, started: float) -> None:
        if self.observe is not None:
            self.observe(operation, key, time.perf_counter() - started)

    @property
    def current_rev(self) -> int:
        return self.inner.current_rev

    @property
    def compact_rev(self) -> int:
        return self.inner.compact_rev

    @property
    def health_check_name(self) -> str:
        return self.inner.health_check_name

    async def start(self) -> None:
        await self.inner.start()

    async def consistent_rev(self) -> int:
        return await self.inner.consistent_rev()

    async def close(self) -> None:
        await self.inner.close()

    async def check_health(self) -> None:
        await self.inner.check_health()

    async def get(self, key: str) -> KeyValue | None:
        started = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._done("get", key, started)

    async def list_prefix(
        self, prefix: str, *, rev: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        started = time.perf_counter()
        try:
            return await self.inner.list_prefix(
                prefix, rev=rev, start_after=start_after, limit=limit
            )
        finally:
            self._done("list", prefix, started)

    async def create(self, key: str, obj: dict[str, Any]) -> KeyValue:
        started = time.perf_counter()
        try:
            return await self.inner.create(key, obj)
        finally:
            self._done("create", key, started)

    async def update(self, key: str, obj: dict[str, Any], *, expected_rev: int) -> KeyValue:
        started = time.perf_counter()
        try:
            return await self.inner.update(key, obj, expected_rev=expected_rev)
        finally:
            self._done("update", key, started)

    async def delete(self, key: str, *, expected_rev: int) -> KeyValue:
        started = time.perf_counter()
        try:
            return await self.inner.delete(key, expected_rev=expected_rev)
        finally:
            self._done("delete", key, started)

    async def changes_since(self, rev: int, *, limit: int = 10_000) -> list[Change]:
        return await self.inner.changes_since(rev, limit=limit)

    async def compact(self, rev: int) -> None:
        await self.inner.compact(rev)

    def subscribe(self, listener: ChangeListener) -> None:
        self.inner.subscribe(listener)
