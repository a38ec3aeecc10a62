"""The fan-out's bookkeeping with plain bytes: who gets which frame, in what order, in how many
writes (no loop beyond what futures need, no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

from strom.cache.watchers import Watcher, WatcherSet, WatchEvent
from strom.selectors import parse_field_selector, parse_label_selector
from strom.storage.base import Change, ChangeType


class RecordingSink:
    """Stands in for the connection: records every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.is_closed = False
        self.paused_since = 0.0
        self.bytes_while_paused = 0

    def write_chunk(self, data: bytes) -> None:
        self.writes.append(b"%x\r\n%s\r\n" % (len(data), data))

    def write_framed(self, data: bytes) -> None:
        self.writes.append(data)

    def abort(self) -> None:
        self.is_closed = True


def encoder(value: bytes) -> bytes:
    return value


def event(
    rev: int,
    name: str,
    labels: dict[str, str],
    *,
    prev: dict[str, Any] | None = None,
    deleted: bool = False,
) -> WatchEvent:
    obj = {"metadata": {"name": name, "namespace": "ns", "labels": labels}}
    return WatchEvent(
        Change(
            ChangeType.DELETE if deleted else ChangeType.PUT,
            f"/registry/configmaps/ns/{name}",
            rev,
            b'{"n":"%s","r":%d}' % (name.encode(), rev),
            obj,
            prev,
        )
    )


def watcher(sink: RecordingSink, label: str = "") -> Watcher:
    return Watcher(
        sink=sink,
        key_prefix="/registry/configmaps/ns/",
        namespace="ns",
        label=parse_label_selector(label),
        field=parse_field_selector("", group="", kind="ConfigMap"),
        encoder=encoder,
        min_rev=0,
        bookmarks=True,
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_shared_payload_one_write_per_watcher_and_selector_transitions() -> None:
    async def body() -> None:
        plain_sinks = [RecordingSink() for _ in range(3)]
        selective_sink = RecordingSink()
        watchers = WatcherSet("/registry/configmaps/", namespaced=True)
        plain = [watcher(s) for s in plain_sinks]
        selective = watcher(selective_sink, "app=web")
        for w in (*plain, selective):
            watchers.add(w)
        web = {"metadata": {"name": "a", "labels": {"app": "web"}}}
        events = [
            event(5, "a", {"app": "web"}),
            event(6, "a", {"app": "db"}, prev=web),  # leaves the selection
            event(7, "b", {"app": "db"}),  # never in it
        ]
        touched: dict[Watcher, None] = {}
        watchers.fan_out(events, touched)
        for w in touched:
            w.flush()
        # Every plain watcher got the very same bytes object, in one write.
        assert all(len(s.writes) == 1 for s in plain_sinks)
        assert plain_sinks[0].writes[0] is plain_sinks[1].writes[0]
        text = plain_sinks[0].writes[0]
        assert text.count(b'"type":"ADDED"') == 2 and text.count(b'"type":"MODIFIED"') == 1
        # The selective watcher saw ADDED then DELETED (with the new object), nothing of b.
        (sel,) = selective_sink.writes
        assert sel.index(b'"type":"ADDED","object":{"n":"a","r":5}') < sel.index(
            b'"type":"DELETED","object":{"n":"a","r":6}'
        )
        assert b'"n":"b"' not in sel
        assert watchers.events_sent == 3 * 3 + 2

    run(body())


def test_bookmark_never_overtakes_queued_events() -> None:
    async def body() -> None:
        sink = RecordingSink()
        w = watcher(sink)
        assert w.offer(event(9, "a", {}))  # queued for the next flush, not yet written
        w.send_now(b'{"type":"BOOKMARK"}\n')
        assert len(sink.writes) == 2
        assert b'"r":9' in sink.writes[0] and b"BOOKMARK" in sink.writes[1]

    run(body())


def test_paused_too_long_is_dropped() -> None:
    async def body() -> None:
        sink = RecordingSink()
        w = watcher(sink)
        sink.paused_since = 1.0  # paused long ago (monotonic clock is far past 1.0 + 0.1)
        assert w.offer(event(3, "a", {}))
        w.flush()
        assert sink.is_closed and w.done.done() and sink.writes == []

    run(body())


def test_nothing_is_written_after_the_watch_ended() -> None:
    async def body() -> None:
        sink = RecordingSink()
        w = watcher(sink)
        assert w.offer(event(4, "a", {}))
        w.stop("timeout")  # the stream ends (and writes its final chunk) before the flush
        w.flush()
        w.send_now(b'{"type":"BOOKMARK"}\n')
        assert sink.writes == []

    run(body())


def test_registration_catch_up_then_live_in_order_none_twice() -> None:
    # What a watch does at registration: take its catch-up (history up to the cache's
    # revision) and register in one step, with live events queueing in `pending` until the
    # catch-up is written; then go_live sends them in order. Events at or below min_rev (the
    # revision registered at) are already in the catch-up and must not come again.
    async def body() -> None:
        sink = RecordingSink()
        watchers = WatcherSet("/registry/configmaps/", namespaced=True)
        w = watcher(sink)
        history = [event(3, "a", {}), event(4, "b", {})]
        w.pending = []
        w.min_rev = 4  # the cache's revision when it registered
        watchers.add(w)
        # The fan-out runs while the catch-up is being written: a replayed revision (4) and
        # two new ones arrive.
        touched: dict[Watcher, None] = {}
        watchers.fan_out([event(4, "b", {}), event(5, "c", {})], touched)
        watchers.fan_out([event(6, "d", {})], touched)
        for t in touched:
            t.flush()
        assert sink.writes == []  # nothing live goes out before the catch-up
        for frame in filter(None, map(w.frame_for, history)):
            sink.write_chunk(frame)
        w.go_live()
        watchers.fan_out([event(7, "e", {})], touched := {})
        for t in touched:
            t.flush()
        wire = b"".join(sink.writes)
        order = [wire.index(b'"r":%d}' % rev) for rev in (3, 4, 5, 6, 7)]
        assert order == sorted(order)
        assert all(wire.count(b'"r":%d}' % rev) == 1 for rev in (3, 4, 5, 6, 7))

    run(body())
