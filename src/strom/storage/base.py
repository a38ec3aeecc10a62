"""The storage contract: an etcd-like revisioned key-value log.

Every write gets a new, global, strictly increasing revision (kube's resourceVersion). Old
revisions stay readable until compaction, and the log of changes can be replayed from any
revision after the compacted one: that is what lets the watch cache rebuild history after a
restart. SQLite (embedded, default) and etcd implement this one interface.

Values are JSON objects whose `metadata.resourceVersion` the store sets to the revision of the
write, so every byte string handed out is exactly what a client may see.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Change",
    "ChangeType",
    "Compacted",
    "Conflict",
    "FutureRevision",
    "KeyExists",
    "KeyNotFound",
    "KeyValue",
    "ListResult",
    "StorageError",
    "Store",
]


class StorageError(Exception):
    """Base of the storage layer's own errors; `registry` translates them to StatusError."""


class KeyExists(StorageError):
    pass


class KeyNotFound(StorageError):
    pass


class Conflict(StorageError):
    """Compare-and-swap lost: the key's current revision is not the expected one."""

    def __init__(self, key: str, expected_rev: int, current_rev: int) -> None:
        super().__init__(f"{key}: expected revision {expected_rev}, current {current_rev}")
        self.current_rev = current_rev


class Compacted(StorageError):
    def __init__(self, requested_rev: int, compact_rev: int) -> None:
        super().__init__(f"revision {requested_rev} is compacted (at {compact_rev})")
        self.requested_rev = requested_rev
        self.compact_rev = compact_rev


class FutureRevision(StorageError):
    def __init__(self, requested_rev: int, current_rev: int) -> None:
        super().__init__(f"revision {requested_rev} is newer than {current_rev}")
        self.requested_rev = requested_rev
        self.current_rev = current_rev


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One object as stored. `obj` is the decoded `value`; both are read-only by contract."""

    key: str
    rev: int
    create_rev: int
    value: bytes
    obj: dict[str, Any]


class ChangeType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log.

    For PUT, `value`/`obj` are the new object and `prev_obj` the one it replaced (None on
    create). For DELETE, `value`/`obj` are the last state with resourceVersion set to the
    deletion's revision (what a DELETED watch event carries) and `prev_obj` is that last state
    as it was stored.
    """

    type: ChangeType
    key: str
    rev: int
    value: bytes
    obj: dict[str, Any]
    prev_obj: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    rev: int  # the revision the list is consistent at
    more: bool  # items were cut at `limit`


ChangeListener = Callable[[Sequence[Change]], None]


class Store(Protocol):
    """What the registry and the watch cache need from a backend."""

    @property
    def current_rev(self) -> int:
        """The revision of the newest committed write (as far as this process knows)."""
        ...

    @property
    def compact_rev(self) -> int:
        """Revisions at or below this one may no longer be read or replayed."""
        ...

    async def start(self) -> None: ...

    async def consistent_rev(self) -> int:
        """The revision a consistent read must reflect: the store's head right now.

        The embedded store is the only writer, so its own counter is the head; etcd is asked
        (other replicas write too).
        """
        ...

    async def close(self) -> None: ...

    @property
    def health_check_name(self) -> str:
        """What /livez and /readyz call the store's check: `sqlite`, or `etcd` as kube does."""
        ...

    async def check_health(self) -> None:
        """Return when the store answers a real read (and can take writes); raise
        StorageError with the reason otherwise. Called by /healthz, /livez and /readyz."""
        ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list_prefix(
        self, prefix: str, *, rev: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        """Live keys under `prefix` at `rev` (0 = now), sorted by key, after `start_after`."""
        ...

    async def create(self, key: str, obj: dict[str, Any]) -> KeyValue:
        """Store a new key. Raises KeyExists. `obj` becomes the store's: do not reuse it."""
        ...

    async def update(self, key: str, obj: dict[str, Any], *, expected_rev: int) -> KeyValue:
        """Replace a key if its revision is `expected_rev`. Raises Conflict, KeyNotFound."""
        ...

    async def delete(self, key: str, *, expected_rev: int) -> KeyValue:
        """Delete a key if its revision is `expected_rev`; returns the DELETE change's value."""
        ...

    async def changes_since(self, rev: int, *, limit: int = 10_000) -> list[Change]:
        """Changes with revision > rev, oldest first. Raises Compacted, FutureRevision."""
        ...

    async def compact(self, rev: int) -> None: ...

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener` on the event loop with every batch of committed changes, in order.

        A batch is delivered before the writes in it are acknowledged to their callers, so a
        client that got a 2xx can read its write back from anything fed by this feed.
        """
        ...
