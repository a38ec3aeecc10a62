"""A deduplicating work queue and the loop that drains it, shared by the controllers.

A name queued twice before it is worked is worked once, so a queue holds at most one entry
per object; a failed or unfinished sync is retried after a short pause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["RETRY_SECONDS", "WorkQueue", "drain"]

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5


class WorkQueue:
    """Names waiting to be worked on, deduplicated; one consumer."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._event = asyncio.Event()

    def add(self, name: str) -> None:
        self._pending.add(name)
        self._event.set()

    async def take(self) -> list[str]:
        await self._event.wait()
        self._event.clear()
        names = sorted(self._pending)
        self._pending.clear()
        return names


async def drain(queue: WorkQueue, sync: Callable[[str], Awaitable[bool]]) -> None:
    """Work names forever; `sync` returns True when a name needs another pass later."""
    while True:
        for name in await queue.take():
            try:
                again = await sync(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller sync of %s failed", name)
                again = True
            if again:
                asyncio.get_running_loop().call_later(RETRY_SECONDS, queue.add, name)
