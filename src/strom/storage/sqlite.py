"""SQLite backend: one append-only table whose row id is the revision (kine's layout).

Each row is one change of one key: `prev_rev` points at the key's previous row, and a UNIQUE
index on `(key, prev_rev)` makes compare-and-swap a database constraint as well as a check.
Listing at a revision takes, per key, the newest row at or below it.

Writes go through one writer thread that commits in groups: it drains whatever writes are
queued, runs each in a SAVEPOINT (a failed one rolls back alone), and commits once, with
`synchronous=FULL` in WAL mode, so a write is on disk before it is acknowledged and a burst of
writes costs one fsync. After the commit the batch of changes is handed to the event loop,
where the change feed runs before any of the writers' futures resolve.

Reads (lists at old revisions, history replay) run in a small thread pool on their own
connections; WAL lets them proceed while the writer commits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from strom.storage.base import (
    Change,
    ChangeListener,
    ChangeType,
    Compacted,
    Conflict,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    StorageError,
)

__all__ = ["DatabaseError", "SQLiteStore"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev        INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL,
    deleted    INTEGER NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev   INTEGER NOT NULL,
    value      BLOB    NOT NULL,
    prev_value BLOB
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE UNIQUE INDEX IF NOT EXISTS log_key_prev ON log (key, prev_rev);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# The most writes one transaction takes: bounds the latency a write can wait behind others.
_MAX_GROUP = 256


class DatabaseError(StorageError):
    """The database file is unusable (corrupt, not a database, unreadable)."""


@dataclass(slots=True)
class _Write:
    op: str  # "create" | "update" | "delete" | "compact"
    key: str
    obj: dict[str, Any] | None
    expected_rev: int
    future: asyncio.Future[Any]


class SQLiteStore:
    """Store backed by one SQLite file.

    Fields:
      _current_rev: newest committed revision; written only on the event loop in _deliver.
      _compact_rev: revisions <= this are gone; written on the loop after a compaction.
      _writes: bounded queue of pending writes; producers are request handlers on the loop
        (a full queue makes them wait in a thread, not the loop), the consumer the writer.
      _listeners: change-feed callbacks, called on the loop in revision order.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._current_rev = 0
        self._compact_rev = 0
        self._writes: queue.Queue[_Write | None] = queue.Queue(maxsize=10_000)
        self._listeners: list[ChangeListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="sqlite-read"
        )
        self._local = threading.local()

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        conn = self._connect()
        try:
            conn.executescript(_SCHEMA)
            self._current_rev, self._compact_rev = _read_revisions(conn)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self._path}: {exc}") from exc
        self._writer = threading.Thread(
            target=self._writer_main, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()

    async def close(self) -> None:
        if self._writer is not None:
            self._writes.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        self._readers.shutdown(wait=True)

    health_check_name = "sqlite"

    async def check_health(self) -> None:
        """A query through a reader thread, and the single writer thread still running."""
        if self._writer is None or not self._writer.is_alive():
            raise StorageError("the sqlite writer is not running")
        try:
            await self._read(lambda conn: conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall())
        except sqlite3.Error as exc:
            raise StorageError(f"{self._path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self._path}: {exc}") from exc
        return conn

    # --- properties ----------------------------------------------------------------------
    @property
    def current_rev(self) -> int:
        return self._current_rev

    @property
    def compact_rev(self) -> int:
        return self._compact_rev

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def consistent_rev(self) -> int:
        return self._current_rev

    # --- reads ---------------------------------------------------------------------------
    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def run() -> Any:
            conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._connect()
                self._local.conn = conn
            return fn(conn)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, run)

    async def get(self, key: str) -> KeyValue | None:
        def q(conn: sqlite3.Connection) -> KeyValue | None:
            row = conn.execute(
                "SELECT rev, create_rev, deleted, value FROM log WHERE key = ?"
                " ORDER BY rev DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is None or row[2]:
                return None
            return KeyValue(key, row[0], row[1], row[3], orjson.loads(row[3]))

        result: KeyValue | None = await self._read(q)
        return result

    async def list_prefix(
        self, prefix: str, *, rev: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        at = rev or self._current_rev
        if rev and rev <= self._compact_rev:
            raise Compacted(rev, self._compact_rev)
        if at > self._current_rev:
            raise FutureRevision(at, self._current_rev)
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        lower = max(prefix, start_after + "\x00") if start_after else prefix

        def q(conn: sqlite3.Connection) -> list[tuple[str, int, int, bytes]]:
            sql = (
                "SELECT l.key, l.rev, l.create_rev, l.value FROM log l JOIN ("
                " SELECT key, MAX(rev) AS mrev FROM log"
                " WHERE key >= ? AND key < ? AND rev <= ? GROUP BY key"
                ") m ON l.rev = m.mrev WHERE l.deleted = 0 ORDER BY l.key"
            )
            params: tuple[Any, ...] = (lower, end, at)
            if limit:
                sql += " LIMIT ?"
                params += (limit + 1,)
            rows: list[tuple[str, int, int, bytes]] = conn.execute(sql, params).fetchall()
            return rows

        rows: list[tuple[str, int, int, bytes]] = await self._read(q)
        more = bool(limit) and len(rows) > limit
        if more:
            rows = rows[:limit]
        items = [KeyValue(k, r, c, v, orjson.loads(v)) for k, r, c, v in rows]
        return ListResult(items, at, more)

    async def changes_since(self, rev: int, *, limit: int = 10_000) -> list[Change]:
        if rev < self._compact_rev:
            raise Compacted(rev, self._compact_rev)
        if rev > self._current_rev:
            raise FutureRevision(rev, self._current_rev)

        def q(conn: sqlite3.Connection) -> list[tuple[int, str, int, bytes, bytes | None]]:
            rows: list[tuple[int, str, int, bytes, bytes | None]] = conn.execute(
                "SELECT rev, key, deleted, value, prev_value FROM log WHERE rev > ?"
                " ORDER BY rev LIMIT ?",
                (rev, limit),
            ).fetchall()
            return rows

        rows: list[tuple[int, str, int, bytes, bytes | None]] = await self._read(q)
        return [
            Change(
                ChangeType.DELETE if deleted else ChangeType.PUT,
                key,
                r,
                value,
                orjson.loads(value),
                orjson.loads(prev) if prev is not None else None,
            )
            for r, key, deleted, value, prev in rows
        ]

    # --- writes --------------------------------------------------------------------------
    async def _submit(self, op: str, key: str, obj: dict[str, Any] | None, rev: int) -> Any:
        assert self._loop is not None, "store not started"
        future: asyncio.Future[Any] = self._loop.create_future()
        item = _Write(op, key, obj, rev, future)
        try:
            self._writes.put_nowait(item)
        except queue.Full:
            # Backpressure: wait for room in a thread rather than blocking the loop.
            await asyncio.to_thread(self._writes.put, item)
        return await future

    async def create(self, key: str, obj: dict[str, Any]) -> KeyValue:
        kv: KeyValue = await self._submit("create", key, obj, 0)
        return kv

    async def update(self, key: str, obj: dict[str, Any], *, expected_rev: int) -> KeyValue:
        kv: KeyValue = await self._submit("update", key, obj, expected_rev)
        return kv

    async def delete(self, key: str, *, expected_rev: int) -> KeyValue:
        kv: KeyValue = await self._submit("delete", key, None, expected_rev)
        return kv

    async def compact(self, rev: int) -> None:
        await self._submit("compact", "", None, rev)

    # --- the writer thread ---------------------------------------------------------------
    def _writer_main(self, conn: sqlite3.Connection) -> None:
        last_rev, _ = _read_revisions(conn)
        while True:
            first = self._writes.get()
            if first is None:
                conn.close()
                return
            batch = [first]
            stop = False
            while len(batch) < _MAX_GROUP:
                try:
                    item = self._writes.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            last_rev = self._commit_group(conn, batch, last_rev)
            if stop:
                conn.close()
                return

    def _commit_group(self, conn: sqlite3.Connection, batch: list[_Write], last_rev: int) -> int:
        results: list[tuple[_Write, Any, BaseException | None]] = []
        changes: list[Change] = []
        rev = last_rev
        compact_to = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for w in batch:
                conn.execute("SAVEPOINT w")
                try:
                    if w.op == "compact":
                        _compact(conn, w.expected_rev)
                        compact_to = w.expected_rev
                        results.append((w, None, None))
                    else:
                        change, kv = _apply(conn, w, rev + 1)
                        rev += 1
                        changes.append(change)
                        results.append((w, kv, None))
                    conn.execute("RELEASE w")
                except (StorageError, sqlite3.IntegrityError) as exc:
                    conn.execute("ROLLBACK TO w")
                    conn.execute("RELEASE w")
                    results.append((w, None, _integrity(exc, w)))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("sqlite commit failed")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = DatabaseError(str(exc))
            results = [(w, None, failure) for w in batch]
            changes = []
            rev = last_rev
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver, changes, results, rev, compact_to)
        return rev

    def _deliver(
        self,
        changes: Sequence[Change],
        results: list[tuple[_Write, Any, BaseException | None]],
        rev: int,
        compact_to: int,
    ) -> None:
        """On the loop: advance the revision, feed listeners, then acknowledge the writers."""
        self._current_rev = rev
        if compact_to:
            self._compact_rev = max(self._compact_rev, compact_to)
        if changes:
            for listener in self._listeners:
                try:
                    listener(changes)
                except Exception:
                    log.exception("change listener failed")
        for w, value, exc in results:
            if w.future.done():
                continue
            if exc is not None:
                w.future.set_exception(exc)
            else:
                w.future.set_result(value)


def _read_revisions(conn: sqlite3.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
    current = int(row[0]) if row else 0
    row = conn.execute("SELECT value FROM meta WHERE name = 'compact_rev'").fetchone()
    compacted = int(row[0]) if row else 0
    return current, compacted


def _integrity(exc: BaseException, w: _Write) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError):
        # The UNIQUE (key, prev_rev) index caught a concurrent writer: a lost CAS.
        return Conflict(w.key, w.expected_rev, -1)
    return exc


def _apply(conn: sqlite3.Connection, w: _Write, rev: int) -> tuple[Change, KeyValue]:
    row = conn.execute(
        "SELECT rev, create_rev, deleted, value FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1",
        (w.key,),
    ).fetchone()
    live = row is not None and not row[2]
    prev_rev = row[0] if row is not None else 0
    prev_value: bytes | None = row[3] if live else None
    if w.op == "create":
        if live:
            raise KeyExists(w.key)
        create_rev = rev
        deleted = 0
        obj = w.obj
    else:
        if not live:
            raise KeyNotFound(w.key)
        if w.expected_rev and prev_rev != w.expected_rev:
            raise Conflict(w.key, w.expected_rev, prev_rev)
        create_rev = row[1]
        if w.op == "update":
            deleted = 0
            obj = w.obj
        else:
            deleted = 1
            assert prev_value is not None
            obj = orjson.loads(prev_value)
    assert obj is not None
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    value = orjson.dumps(obj)
    conn.execute(
        "INSERT INTO log (rev, key, deleted, create_rev, prev_rev, value, prev_value)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rev, w.key, deleted, create_rev, prev_rev, value, prev_value),
    )
    prev_obj = orjson.loads(prev_value) if prev_value is not None else None
    change_type = ChangeType.DELETE if deleted else ChangeType.PUT
    return Change(change_type, w.key, rev, value, obj, prev_obj), KeyValue(
        w.key, rev, create_rev, value, obj
    )


def _compact(conn: sqlite3.Connection, rev: int) -> None:
    """Drop history at or below `rev`: superseded rows and deletion rows.

    The newest live row of each key survives whatever its age, so current state never shrinks.
    """
    conn.execute(
        "DELETE FROM log WHERE rev <= ?1 AND (deleted = 1 OR rev < ("
        " SELECT MAX(l2.rev) FROM log l2 WHERE l2.key = log.key AND l2.rev <= ?1))",
        (rev,),
    )
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('compact_rev', ?)"
        " ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
        (rev,),
    )
