"""A stand-in for an asyncio transport, so `strom.server.http.Connection` can be driven without
sockets (unit tests, the in-process HTTP benchmark). It records what the connection writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["RecordingTransport"]


class RecordingTransport:
    """Enough of asyncio.Transport for Connection. `record=False` keeps no bytes (benchmarks);
    `on_write` is called after every write."""

    def __init__(self, *, record: bool = True, on_write: Callable[[], None] | None = None) -> None:
        self.data = bytearray()
        self.closed = False
        self.aborted = False
        self._record = record
        self._on_write = on_write

    def write(self, data: bytes) -> None:
        if self._record:
            self.data += data
        if self._on_write is not None:
            self._on_write()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def set_write_buffer_limits(self, high: int = 0, low: int = 0) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0
