"""The audit log file, rotated by size like kube-apiserver's (gopkg.in/natefinch/lumberjack).

`--audit-log-maxsize` MB per file (0: never rotate); a full file is renamed to
`<name>-<UTC time>.<ext>`, e.g. `audit-2026-11-25T13-00-00.000.log`, and a new one started;
then backups beyond `--audit-log-maxbackup` (0: keep all) and older than `--audit-log-maxage`
days (0: keep all), by the time in their names, are removed. A single line larger than the
maximum size is refused, as lumberjack refuses it. `-` writes to standard output.

Only the sink's writer thread uses these objects.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["LineWriter", "RotatingFile", "StdoutWriter", "ensure_log_file", "open_writer"]

_MEGABYTE = 1024 * 1024
_BACKUP_TIME = "%Y-%m-%dT%H-%M-%S"
_FILE_MODE = 0o600


class LineWriter(Protocol):
    def write(self, line: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def ensure_log_file(path: Path) -> None:
    """Create the log's directory and file up front (kube's ensureLogFile): a path that cannot
    be written stops start-up instead of losing every event later. Does not block on a FIFO."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_RDWR, _FILE_MODE)
    os.close(fd)


def open_writer(path: str, *, max_size_mb: int, max_backups: int, max_age_days: int) -> LineWriter:
    if path == "-":
        return StdoutWriter()
    return RotatingFile(
        Path(path), max_size_mb=max_size_mb, max_backups=max_backups, max_age_days=max_age_days
    )


class StdoutWriter:
    def write(self, line: bytes) -> None:
        sys.stdout.buffer.write(line)

    def flush(self) -> None:
        sys.stdout.buffer.flush()

    def close(self) -> None:
        self.flush()


class RotatingFile:
    """Fields: `_file` is None until the first write (opening a FIFO blocks until a reader
    comes, which must only ever block the writer thread); `_size` is the current file's."""

    def __init__(self, path: Path, *, max_size_mb: int, max_backups: int, max_age_days: int):
        self.path = path
        self.max_size = max_size_mb * _MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self._file: BinaryIO | None = None
        self._size = 0

    def write(self, line: bytes) -> None:
        if self.max_size and len(line) > self.max_size:
            raise OSError(f"write length {len(line)} exceeds maximum file size {self.max_size}")
        if self._file is None:
            self._open_existing()
        if self.max_size and self._size + len(line) > self.max_size:
            self._rotate()
        assert self._file is not None
        self._file.write(line)
        self._size += len(line)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open_existing(self) -> None:
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, _FILE_MODE)
        self._file = os.fdopen(fd, "ab")
        self._size = os.fstat(fd).st_size

    def _rotate(self) -> None:
        self.close()
        if self.path.exists():
            mode = self.path.stat().st_mode & 0o777
            os.rename(self.path, self._backup_name(datetime.now(UTC)))
        else:
            mode = _FILE_MODE
        fd = os.open(self.path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, mode)
        self._file = os.fdopen(fd, "ab")
        self._size = 0
        self._remove_old_backups()

    def _backup_name(self, when: datetime) -> Path:
        """`<prefix>-<time>.<ext>`; a name already taken (two rotations in one millisecond)
        gets the next millisecond rather than replacing that backup."""
        while True:
            stamp = when.strftime(_BACKUP_TIME) + f".{when.microsecond // 1000:03d}"
            candidate = self.path.with_name(f"{self._prefix}{stamp}{self.path.suffix}")
            if not candidate.exists():
                return candidate
            when += timedelta(milliseconds=1)

    @property
    def _prefix(self) -> str:
        return self.path.name[: len(self.path.name) - len(self.path.suffix)] + "-"

    def backups(self) -> list[tuple[datetime, Path]]:
        """Backups of this log, newest first, by the time in their names."""
        found: list[tuple[datetime, Path]] = []
        prefix, ext = self._prefix, self.path.suffix
        for entry in self.path.parent.iterdir():
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(ext)) or not entry.is_file():
                continue
            stamp = name[len(prefix) : len(name) - len(ext)]
            try:
                when = datetime.strptime(stamp, _BACKUP_TIME + ".%f").replace(tzinfo=UTC)
            except ValueError:
                continue
            found.append((when, entry))
        found.sort(reverse=True)
        return found

    def _remove_old_backups(self) -> None:
        backups = self.backups()
        doomed: list[Path] = []
        if self.max_backups and len(backups) > self.max_backups:
            doomed += [path for _, path in backups[self.max_backups :]]
            backups = backups[: self.max_backups]
        if self.max_age_days:
            cutoff = datetime.now(UTC) - timedelta(days=self.max_age_days)
            doomed += [path for when, path in backups if when < cutoff]
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
