"""What the live web view (`/ui/`) shows: open watches, watches ended and why, recent writes.

The watch stream registers itself when it starts and reports its end; the request pipeline
records each write. Everything here is bounded: open watches are as many as the server holds
anyway, and the ended watches and recent writes are the last `_KEPT` of each. The view polls
`/ui/api/state` (authenticated and authorized like any request: RBAC `get` on the
non-resource URL), and the page computes event rates from the counters between two polls.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strom.cache.state import StateCache
from strom.registry.types import TypeTable

__all__ = ["Monitor", "WatchInfo"]

_KEPT = 100


@dataclass(slots=True)
class WatchInfo:
    id: int
    user: str
    path: str  # the collection's URL path (the view opens its own watch there)
    resource: str
    namespace: str
    label: str
    field: str
    opened: float  # wall clock
    sent: Callable[[], int]  # events sent so far (read live from the watcher)
    bookmarks: bool = False  # the client asked for bookmarks
    queued: Callable[[], int] = lambda: 0  # bytes written but not yet taken by the client
    paused: Callable[[], float] = lambda: 0.0  # since when the client stopped reading (0: not)
    ended: float = 0.0
    reason: str = ""
    events: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "user": self.user,
            "path": self.path,
            "resource": self.resource,
            "namespace": self.namespace,
            "labelSelector": self.label,
            "fieldSelector": self.field,
            "opened": self.opened,
            "events": self.events if self.ended else self.sent(),
            "bookmarks": self.bookmarks,
        }
        if not self.ended:
            since = self.paused()
            out["queuedBytes"] = self.queued()
            out["lagSeconds"] = round(time.monotonic() - since, 3) if since else 0.0
        if self.ended:
            out["ended"] = self.ended
            out["reason"] = self.reason
        return out


@dataclass
class Monitor:
    cache: StateCache
    types: TypeTable
    open: dict[int, WatchInfo] = field(default_factory=dict)
    ended: deque[WatchInfo] = field(default_factory=lambda: deque(maxlen=_KEPT))
    writes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_KEPT))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def watch_opened(
        self,
        *,
        user: str,
        path: str,
        resource: str,
        namespace: str,
        label: str,
        field: str,
        sent: Callable[[], int],
        bookmarks: bool = False,
        queued: Callable[[], int] = lambda: 0,
        paused: Callable[[], float] = lambda: 0.0,
    ) -> WatchInfo:
        info = WatchInfo(
            next(self._ids),
            user,
            path,
            resource,
            namespace,
            label,
            field,
            time.time(),
            sent,
            bookmarks,
            queued,
            paused,
        )
        self.open[info.id] = info
        return info

    def watch_closed(self, info: WatchInfo, reason: str) -> None:
        if self.open.pop(info.id, None) is None:
            return
        info.events, info.ended, info.reason = info.sent(), time.time(), reason
        self.ended.appendleft(info)

    def write(
        self, *, verb: str, resource: str, namespace: str, name: str, user: str, code: int
    ) -> None:
        self.writes.appendleft(
            {
                "time": time.time(),
                "verb": verb,
                "resource": resource,
                "namespace": namespace,
                "name": name,
                "user": user,
                "code": code,
            }
        )

    def state(self) -> dict[str, Any]:
        """The view's JSON: watches (open first), per-resource event counters, writes."""
        counters = {
            rt.group_resource: state.watchers.events_sent
            for rt, state in self.types.with_states(self.cache)
        }
        return {
            "now": time.time(),
            "watches": [w.to_json() for w in self.open.values()],
            "ended": [w.to_json() for w in self.ended],
            "eventsSent": counters,
            "writes": list(self.writes),
        }
