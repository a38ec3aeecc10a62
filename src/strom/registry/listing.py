"""list: from the cache at its current revision, pages after the first from the store.

resourceVersion rules (kube-apiserver's, for list):
- unset: a consistent read at the newest revision; served from the cache once it has caught
  up with the store's current revision.
- "0": any recent state; served from the cache as it is.
- N with NotOlderThan (or no match): the cache, once it has reached N; past 3 s, 504.
- N with Exact: the store at revision N; 410 once N is compacted.
Continue tokens carry the revision of the first page and the last key, so every page of a list
is at one revision: kube-apiserver's token format, base64url JSON `{"v","rv","start"}`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from strom.cache.state import Entry, ResourceState, StateCache
from strom.errors import StatusError
from strom.registry.kinds import ResourceType
from strom.selectors import FieldSelector, LabelSelector
from strom.storage.base import Compacted, FutureRevision, Store

__all__ = ["ListOptions", "ListPage", "decode_continue", "encode_continue", "list_objects"]

_FRESH_TIMEOUT = 3.0  # kube-apiserver waits this long for the cache to reach a future RV
_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can"
    " start a new list without the continue parameter, or use the continue token in this"
    " response to retrieve the remainder of the results. Continuing with the provided token"
    " results in an inconsistent list - objects that were created, modified, or deleted"
    " between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class ListOptions:
    label: LabelSelector
    field: FieldSelector
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[Entry]
    rev: int
    continue_token: str
    remaining: int | None


def encode_continue(rev: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(rev, start key relative to the list prefix); 400 for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data: Any = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
            raise ValueError("bad version")
        rev = data["rv"]
        start = data["start"]
        if not isinstance(rev, int) or not isinstance(start, str) or not start:
            raise ValueError("bad fields")
    except (binascii.Error, ValueError, KeyError, orjson.JSONDecodeError) as exc:
        raise StatusError.bad_request(f"invalid continue token: {exc}") from exc
    if ".." in start or start.startswith("/"):
        raise StatusError.bad_request("continue key is not valid: ...")
    return rev, start


def parse_rv(text: str) -> int:
    try:
        value = int(text)
        if value < 0 or not text.isdigit():
            raise ValueError
    except ValueError as exc:
        raise StatusError.bad_request(
            f'invalid resource version: resourceVersion: Invalid value: "{text}": '
            f'strconv.ParseUint: parsing "{text}": invalid syntax'
        ) from exc
    return value


def _matches(opts: ListOptions, entry: Entry) -> bool:
    obj = entry.obj
    if not opts.label.empty and not opts.label.matches((obj.get("metadata") or {}).get("labels")):
        return False
    return opts.field.empty or opts.field.matches(obj)


async def list_objects(
    *,
    rt: ResourceType,
    namespace: str,
    opts: ListOptions,
    cache: StateCache,
    store: Store,
) -> ListPage:
    prefix = rt.prefix_for(namespace)
    selective = not (opts.label.empty and opts.field.empty)
    if opts.continue_token:
        rev, start = decode_continue(opts.continue_token)
        return await _from_store(
            prefix=prefix,
            rev=rev,
            start_after=prefix + start.rstrip("\x00"),
            opts=opts,
            store=store,
            selective=selective,
        )
    rv_text = opts.resource_version
    match = opts.resource_version_match
    if match and match not in ("Exact", "NotOlderThan"):
        raise StatusError.bad_request(
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact",'
            ' "NotOlderThan"'
        )
    if match and not rv_text:
        raise StatusError.bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless"
            " resourceVersion is provided"
        )
    rev = parse_rv(rv_text) if rv_text else 0
    if match == "Exact":
        if rev == 0:
            raise StatusError.bad_request(
                'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for'
                ' resourceVersion "0"'
            )
        return await _from_store(
            prefix=prefix, rev=rev, start_after="", opts=opts, store=store, selective=selective
        )
    if rev and not await cache.wait_until_fresh(rev, timeout=_FRESH_TIMEOUT):
        raise StatusError.too_large_resource_version(rev, cache.rev)
    if not rv_text and not await cache.sync():
        # A consistent list the cache cannot serve in time (writes outside strom's prefix moved
        # the store's head): read the store itself at its newest revision.
        return await _from_store(
            prefix=prefix, rev=0, start_after="", opts=opts, store=store, selective=selective
        )
    state = cache.state(rt.key_prefix)
    if state is None:
        raise StatusError.service_unavailable("storage is (re)initializing")
    return _from_cache(state, cache.rev, prefix, opts, selective)


def _from_cache(
    state: ResourceState, rev: int, prefix: str, opts: ListOptions, selective: bool
) -> ListPage:
    items: list[Entry] = []
    limit = opts.limit
    it = iter(state.scan(prefix))
    for entry in it:
        if selective and not _matches(opts, entry):
            continue
        items.append(entry)
        if limit and len(items) == limit:
            break
    else:
        return ListPage(items, rev, "", None)
    # Cut at the limit: is anything left? Without selectors the sorted keys count it.
    if selective:
        remaining = 0
        more = any(_matches(opts, entry) for entry in it)
    else:
        remaining = state.count_after(prefix, items[-1].key)
        more = remaining > 0
    if not more:
        return ListPage(items, rev, "", None)
    token = encode_continue(rev, items[-1].key[len(prefix) :] + "\x00")
    return ListPage(items, rev, token, None if selective else remaining)


async def _from_store(
    *,
    prefix: str,
    rev: int,
    start_after: str,
    opts: ListOptions,
    store: Store,
    selective: bool,
) -> ListPage:
    items: list[Entry] = []
    cursor = start_after
    limit = opts.limit
    at = rev if rev > 0 else 0
    while True:
        try:
            page = await store.list_prefix(prefix, rev=at, start_after=cursor, limit=limit or 0)
        except Compacted as exc:
            if opts.continue_token:
                fresh = encode_continue(-1, start_after[len(prefix) :] + "\x00")
                raise StatusError.gone(_EXPIRED, continue_token=fresh) from exc
            raise StatusError.gone("The resourceVersion for the provided list is too old.") from exc
        except FutureRevision as exc:
            raise StatusError.too_large_resource_version(rev, store.current_rev) from exc
        at = page.rev
        for kv in page.items:
            entry = Entry(kv.key, kv.rev, kv.value, kv.obj)
            if selective and not _matches(opts, entry):
                continue
            items.append(entry)
            if limit and len(items) == limit:
                break
        if not page.more or (limit and len(items) == limit) or not page.items:
            break
        cursor = page.items[-1].key
    token = ""
    if limit and len(items) == limit:
        probe = await store.list_prefix(prefix, rev=at, start_after=items[-1].key, limit=1)
        if probe.items:
            token = encode_continue(at, items[-1].key[len(prefix) :] + "\x00")
    return ListPage(items, at, token, None)
