"""`?watch=true`: options, resourceVersion rules, and the life of one watch stream.

resourceVersion rules (kube-apiserver v1.36, see ../shared/reference/):
- unset or "0": ADDED for the current state sorted by key, then changes; with
  allowWatchBookmarks a BOOKMARK annotated `k8s.io/initial-events-end` between them.
- N: every change after N, in order. N ahead of the server: silence until events pass N.
  N older than what history holds: 200 and one ERROR event carrying 410 Expired.
- sendInitialEvents=true (WatchList; with resourceVersionMatch=NotOlderThan): wait up to 3 s
  for the cache to reach N, else 200 and one ERROR event carrying 504; then the initial state,
  the initial-events-end bookmark, and changes.
Registration and the snapshot of initial state happen in one step of the event loop, between
two change batches, so no change is missed or sent twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from strom import logs
from strom.cache.state import History, ResourceState, StateCache
from strom.cache.watchers import Encoder, Watcher
from strom.errors import Cause, StatusError
from strom.registry.hooks import Converter
from strom.registry.kinds import ResourceType
from strom.registry.listing import parse_rv
from strom.registry.tables import to_table
from strom.selectors import FieldSelector, LabelSelector, parse_field_selector
from strom.server.http import Connection, Request, StreamingResponse
from strom.server.monitor import Monitor
from strom.server.responses import (
    MediaType,
    common_headers,
    partial_object_metadata,
    watch_error_event,
)
from strom.server.watch_conversion import ConvertingConnection

__all__ = ["WatchConfig", "WatchOptions", "open_watch"]

_FRESH_TIMEOUT = 3.0
_INITIAL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Server-wide watch settings (kube-apiserver flags in brackets)."""

    min_request_timeout: float = 1800.0  # [--min-request-timeout], randomized up to 2x
    bookmark_interval: float = 60.0


@dataclass(frozen=True, slots=True)
class WatchOptions:
    label: LabelSelector
    field: FieldSelector
    resource_version: str
    resource_version_match: str
    send_initial_events: bool | None
    bookmarks: bool
    timeout: float


def _invalid_list_options(field: str, message: str) -> StatusError:
    return StatusError.invalid(
        "ListOptions",
        "",
        [Cause("FieldValueForbidden", message, field)],
        group="meta.k8s.io",
    )


def watch_options(
    request: Request,
    *,
    label: LabelSelector,
    field: FieldSelector,
    config: WatchConfig,
) -> WatchOptions:
    send_initial = request.flag("sendInitialEvents")
    match = request.param("resourceVersionMatch")
    if send_initial is not None and match != "NotOlderThan":
        raise _invalid_list_options(
            "resourceVersionMatch",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        )
    if match and send_initial is None:
        raise _invalid_list_options(
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is"
            " provided",
        )
    timeout_text = request.param("timeoutSeconds")
    if timeout_text:
        try:
            timeout = float(int(timeout_text))
        except ValueError as exc:
            raise StatusError.bad_request(
                f'timeoutSeconds: Invalid value: "{timeout_text}": must be an integer'
            ) from exc
    else:
        timeout = 0.0
    if timeout == 0:  # absent or 0: the server's default, as kube's serveWatch reads it
        timeout = config.min_request_timeout * (1 + random.random())
    return WatchOptions(
        label=label,
        field=field,
        resource_version=request.param("resourceVersion"),
        resource_version_match=match,
        send_initial_events=send_initial,
        bookmarks=request.flag("allowWatchBookmarks") is True,
        timeout=max(0.0, timeout),
    )


def _bookmark(rt: ResourceType, rev: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rev)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
    return b'{"type":"BOOKMARK","object":%s}\n' % orjson.dumps(obj)


def _table_framer(
    rt: ResourceType, include_object: str
) -> Callable[[bytes, dict[str, Any]], bytes]:
    """Per-watcher Table frames: column definitions in the first event only."""
    first = [True]

    def frame(event_type: bytes, obj: dict[str, Any]) -> bytes:
        shown = {"kind": rt.kind, "apiVersion": rt.api_version, **obj}
        table = to_table(
            rt=rt,
            objects=[shown],
            include_object=include_object,
            resource_version=(obj.get("metadata") or {}).get("resourceVersion", ""),
            now=datetime.now(UTC),
            no_headers=not first[0],
        )
        first[0] = False
        return b'{"type":"%s","object":%s}\n' % (event_type, orjson.dumps(table))

    return frame


