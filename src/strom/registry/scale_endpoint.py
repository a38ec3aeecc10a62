"""HTTP-facing scale operations (GET, PUT, PATCH, apply of `/scale`) over the registry; the
Scale view itself is `strom.registry.scale`."""

from __future__ import annotations

from typing import Any

from strom.cache.state import Entry
from strom.errors import StatusError
from strom.mediatypes import APPLY_PATCH
from strom.registry.apply.config import decode_apply_body, gvk_string
from strom.registry.kinds import ResourceType
from strom.registry.patch import apply_patch
from strom.registry.rest import Registry, WriteOptions
from strom.registry.scale import (
    SCALE_API_VERSION,
    ScaleSpec,
    replicas_from_scale,
    scale_of,
    scale_spec,
    with_replicas,
)
from strom.registry.write_options import WRITE_RETRIES, retryable_conflict

__all__ = ["ScaleEndpoint"]

_SCALE_DEFINITION = "io.k8s.api.autoscaling.v1.Scale"


class ScaleEndpoint:
    """GET, PUT and PATCH of `/scale`, written through the registry as an update of the
    parent's replicas (same preconditions, retries and managedFields as any update)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _spec(self, rt: ResourceType) -> ScaleSpec:
        spec = scale_spec(rt)
        if spec is None:
            raise StatusError.no_route()
        return spec

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        entry = self.registry.get(rt, namespace, name)
        return scale_of(rt, self._spec(rt), self.registry.render_obj(rt, entry.obj))

    async def update(
        self, rt: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions
    ) -> dict[str, Any]:
        replicas = replicas_from_scale(body, name)
        rv = str(((body.get("metadata") or {}).get("resourceVersion")) or "")
        current = self.registry.get(rt, namespace, name)
        if rv and rv != str(current.rev):
            raise StatusError.stale(rt.plural, name, group=rt.group)
        return await self._write(rt, current, replicas, opts)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_bytes: bytes,
        content_type: str,
        opts: WriteOptions,
    ) -> dict[str, Any]:
        spec = self._spec(rt)
        for attempt in range(WRITE_RETRIES):
            current = self.registry.get(rt, namespace, name)
            parent = self.registry.render_obj(rt, current.obj)
            managed: list[dict[str, Any]] | None = None
            if content_type == APPLY_PATCH:
                replicas, managed = self._apply(rt, spec, parent, patch_bytes, opts)
            else:
                patched = apply_patch(
                    original=scale_of(rt, spec, parent),
                    patch_bytes=patch_bytes,
                    content_type=content_type,
                    definition=_SCALE_DEFINITION,
                    kind="Scale",
                    name=name,
                )
                replicas = replicas_from_scale(patched, name)
                rv = str(((patched.get("metadata") or {}).get("resourceVersion")) or "")
                if rv and rv != str(current.rev):
                    raise StatusError.stale(rt.plural, name, group=rt.group)
            try:
                return await self._write(rt, current, replicas, opts, managed_fields=managed)
            except StatusError as exc:
                if retryable_conflict(exc, pinned=False, attempt=attempt):
                    await self.registry.cache.sync()
                    continue
                raise
        raise StatusError.stale(rt.plural, name, group=rt.group)

    def _apply(
        self,
        rt: ResourceType,
        spec: ScaleSpec,
        parent: dict[str, Any],
        body: bytes,
        opts: WriteOptions,
    ) -> tuple[int, list[dict[str, Any]]]:
        """An applied Scale becomes an applied parent holding only the replicas, so ownership
        is recorded on the parent's own field paths."""
        name = str((parent.get("metadata") or {}).get("name", ""))
        config = decode_apply_body(body)
        if config.get("apiVersion") != SCALE_API_VERSION or config.get("kind") != "Scale":
            raise StatusError.bad_request(f"invalid object type: {gvk_string(config)}")
        replicas = replicas_from_scale(config, name)
        parent_config = with_replicas(
            spec,
            {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": name}},
            replicas,
        )
        fm = self.registry.field_manager(rt, "scale")
        _, managed, _ = fm.apply(
            parent, parent_config, opts.field_manager, self.registry.now(), force=opts.force
        )
        return replicas, managed

    async def _write(
        self,
        rt: ResourceType,
        current: Entry,
        replicas: int,
        opts: WriteOptions,
        *,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        spec = self._spec(rt)
        registry = self.registry
        parent = with_replicas(spec, registry.render_obj(rt, current.obj), replicas)
        result = await registry.write_subresource(
            rt, current, parent, opts, subresource="scale", managed_fields=managed_fields
        )
        return scale_of(rt, spec, registry.render_obj(rt, result.obj))
