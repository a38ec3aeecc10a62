"""PATCH and server-side apply for the generic registry: each reads the live object, merges,
and writes it as an update, retrying when another writer won the race (unless the client pinned
a resourceVersion). Split out of rest.py, which keeps create, update and delete."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from strom.cache.state import Entry, StateCache
from strom.errors import StatusError
from strom.mediatypes import APPLY_PATCH
from strom.registry.apply import FieldManager, TypedError
from strom.registry.apply.config import decode_apply_config, gvk_string
from strom.registry.conversion import storage_type, to_storage
from strom.registry.kinds import ResourceType
from strom.registry.patch import apply_patch
from strom.registry.schemas import definition_name
from strom.registry.write_options import (
    WRITE_RETRIES,
    WriteOptions,
    WriteResult,
    retryable_conflict,
)


class Registry(Protocol):
    """What a patch needs of strom.registry.rest.Registry (a protocol, so the two modules do
    not import each other)."""

    cache: StateCache

    @staticmethod
    def field_manager(rt: ResourceType, subresource: str = "") -> FieldManager: ...
    @staticmethod
    def now() -> str: ...
    def lookup(self, rt: ResourceType, namespace: str, name: str) -> Entry | None: ...
    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry: ...
    def render_obj(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]: ...
    async def in_version(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]: ...
    def check_type(self, rt: ResourceType, obj: dict[str, Any]) -> None: ...
    def field_check(
        self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions
    ) -> list[str]: ...
    async def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: dict[str, Any],
        opts: WriteOptions,
        *,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult: ...
    async def write_update(
        self,
        rt: ResourceType,
        current: Entry,
        obj: dict[str, Any],
        opts: WriteOptions,
        *,
        subresource: str,
        fm: FieldManager,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult: ...


async def _write_or_retry(
    registry: Registry,
    rt: ResourceType,
    current: Entry,
    obj: dict[str, Any],
    opts: WriteOptions,
    *,
    pinned: bool,
    attempt: int,
    subresource: str,
    fm: FieldManager,
    warnings: list[str],
    managed_fields: list[dict[str, Any]] | None = None,
) -> WriteResult | None:
    """`obj` written over `current`; None when another writer won and the caller should read
    its write and merge again."""
    try:
        result = await registry.write_update(
            storage_type(rt),
            current,
            to_storage(rt, obj),
            opts,
            subresource=subresource,
            fm=fm,
            managed_fields=managed_fields,
        )
    except StatusError as exc:
        if retryable_conflict(exc, pinned=pinned, attempt=attempt):
            await registry.cache.sync()  # another writer won: read its write, try again
            return None
        raise
    result.warnings[:0] = warnings
    return result


async def patch(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    patch_bytes: bytes,
    content_type: str,
    opts: WriteOptions,
    *,
    subresource: str = "",
) -> WriteResult:
    """A JSON, merge or strategic-merge patch of the live object, or an apply."""
    if content_type == APPLY_PATCH:
        return await apply(registry, rt, namespace, name, patch_bytes, opts, subresource)
    definition = definition_name(rt.group, rt.version, rt.kind) if rt.crd is None else None
    fm = registry.field_manager(rt, subresource)
    for attempt in range(WRITE_RETRIES):
        current = registry.get(rt, namespace, name)
        original = registry.render_obj(rt, await registry.in_version(rt, current.obj))
        patched = apply_patch(
            original=original,
            patch_bytes=patch_bytes,
            content_type=content_type,
            definition=definition,
            kind=rt.kind,
            name=name,
        )
        if not isinstance(patched, dict):
            raise StatusError.bad_request("the patch did not produce an object")
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        requested_rv = meta.get("resourceVersion") or ""
        if requested_rv and requested_rv != str(current.rev):
            raise StatusError.stale(rt.plural, name, group=rt.group)
        if meta.get("name") != name:
            meta["name"] = name
        registry.check_type(rt, patched)
        warnings = registry.field_check(rt, patched, opts)
        result = await _write_or_retry(
            registry,
            rt,
            current,
            patched,
            opts,
            pinned=bool(requested_rv),
            attempt=attempt,
            subresource=subresource,
            fm=fm,
            warnings=warnings,
        )
        if result is not None:
            return result
    raise StatusError.stale(rt.plural, name, group=rt.group)


async def apply(
    registry: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    body: bytes,
    opts: WriteOptions,
    subresource: str,
) -> WriteResult:
    """Server-side apply: merge the configuration into the live object (or create it)."""
    config = decode_apply_config(rt, namespace, name, body)
    fm = registry.field_manager(rt, subresource)
    for attempt in range(WRITE_RETRIES):
        current = registry.lookup(rt, namespace, name)
        if current is None:
            if subresource:
                raise StatusError.not_found(rt.plural, name, group=rt.group)
            merged, managed, _ = _run_apply(registry, fm, None, config, opts)
            merged.setdefault("metadata", {})["name"] = name
            return await registry.create(rt, namespace, merged, opts, managed_fields=managed)
        live = registry.render_obj(rt, await registry.in_version(rt, current.obj))
        merged, managed, _ = _run_apply(registry, fm, live, config, opts)
        registry.check_type(rt, merged)
        warnings = registry.field_check(rt, merged, opts)
        requested_rv = str((config.get("metadata") or {}).get("resourceVersion") or "")
        if requested_rv and requested_rv != str(current.rev):
            raise StatusError.stale(rt.plural, name, group=rt.group)
        result = await _write_or_retry(
            registry,
            rt,
            current,
            merged,
            opts,
            pinned=bool(requested_rv),
            attempt=attempt,
            subresource=subresource,
            fm=fm,
            warnings=warnings,
            managed_fields=managed,
        )
        if result is not None:
            return result
    raise StatusError.stale(rt.plural, name, group=rt.group)


def _run_apply(
    registry: Registry,
    fm: FieldManager,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    opts: WriteOptions,
) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    try:
        merged, managed, changed = fm.apply(
            live, config, opts.field_manager, registry.now(), force=opts.force
        )
    except TypedError as exc:
        meta = config.get("metadata") or {}
        where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        raise StatusError.bad_request(
            f"failed to create typed patch object ({where}; {gvk_string(config)}): {exc}"
        ) from exc
    # One deep copy: the merge shares sub-values with the live object and the config.
    return orjson.loads(orjson.dumps(merged)), managed, changed