def _partial_framer(media: MediaType) -> Callable[[bytes, dict[str, Any]], bytes]:
    """Events whose objects are PartialObjectMetadata (metadata informers' watches)."""

    def frame(event_type: bytes, obj: dict[str, Any]) -> bytes:
        return b'{"type":"%s","object":%s}\n' % (
            event_type,
            orjson.dumps(partial_object_metadata(obj, media)),
        )

    return frame


class _WatchStream:
    """One watch: the `run` of its StreamingResponse, with its timers and cleanup."""

    __slots__ = (
        "cache",
        "config",
        "converter",
        "custom_frame",
        "encoder",
        "initial",
        "monitor",
        "namespace",
        "opts",
        "path",
        "rt",
        "start_rev",
        "state",
        "user",
    )

    def __init__(
        self,
        *,
        rt: ResourceType,
        state: ResourceState,
        cache: StateCache,
        opts: WatchOptions,
        namespace: str,
        encoder: Encoder,
        custom_frame: Callable[[bytes, dict[str, Any]], bytes] | None,
        config: WatchConfig,
        initial: bool,
        start_rev: int,
        converter: Converter | None = None,
        monitor: Monitor | None = None,
        user: str = "",
        path: str = "",
    ) -> None:
        self.rt = rt
        self.path = path
        self.converter = converter
        self.monitor = monitor
        self.user = user
        self.state = state
        self.cache = cache
        self.opts = opts
        self.namespace = namespace
        self.encoder = encoder
        self.custom_frame = custom_frame
        self.config = config
        self.initial = initial
        self.start_rev = start_rev

    def _frame_initial(self, watcher: Watcher, obj_value: bytes, obj: dict[str, Any]) -> bytes:
        if self.custom_frame is not None:
            return self.custom_frame(b"ADDED", obj)
        return b'{"type":"ADDED","object":%s}\n' % self.encoder(obj_value)

    async def run(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        rt = self.rt
        conn: Any = connection
        converting: ConvertingConnection | None = None
        if self.converter is not None:
            converting = conn = ConvertingConnection(
                connection, self.converter, rt, stop=lambda reason: watcher.stop(reason)
            )
        watcher = Watcher(
            sink=conn,
            key_prefix=rt.prefix_for(self.namespace),
            namespace=self.namespace if rt.namespaced else "",
            label=self.opts.label,
            field=self.opts.field,
            encoder=self.encoder,
            min_rev=self.start_rev,
            bookmarks=self.opts.bookmarks and self.custom_frame is None,
            custom_frame=self.custom_frame,
        )
        # --- register and take the starting point in one step of the loop ---
        # Live events queue in `pending` until the catch-up below is written.
        watcher.pending = []
        snapshot: list[bytes] = []
        history: History | None = None
        if self.initial:
            for entry in self.state.scan(watcher.key_prefix):
                if not watcher.selective or watcher.matches(entry.obj):
                    snapshot.append(self._frame_initial(watcher, entry.value, entry.obj))
        else:
            history = self.cache.history_since(self.state, self.start_rev)
        registered_rev = self.cache.rev
        watcher.min_rev = max(registered_rev, 0 if self.initial else self.start_rev)
        self.state.watchers.add(watcher)
        timers: list[asyncio.TimerHandle] = []
        opened = loop.time()
        caught_up = len(snapshot)
        shown = None
        if self.monitor is not None:
            shown = self.monitor.watch_opened(
                user=self.user,
                path=self.path,
                resource=rt.group_resource,
                namespace=self.namespace,
                label=str(self.opts.label),
                field=str(self.opts.field),
                sent=lambda: caught_up + watcher.sent,
                bookmarks=watcher.bookmarks,
                queued=connection.write_buffer_size,
                paused=lambda: connection.paused_since,
            )
        try:
            if history is not None:
                try:
                    async for events in history:
                        frames = [f for f in map(watcher.frame_for, events) if f is not None]
                        caught_up += len(frames)
                        await self._write_all(conn, frames)
                except StatusError as err:  # compacted while it was being read
                    conn.write_chunk(watch_error_event(err))
                    return
            await self._write_all(conn, snapshot)
            if self.initial and watcher.bookmarks:
                conn.write_chunk(_bookmark(rt, registered_rev, initial_end=True))
            watcher.go_live()
            timers.append(loop.call_later(self.opts.timeout, watcher.stop, "timeout"))
            if watcher.bookmarks:
                self._schedule_bookmarks(watcher, timers)
            # The connection closing ends the watch too (the client went away).
            closed_cb = conn.on_close(lambda: watcher.stop("client closed"))
            try:
                await watcher.done
            finally:
                conn.remove_on_close(closed_cb)
        finally:
            for t in timers:
                t.cancel()
            self.state.watchers.remove(watcher)
            watcher.stop("ended")
            if converting is not None:
                await converting.close()
            if shown is not None and self.monitor is not None:
                self.monitor.watch_closed(shown, watcher.done.result())
            if logs.enabled(2):
                logs.info(
                    2,
                    "Watch closed",
                    resource=rt.group_resource,
                    namespace=self.namespace,
                    events=caught_up + watcher.sent,
                    reason=watcher.done.result(),
                    duration=f"{loop.time() - opened:.3f}s",
                )

    async def _write_all(self, conn: Any, frames: Iterable[bytes]) -> None:
        """Write frames in chunks of ~64 KiB, waiting for the client between them."""
        batch: list[bytes] = []
        size = 0
        for frame in frames:
            batch.append(frame)
            size += len(frame)
            if size >= _INITIAL_CHUNK:
                conn.write_chunk(b"".join(batch))
                batch, size = [], 0
                await conn.drain()
        if batch:
            conn.write_chunk(b"".join(batch))

    def _schedule_bookmarks(self, watcher: Watcher, timers: list[asyncio.TimerHandle]) -> None:
        loop = asyncio.get_running_loop()
        rt = self.rt
        cache = self.cache

        def send() -> None:
            if watcher.pending is None and cache.rev >= watcher.min_rev:
                watcher.send_now(_bookmark(rt, cache.rev))

        def periodic() -> None:
            send()
            timers.append(loop.call_later(self.config.bookmark_interval, periodic))

        timers.append(loop.call_later(self.config.bookmark_interval, periodic))
        if self.opts.timeout >= 2:
            timers.append(loop.call_later(self.opts.timeout - 1, send))


async def open_watch(
    *,
    request: Request,
    rt: ResourceType,
    namespace: str,
    name: str,
    cache: StateCache,
    encoder: Encoder,
    media: MediaType,
    label: LabelSelector,
    field: FieldSelector,
    config: WatchConfig,
    converter: Converter | None = None,
    monitor: Monitor | None = None,
    user: str = "",
) -> StreamingResponse:
    """A watch; `converter` is given for a version whose CRD converts through a webhook
    (`encoder` then leaves the stored bytes as they are); `monitor` shows it in /ui/."""
    if name:
        field = parse_field_selector(
            ",".join(p for p in (f"metadata.name={name}", str(field)) if p),
            group=rt.group,
            kind=rt.kind,
            version=rt.version,
            namespaced=rt.namespaced,
        )
    opts = watch_options(request, label=label, field=field, config=config)
    state = cache.state(rt.key_prefix)
    if state is None:
        raise StatusError.service_unavailable("storage is (re)initializing")
    rev = parse_rv(opts.resource_version) if opts.resource_version else 0
    headers = common_headers()
    custom_frame = (
        _table_framer(rt, request.param("includeObject") or "Metadata") if media.table else None
    )
    if media.partial_metadata:
        custom_frame = _partial_framer(media)
    content_type = "application/json"

    def error_stream(err: StatusError) -> StreamingResponse:
        async def run(conn: Connection) -> None:
            conn.write_chunk(watch_error_event(err))

        return StreamingResponse(run, content_type=content_type, headers=headers)

    if opts.send_initial_events:
        if rev and not await cache.wait_until_fresh(rev, timeout=_FRESH_TIMEOUT):
            return error_stream(StatusError.too_large_resource_version(rev, cache.rev))
        initial = True
    elif opts.send_initial_events is False:
        initial = False
        rev = rev or cache.rev
    else:
        initial = rev == 0
    if not initial:
        try:
            cache.check_not_compacted(rev)
        except StatusError as err:
            return error_stream(err)
    stream = _WatchStream(
        rt=rt,
        state=state,
        cache=cache,
        opts=opts,
        namespace=namespace,
        encoder=encoder,
        custom_frame=custom_frame,
        config=config,
        initial=initial,
        start_rev=rev,
        converter=converter,
        monitor=monitor,
        user=user,
        path=request.path if not name else request.path.rsplit("/", 1)[0],
    )
    return StreamingResponse(stream.run, content_type=content_type, headers=headers)
