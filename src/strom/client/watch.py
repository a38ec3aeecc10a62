"""A reflector-grade watch: list, watch from the list's resourceVersion, never miss or repeat.

The loop is client-go's reflector (`tools/cache/reflector.go`) reduced to what a consumer of
events needs:

* **list, then watch** from the list's resourceVersion (paged, `limit=500`, like the reflector),
  or, with `since`, watch from that resourceVersion without listing;
* **bookmarks** are requested (`allowWatchBookmarks=true`) and only advance the resourceVersion,
  so a resumed watch starts as late as possible;
* **a dropped connection** (EOF, reset, timeout, 429/5xx) resumes from the last resourceVersion
  after exponential backoff with jitter (0.8s doubling to 30s, up to +100% jitter, as client-go's
  reflector backoff); a watch that ended normally (server timeout) resumes at once;
* **410 Gone** (an HTTP 410 or an ERROR event with code 410) means the history we need is
  compacted: we relist, telling the caller through `on_notice`.

The relist does *not* replay the whole state as new events.  client-go's `DeltaFIFO.Replace`
hands informers a `Replaced` delta for every listed object and a delete for every vanished one;
informer handlers then see an update for every object, changed or not.  That is right for
level-triggered controllers and wrong for a human or a script reading a change log, so here the
listed state is compared with the last known state (kept per namespace/name) and only the
differences come out, as synthetic events: ADDED (new), MODIFIED (resourceVersion differs),
DELETED (gone; the object is its last known state, like client-go's
`DeletedFinalStateUnknown`), and DELETED+ADDED when the UID changed (deleted and recreated while
we were not looking).  Synthetic events carry `synthetic=True`.

Errors before the first successful exchange (unreachable server, unknown resource, 401/403)
are raised: a caller that never connected should hear about it rather than retry forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlencode

import orjson

from strom.client.discovery import ApiResource, UnknownResourceError, resolve
from strom.client.http import ApiError, ConnectError, HttpClient
from strom.client.kubeconfig import ClientConfig, load_config

__all__ = ["Backoff", "Watch", "WatchEvent", "watch"]

log = logging.getLogger(__name__)

_PAGE_SIZE = 500
_MIN_WATCH_TIMEOUT = 300.0  # the reflector's minWatchTimeout; each watch asks for 1-2x this
_READ_GRACE = 30.0  # how long past the server's own timeout a silent stream is trusted
_RETRIABLE_CODES = frozenset({429, 500, 502, 503, 504})

ObjectKey = tuple[str, str]


@dataclass(frozen=True)
class WatchEvent:
    """One event: `raw` is the line as received (synthesised for list and relist events)."""

    type: str  # ADDED, MODIFIED, DELETED (BOOKMARK only when asked for)
    object: dict[str, Any]
    raw: bytes
    synthetic: bool = False  # made from a list, not received on the watch stream
    relist: bool = False  # made from a relist after 410 (a difference from the known state)
    previous: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> ObjectKey:
        meta = self.object.get("metadata") or {}
        return (str(meta.get("namespace", "")), str(meta.get("name", "")))

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion", ""))


class Backoff:
    """Exponential backoff with jitter: `base * factor**n`, capped, plus up to `jitter`x more."""

    def __init__(
        self, *, base: float = 0.8, cap: float = 30.0, factor: float = 2.0, jitter: float = 1.0
    ) -> None:
        self.base, self.cap, self.factor, self.jitter = base, cap, factor, jitter
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * self.factor**self.failures)
        self.failures += 1
        return delay * (1.0 + self.jitter * random.random())

    def reset(self) -> None:
        self.failures = 0


class _Expired(Exception):
    """410 Gone: the resourceVersion we need is compacted away."""


class _Retriable(Exception):
    """The watch broke in a way worth retrying from the same resourceVersion."""


def watch(
    resource: str | ApiResource,
    *,
    namespace: str | None = None,
    name: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    since: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    config: ClientConfig | None = None,
    on_notice: Callable[[str], None] | None = None,
    bookmarks: bool = False,
) -> Watch:
    """`async for event in watch("pods", namespace="default"): ...` (namespace None: all)."""
    return Watch(
        resource,
        namespace=namespace,
        name=name,
        label_selector=label_selector,
        field_selector=field_selector,
        since=since,
        config=config or load_config(kubeconfig, context=context),
        on_notice=on_notice,
        bookmarks=bookmarks,
    )


class Watch:
    """The reflector loop; iterate it once.  `resource_version` is the last one seen."""

    def __init__(
        self,
        resource: str | ApiResource,
        *,
        config: ClientConfig,
        namespace: str | None = None,
        name: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        since: str | None = None,
        on_notice: Callable[[str], None] | None = None,
        bookmarks: bool = False,
    ) -> None:
        self.resource = resource
        self.config = config
        self.namespace = namespace
        self.label_selector = label_selector
        selectors = [s for s in (field_selector, name and f"metadata.name={name}") if s]
        self.field_selector = ",".join(selectors) or None
        self.since = since
        self.on_notice = on_notice or (lambda message: log.warning("%s", message))
        self.bookmarks = bookmarks
        self.api_resource = resource if isinstance(resource, ApiResource) else None
        self._rv = since or ""
        self._known: dict[ObjectKey, dict[str, Any]] = {}
        self._connected = False
        self._listed = False
        self._backoff = Backoff()

    @property
    def resource_version(self) -> str:
        return self._rv

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._run()

    async def _run(self) -> AsyncIterator[WatchEvent]:
        client = HttpClient(self.config)
        try:
            if self.api_resource is None:
                self.api_resource = await resolve(client, str(self.resource))
                self._connected = True
            _check_watchable(self.api_resource)
            if self.since is None:
                async for event in self._relist(client):
                    yield event
            while True:
                async for event in self._watch_with_recovery(client):
                    yield event
        finally:
            await client.close()

    async def _watch_with_recovery(self, client: HttpClient) -> AsyncIterator[WatchEvent]:
        """One watch, then whatever its end calls for: resume, back off, or relist."""
        started, seen = time.monotonic(), 0
        try:
            async for event in self._watch_once(client):
                seen += 1
                if seen == 1:
                    self._backoff.reset()
                yield event
        except _Expired:
            self.on_notice(f"resourceVersion {self._rv} expired (410 Gone); relisting")
            async for event in self._relist(client):
                yield event
            return
        except (ConnectError, _Retriable) as exc:
            if not self._connected:
                raise ConnectError(str(exc.__cause__ or exc)) from exc
            await self._pause(f"watch interrupted ({exc})")
            return
        if seen == 0 and time.monotonic() - started < 1.0:
            await self._pause("very short watch")  # the server ends it at once: don't spin

    async def _pause(self, why: str) -> None:
        delay = self._backoff.next_delay()
        message = f"{why}; resuming from resourceVersion {self._rv} in {delay:.1f}s"
        if self._backoff.failures == 1:
            self.on_notice(message)
        else:
            log.info("%s", message)
        await asyncio.sleep(delay)

    def _query(self, **extra: str) -> str:
        selectors = (("labelSelector", self.label_selector), ("fieldSelector", self.field_selector))
        params = {k: v for k, v in selectors if v}
        params.update(extra)
        return urlencode(params)

    def _path(self) -> str:
        assert self.api_resource is not None
        return self.api_resource.collection_path(self.namespace)

    async def _watch_once(self, client: HttpClient) -> AsyncIterator[WatchEvent]:
        timeout = _MIN_WATCH_TIMEOUT * (1.0 + random.random())
        query = self._query(
            watch="1",
            resourceVersion=self._rv,
            allowWatchBookmarks="true",
            timeoutSeconds=str(int(timeout)),
        )
        async with client.stream(
            f"{self._path()}?{query}", idle_timeout=timeout + _READ_GRACE
        ) as stream:
            if stream.status != 200:
                _raise_for(ApiError.from_response(stream.status, await stream.read_all()))
            self._connected = True
            async for line in stream.lines():
                event = self._accept(line)
                if event is not None:
                    yield event

    def _accept(self, line: bytes) -> WatchEvent | None:
        """Parse one watch line, update the known state and RV; None for a hidden bookmark."""
        try:
            doc = orjson.loads(line)
            kind, obj = str(doc["type"]), doc["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise _Retriable(f"undecodable watch event: {line[:100]!r}") from exc
        if kind == "ERROR":
            _raise_for(ApiError(int(obj.get("code") or 500), obj))
        event = WatchEvent(kind, obj, line, previous=self._known.get(_key(obj)))
        if event.resource_version:
            self._rv = event.resource_version
        if kind == "BOOKMARK":
            return event if self.bookmarks else None
        if kind == "DELETED":
            self._known.pop(event.key, None)
        else:
            self._known[event.key] = obj
        return event

    async def _relist(self, client: HttpClient) -> AsyncIterator[WatchEvent]:
        """List (retrying after the first success), then emit the differences as events."""
        while True:
            try:
                items, rv = await self._list(client)
                break
            except (ConnectError, _Retriable, _Expired) as exc:
                if not self._connected:
                    raise
                await self._pause(f"list failed ({exc})")
        self._connected = True
        self._backoff.reset()
        events = list(self._replace(items, relist=self._listed or self.since is not None))
        self._listed = True
        self._rv = rv
        for event in events:
            yield event

    async def _list(self, client: HttpClient) -> tuple[list[dict[str, Any]], str]:
        """Every page of a consistent list; items get the kind/apiVersion lists leave out."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            extra = {"limit": str(_PAGE_SIZE)} | ({"continue": token} if token else {})
            try:
                page = (await client.get(f"{self._path()}?{self._query(**extra)}")).json()
            except ApiError as exc:
                _raise_for(exc)
            kind = str(page.get("kind", "")).removesuffix("List")
            version = str(page.get("apiVersion", ""))
            for item in page.get("items") or []:
                items.append({"kind": kind, "apiVersion": version, **item})
            meta = page.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    def _replace(self, items: Iterable[dict[str, Any]], *, relist: bool) -> Iterable[WatchEvent]:
        """The listed state replaces the known one; yield only what differs (see module doc)."""
        old, self._known = self._known, {}
        for obj in items:
            key = _key(obj)
            self._known[key] = obj
            before = old.pop(key, None)
            if before is None:
                yield _synthetic("ADDED", obj, relist=relist)
            elif _uid(before) != _uid(obj):
                yield _synthetic("DELETED", before, relist=relist, previous=before)
                yield _synthetic("ADDED", obj, relist=relist)
            elif _rv(before) != _rv(obj):
                yield _synthetic("MODIFIED", obj, relist=relist, previous=before)
        for gone in old.values():
            yield _synthetic("DELETED", gone, relist=relist, previous=gone)


def _check_watchable(resource: ApiResource) -> None:
    missing = {"list", "watch"} - set(resource.verbs)
    if resource.verbs and missing:
        raise UnknownResourceError(
            f'the server does not allow watching "{resource.name}" '
            f"(verbs: {', '.join(resource.verbs)})"
        )


def _raise_for(exc: ApiError) -> NoReturn:
    if exc.code == 410:
        raise _Expired(exc.message) from exc
    if exc.code in _RETRIABLE_CODES:
        raise _Retriable(str(exc)) from exc
    raise exc


def _synthetic(
    kind: str, obj: dict[str, Any], *, relist: bool, previous: dict[str, Any] | None = None
) -> WatchEvent:
    raw = orjson.dumps({"type": kind, "object": obj})
    return WatchEvent(kind, obj, raw, synthetic=True, relist=relist, previous=previous)


def _key(obj: dict[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
