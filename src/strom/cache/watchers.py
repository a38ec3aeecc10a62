"""Watchers and the fan-out: each event serialized once, the same bytes written to many.

The hot path is `fan_out`: for one batch of committed changes of one resource, every watcher
of the event's namespace (and every cluster-wide watcher) gets the event's frame appended to
its batch buffer — a frame built once per (event type, encoding) and shared — and after the
batch each watcher with something to send gets one write. Per watcher and event that is a
selector match (skipped entirely for watchers without selectors) and a list append; per
watcher and batch one `write`. A burst of events therefore costs one TLS record and one
syscall per watcher, which is what the fan-out study measured as the deciding factor.

A watcher whose transport does not drain is closed (the client relists, as with
kube-apiserver's dispatch budget): it can never stall the others or grow memory without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from strom.selectors import FieldSelector, LabelSelector
from strom.storage.base import Change, ChangeType

__all__ = ["Encoder", "Sink", "WatchEvent", "Watcher", "WatcherSet", "chunk"]

# A watcher whose unsent bytes exceed this is too slow: it is closed (bounded memory).
MAX_BUFFERED_BYTES = 4 * 1024 * 1024
# ... or whose transport stays paused (above its high-water mark) this long.
MAX_PAUSED_SECONDS = 0.1
# Events held for a watcher still sending its initial state or history.
MAX_PENDING_EVENTS = 50_000

ADDED = b"ADDED"
MODIFIED = b"MODIFIED"
DELETED = b"DELETED"


class Sink(Protocol):
    """Where a watcher's bytes go: the HTTP connection (chunked)."""

    def write_chunk(self, data: bytes) -> None: ...

    def write_framed(self, data: bytes) -> None: ...

    @property
    def paused_since(self) -> float: ...

    @property
    def bytes_while_paused(self) -> int: ...

    @property
    def is_closed(self) -> bool: ...

    def abort(self) -> None: ...


Encoder = Callable[[bytes], bytes]
"""Stored object bytes -> object bytes on the wire (adds kind/apiVersion for built-ins)."""


class WatchEvent:
    """One change of one resource, with its frames cached by (type, encoder)."""

    __slots__ = ("_frames", "change", "key", "obj", "prev_obj", "rev", "value")

    def __init__(self, change: Change) -> None:
        self.change = change
        self.key = change.key
        self.rev = change.rev
        self.value = change.value
        self.obj = change.obj
        self.prev_obj = change.prev_obj
        self._frames: dict[tuple[bytes, int], bytes] = {}

    @property
    def deleted(self) -> bool:
        return self.change.type is ChangeType.DELETE

    def frame(self, event_type: bytes, encoder: Encoder) -> bytes:
        key = (event_type, id(encoder))
        frame = self._frames.get(key)
        if frame is None:
            frame = b'{"type":"%s","object":%s}\n' % (event_type, encoder(self.value))
            self._frames[key] = frame
        return frame


