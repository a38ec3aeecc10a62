"""Watch events of a webhook-converted CRD version: the stream passes through the webhook.

The watch cache holds objects in the storage version and frames each event once; a watch of
another version whose CRD converts through a webhook cannot be served from those bytes. Such
a watch writes to a `ConvertingConnection` instead of the connection: it takes the frames in
order, sends the objects of each batch in one ConversionReview, and writes the converted
events to the real connection, so the order and the batching of the cache are kept and the
fan-out path of every other watch is untouched. What waits for the webhook is bounded in
bytes; past the bound, or when the webhook fails, the watch ends (the latter with kube's
ERROR event), and the client resumes from the last resourceVersion it got.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import orjson

from strom.errors import StatusError
from strom.registry.hooks import Converter
from strom.registry.kinds import ResourceType
from strom.server.http import Connection
from strom.server.responses import watch_error_event

__all__ = ["ConvertingConnection"]

_MAX_QUEUED_BYTES = 32 * 1024 * 1024
_OBJECT_EVENTS = (b'{"type":"ADDED"', b'{"type":"MODIFIED"', b'{"type":"DELETED"')


def _unframe(data: bytes) -> list[bytes]:
    """The payloads of HTTP chunks (`<hex>\\r\\n<payload>\\r\\n`, one after another)."""
    out, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end], 16)
        start = end + 2
        out.append(data[start : start + size])
        pos = start + size + 2
    return out


class ConvertingConnection:
    """A watch's connection as the watcher sees it (the Sink protocol, plus what the watch
    stream uses); `stop` is called to end the watch when conversion cannot go on."""

    def __init__(
        self, conn: Connection, converter: Converter, rt: ResourceType, stop: Callable[[str], None]
    ) -> None:
        self.conn = conn
        self.converter = converter
        self.rt = rt
        self.stop = stop
        # Payloads (newline-separated events) waiting for the webhook, in order; only the
        # writer task takes from it, writes append. `queued` counts their bytes.
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failed = False
        self._task = asyncio.get_running_loop().create_task(
            self._write_loop(), name=f"watch conversion {rt.group}/{rt.version} {rt.plural}"
        )

    # --- the Sink protocol -------------------------------------------------------------------
    def write_chunk(self, data: bytes) -> None:
        if data and not self._failed:
            self._enqueue(data)

    def write_framed(self, data: bytes) -> None:
        if not self._failed:
            for payload in _unframe(data):
                self._enqueue(payload)

    @property
    def paused_since(self) -> float:
        return self.conn.paused_since

    @property
    def bytes_while_paused(self) -> int:
        return self.conn.bytes_while_paused

    @property
    def is_closed(self) -> bool:
        return self.conn.is_closed

    def abort(self) -> None:
        self.conn.abort()

    # --- what the watch stream uses -----------------------------------------------------------
    async def drain(self) -> None:
        await self._idle.wait()
        await self.conn.drain()

    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self.conn.on_close(callback)

    def remove_on_close(self, callback: Callable[[], None]) -> None:
        self.conn.remove_on_close(callback)

    async def close(self) -> None:
        """Write what is converted and stop (the stream's end follows on the connection)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(35):  # one webhook call at most
                await self._idle.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    # --- the writer -----------------------------------------------------------------------------
    def _enqueue(self, payload: bytes) -> None:
        self._queued += len(payload)
        if self._queued > _MAX_QUEUED_BYTES:
            self._failed = True
            self.stop("too slow")
            return
        self._queue.append(payload)
        self._idle.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                payload = self._queue.popleft()
                self._queued -= len(payload)
                try:
                    converted = await self._convert(payload)
                except StatusError as err:
                    self._failed = True
                    self._queue.clear()
                    self._queued = 0
                    if not self.conn.is_closed:
                        self.conn.write_chunk(watch_error_event(err))
                    self.stop("conversion failed")
                    break
                if not self.conn.is_closed:
                    self.conn.write_chunk(converted)
            if not self._queue:
                self._idle.set()

    async def _convert(self, payload: bytes) -> bytes:
        lines = payload.split(b"\n")
        indexes = [i for i, line in enumerate(lines) if line.startswith(_OBJECT_EVENTS)]
        if not indexes:
            return payload
        events = [orjson.loads(lines[i]) for i in indexes]
        objects = await self.converter.convert(
            self.rt, [e["object"] for e in events], self.rt.api_version
        )
        for i, event, obj in zip(indexes, events, objects, strict=True):
            lines[i] = orjson.dumps({"type": event["type"], "object": obj})
        return b"\n".join(lines)
