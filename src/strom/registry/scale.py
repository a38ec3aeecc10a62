"""The `scale` subresource: an autoscaling/v1 `Scale` view of a workload's replicas.

Deployments, ReplicaSets and StatefulSets (`spec.replicas`, a LabelSelector), ReplicationControllers
(`spec.replicas`, a selector map) and custom resources whose CRD declares
`subresources.scale` (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`) answer
GET, PUT and PATCH on `/scale`; a write changes the replicas and nothing else, and is recorded
in the parent's managedFields with `subresource: scale` (kube's ScaleHandler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strom.errors import Cause, StatusError
from strom.mediatypes import APPLY_PATCH
from strom.registry.apply.config import decode_apply_body, gvk_string
from strom.registry.kinds import ResourceType
from strom.registry.patch import apply_patch
from strom.registry.tables._format import format_labels, selector_string

if TYPE_CHECKING:
    from strom.cache.state import Entry
    from strom.registry.rest import Registry, WriteOptions

__all__ = [
    "ScaleEndpoint",
    "ScaleSpec",
    "replicas_from_scale",
    "scale_of",
    "scale_spec",
    "with_replicas",
]

SCALE_API_VERSION = "autoscaling/v1"
_SCALE_DEFINITION = "io.k8s.api.autoscaling.v1.Scale"
_RETRIES = 5


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    spec_replicas: tuple[str, ...]
    status_replicas: tuple[str, ...]
    label_selector: tuple[str, ...] | None
    selector_is_map: bool = False  # ReplicationController's spec.selector


def _path(text: str) -> tuple[str, ...]:
    """A CRD scale path (`.spec.replicas`): the field names it walks."""
    return tuple(part for part in text.strip().lstrip(".").split(".") if part)


def scale_spec(rt: ResourceType) -> ScaleSpec | None:
    if "scale" not in rt.subresources:
        return None
    if rt.crd is not None:
        scale = ((rt.crd.get("subresources") or {}).get("scale")) or {}
        selector = scale.get("labelSelectorPath")
        return ScaleSpec(
            _path(str(scale.get("specReplicasPath") or ".spec.replicas")),
            _path(str(scale.get("statusReplicasPath") or ".status.replicas")),
            _path(str(selector)) if selector else None,
        )
    if rt.group == "" and rt.plural == "replicationcontrollers":
        return ScaleSpec(("spec", "replicas"), ("status", "replicas"), ("spec", "selector"), True)
    return ScaleSpec(("spec", "replicas"), ("status", "replicas"), ("spec", "selector"))


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def scale_of(rt: ResourceType, spec: ScaleSpec, obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale of an object (scaleFromDeployment and its siblings)."""
    meta = obj.get("metadata") or {}
    out_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    replicas = _get(obj, spec.spec_replicas)
    scale_spec_out: dict[str, Any] = {}
    if rt.crd is None:
        # The typed field's default (1) has been applied; omitempty drops a zero.
        if replicas:
            scale_spec_out["replicas"] = replicas
    elif isinstance(replicas, int):
        scale_spec_out["replicas"] = replicas
    status_replicas = _get(obj, spec.status_replicas)
    status: dict[str, Any] = {
        "replicas": status_replicas if isinstance(status_replicas, int) else 0
    }
    if spec.label_selector is not None:
        selector = _get(obj, spec.label_selector)
        if rt.crd is not None:
            text = selector if isinstance(selector, str) else ""
        elif spec.selector_is_map:
            text = format_labels(selector) if selector else ""
        else:
            text = selector_string(selector) or ""
        if text:
            status["selector"] = text
    return {
        "kind": "Scale",
        "apiVersion": SCALE_API_VERSION,
        "metadata": out_meta,
        "spec": scale_spec_out,
        "status": status,
    }


def replicas_from_scale(scale: Any, name: str) -> int:
    """The replicas a Scale asks for, checked as ValidateScale checks them."""
    if not isinstance(scale, dict):
        raise StatusError.bad_request("the object provided is unrecognized (must be of type Scale)")
    kind, api_version = scale.get("kind"), scale.get("apiVersion")
    if kind not in (None, "", "Scale") or api_version not in (None, "", SCALE_API_VERSION):
        raise StatusError.bad_request(
            f'{kind} in version "{str(api_version).rpartition("/")[2]}" cannot be handled as a'
            " Scale: the object provided is unrecognized (must be of type Scale)"
        )
    meta = scale.get("metadata") or {}
    if not isinstance(meta, dict):
        raise StatusError.bad_request("metadata must be an object")
    body_name = meta.get("name")
    if body_name not in (None, "", name):
        raise StatusError.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    spec = scale.get("spec") or {}
    replicas = spec.get("replicas", 0) if isinstance(spec, dict) else 0
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise StatusError.bad_request(
            "json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise StatusError.invalid(
            "Scale",
            name,
            [
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "spec.replicas",
                )
            ],
            group="autoscaling",
        )
    return int(replicas)


def with_replicas(spec: ScaleSpec, obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    """A copy of the parent with its replicas path set (intermediate maps created)."""
    out = dict(obj)
    node = out
    for name in spec.spec_replicas[:-1]:
        child = node.get(name)
        child = dict(child) if isinstance(child, dict) else {}
        node[name] = child
        node = child
    node[spec.spec_replicas[-1]] = replicas
    return out


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
        for attempt in range(_RETRIES):
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
                retry = exc.reason == "Conflict" and not (exc.details and exc.details.causes)
                if retry and attempt + 1 < _RETRIES:
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