def chunk(data: bytes) -> bytes:
    """HTTP/1.1 chunk framing, done once per shared payload rather than once per watcher."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _labels(obj: dict[str, Any] | None) -> dict[str, str] | None:
    if obj is None:
        return None
    meta = obj.get("metadata")
    return meta.get("labels") if meta else None


class Watcher:
    """One watch stream.

    Fields (event loop only):
      sink: the connection; written by `flush` only.
      key_prefix: keys this watcher sees (a namespace's prefix, or the resource's).
      min_rev: events at or below this revision are not sent (already known to the client).
      batch: frames gathered during one fan-out, written by `flush`.
      pending: while not None, the watcher is catching up (initial state or history) and
        live frames wait here, in order, until `go_live`.
      done: resolved when the watch must end (timeout, slow, server stop); the stream task
        awaits it.
    """

    __slots__ = (
        "batch",
        "bookmarks",
        "custom_frame",
        "done",
        "encoder",
        "field",
        "key_prefix",
        "label",
        "min_rev",
        "namespace",
        "pending",
        "selective",
        "sent",
        "sink",
    )

    def __init__(
        self,
        *,
        sink: Sink,
        key_prefix: str,
        namespace: str,
        label: LabelSelector,
        field: FieldSelector,
        encoder: Encoder,
        min_rev: int,
        bookmarks: bool,
        custom_frame: Callable[[bytes, dict[str, Any]], bytes] | None = None,
    ) -> None:
        self.sink = sink
        self.key_prefix = key_prefix
        self.namespace = namespace
        self.label = label
        self.field = field
        self.selective = not (label.empty and field.empty)
        self.encoder = encoder
        self.min_rev = min_rev
        self.bookmarks = bookmarks
        self.custom_frame = custom_frame  # per-watcher framing (Table output): slow path
        self.batch: list[bytes] = []
        self.pending: list[bytes] | None = None
        self.sent = 0  # events queued to this watcher by the fan-out (for its end log line)
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if not self.label.empty and not self.label.matches(_labels(obj)):
            return False
        return self.field.empty or self.field.matches(obj)

    def event_type(self, ev: WatchEvent) -> bytes | None:
        """What this watcher sees of an event, with selector transitions (kube's rules)."""
        if not self.selective:
            if ev.deleted:
                return DELETED
            return MODIFIED if ev.prev_obj is not None else ADDED
        if ev.deleted:
            return DELETED if self.matches(ev.obj) else None
        now = self.matches(ev.obj)
        before = ev.prev_obj is not None and self.matches(ev.prev_obj)
        if now:
            return MODIFIED if before else ADDED
        return DELETED if before else None  # leaving the selection: DELETED, new object

    def frame_for(self, ev: WatchEvent) -> bytes | None:
        """The bytes this watcher gets for an event (ignoring min_rev), or None."""
        if not ev.key.startswith(self.key_prefix):
            return None
        event_type = self.event_type(ev)
        if event_type is None:
            return None
        if self.custom_frame is not None:
            return self.custom_frame(event_type, ev.obj)
        return ev.frame(event_type, self.encoder)

    def offer(self, ev: WatchEvent) -> bool:
        """Queue the event's frame if this watcher sees it; True if something was queued."""
        if ev.rev <= self.min_rev:
            return False
        frame = self.frame_for(ev)
        if frame is None:
            return False
        self.sent += 1
        if self.pending is not None:
            self.pending.append(frame)
            if len(self.pending) > MAX_PENDING_EVENTS:
                self.stop("too slow")
            return False
        self.batch.append(chunk(frame))
        return True

    def flush(self) -> None:
        """One write for everything gathered (already chunk-framed); close if the client lags."""
        if not self.batch:
            return
        if self.done.done():
            # The watch has ended (timeout, server stop): its stream may already have its
            # final chunk, and the connection may carry the next response. The client resumes
            # from the last revision it got, so nothing is lost by dropping this.
            self.batch = []
            return
        data = self.batch[0] if len(self.batch) == 1 else b"".join(self.batch)
        self.batch = []
        sink = self.sink
        if sink.is_closed:
            self.stop("closed")
            return
        paused = sink.paused_since
        if paused and (
            sink.bytes_while_paused > MAX_BUFFERED_BYTES
            or time.monotonic() - paused > MAX_PAUSED_SECONDS
        ):
            # kube-apiserver gives blocked watchers a short budget, then drops them; the
            # client relists. Buffering on would cost memory without bound.
            self.stop("too slow")
            sink.abort()
            return
        sink.write_framed(data)

    def send_now(self, data: bytes) -> None:
        """Write outside a fan-out (bookmarks): after whatever is still queued, so a bookmark
        never overtakes the events it vouches for."""
        if self.batch:
            self.flush()
        if not self.sink.is_closed and not self.done.done():
            self.sink.write_chunk(data)

    def go_live(self) -> None:
        """End catching up: what arrived meanwhile goes out, in order, then live events."""
        pending = self.pending or []
        self.pending = None
        if pending:
            self.batch = [chunk(b"".join(pending))]
            self.flush()

    def stop(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_result(reason)


class WatcherSet:
    """The watchers of one resource, indexed by namespace.

    Fields (event loop only):
      by_namespace: namespace -> watchers of that namespace only.
      cluster_wide: watchers of all namespaces (or of a cluster-scoped resource).
    """

    def __init__(self, prefix: str, *, namespaced: bool) -> None:
        self.prefix = prefix
        self.namespaced = namespaced
        self.by_namespace: dict[str, set[Watcher]] = {}
        self.cluster_wide: set[Watcher] = set()
        self.events_sent = 0  # frames queued to watchers, for apiserver_watch_events_total
        self.terminated = 0  # watchers ended for being too slow (apiserver_terminated_watchers)

    def __len__(self) -> int:
        return len(self.cluster_wide) + sum(len(s) for s in self.by_namespace.values())

    def add(self, watcher: Watcher) -> None:
        if watcher.namespace and self.namespaced:
            self.by_namespace.setdefault(watcher.namespace, set()).add(watcher)
        else:
            self.cluster_wide.add(watcher)

    def remove(self, watcher: Watcher) -> None:
        if watcher.done.done() and watcher.done.result() == "too slow":
            self.terminated += 1
        if watcher.namespace and self.namespaced:
            group = self.by_namespace.get(watcher.namespace)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self.by_namespace[watcher.namespace]
        else:
            self.cluster_wide.discard(watcher)

    def all(self) -> Iterable[Watcher]:
        yield from self.cluster_wide
        for group in self.by_namespace.values():
            yield from group

    def fan_out(self, events: list[WatchEvent], touched: dict[Watcher, None]) -> None:
        """Queue the events for every watcher that sees them; `touched` collects who to flush.

        Watchers of one namespace (or all cluster-wide ones) that have no selector see the
        same events: their frames are joined once per encoding and the one bytes object is
        queued to each of them. Only watchers with selectors (or Table output, or still
        catching up) look at events one by one.
        """
        if self.cluster_wide:
            self._deliver(self.cluster_wide, events, touched)
        if self.by_namespace:
            start = len(self.prefix)
            by_ns: dict[str, list[WatchEvent]] = {}
            for ev in events:
                ns = ev.key[start : ev.key.find("/", start)]
                if ns in self.by_namespace:
                    by_ns.setdefault(ns, []).append(ev)
            for ns, evs in by_ns.items():
                self._deliver(self.by_namespace[ns], evs, touched)

    def _deliver(
        self, watchers: set[Watcher], events: list[WatchEvent], touched: dict[Watcher, None]
    ) -> None:
        first_rev = events[0].rev
        count = len(events)
        shared: dict[int, bytes] = {}
        sent = 0
        for w in watchers:
            if (
                w.pending is None
                and not w.selective
                and w.custom_frame is None
                and w.min_rev < first_rev
            ):
                encoder = w.encoder
                data = shared.get(id(encoder))
                if data is None:
                    data = chunk(b"".join([_plain_frame(ev, encoder) for ev in events]))
                    shared[id(encoder)] = data
                w.batch.append(data)
                touched[w] = None
                w.sent += count
                sent += count
                continue
            for ev in events:
                if w.offer(ev):
                    touched[w] = None
                    sent += 1
        self.events_sent += sent


def _plain_frame(ev: WatchEvent, encoder: Encoder) -> bytes:
    """The frame a watcher without selectors gets for an event."""
    if ev.deleted:
        return ev.frame(DELETED, encoder)
    return ev.frame(MODIFIED if ev.prev_obj is not None else ADDED, encoder)
