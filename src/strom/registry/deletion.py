"""DELETE in the registry: preconditions, admission, grace periods, and the finalizers of the
propagation policies the garbage collector works off (`orphan`, `foregroundDeletion`).

An object without finalizers, grace period or policy finalizer goes at once; otherwise it
gets its deletionTimestamp and stays until its finalizers are gone (the update path then
finishes the deletion). Works on the registry through `RegistryView`, the little it needs.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from strom.cache.state import Entry, StateCache
from strom.errors import StatusError
from strom.registry.hooks import Admission, AdmissionRequest
from strom.registry.kinds import ResourceType
from strom.registry.strategies import Strategy
from strom.registry.write_options import WRITE_RETRIES, DeleteOptions, WriteResult
from strom.storage.base import Conflict, KeyNotFound, Store

__all__ = ["RegistryView", "delete", "is_namespace"]

# DeleteOptions.propagationPolicy -> the finalizer that makes the garbage collector act first.
POLICY_FINALIZERS = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}


class RegistryView(Protocol):
    store: Store
    cache: StateCache
    admission: Admission | None

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry: ...

    def strategy(self, rt: ResourceType) -> Strategy: ...


def _default_policy(rt: ResourceType) -> str:
    """The policy of a DELETE that names none: ReplicationControllers in core/v1 orphan their
    pods (kept for compatibility, as kube's rcStrategy says), everything else background."""
    if rt.group == "" and rt.plural == "replicationcontrollers":
        return "Orphan"
    return "Background"


async def delete(
    registry: RegistryView, rt: ResourceType, namespace: str, name: str, opts: DeleteOptions
) -> WriteResult:
    for _ in range(WRITE_RETRIES):
        current = registry.get(rt, namespace, name)
        try:
            return await _delete_once(registry, rt, current, opts)
        except StatusError as exc:
            if exc.reason != "Conflict" or opts.resource_version:
                raise
            await registry.cache.sync()
    raise StatusError.stale(rt.plural, name, group=rt.group)


async def _delete_once(
    registry: RegistryView, rt: ResourceType, current: Entry, opts: DeleteOptions
) -> WriteResult:
    old = current.obj
    meta = old.get("metadata") or {}
    name = meta.get("name", "")
    if opts.uid and opts.uid != meta.get("uid"):
        raise StatusError.conflict(
            rt.plural,
            name,
            f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta:"
            f" {meta.get('uid', '')}",
            group=rt.group,
        )
    if opts.resource_version and opts.resource_version != str(current.rev):
        raise StatusError.conflict(
            rt.plural,
            name,
            "Precondition failed: ResourceVersion in precondition:"
            f" {opts.resource_version}, ResourceVersion in object meta: {current.rev}",
            group=rt.group,
        )
    request = AdmissionRequest(
        rt,
        "DELETE",
        meta.get("namespace", ""),
        name,
        None,
        old,
        opts.user,
        opts.dry_run,
        options=opts.options(),
        annotations=opts.annotations,
    )
    if registry.admission is not None:
        await registry.admission.mutate(request)
        await registry.admission.validate(request)
    graceful = _grace_seconds(rt, old, opts)
    finalizer = None
    if not is_namespace(rt):
        finalizer = POLICY_FINALIZERS.get(opts.propagation_policy or _default_policy(rt))
    if meta.get("finalizers") or graceful or finalizer or is_namespace(rt):
        return await _mark_deleting(registry, rt, current, graceful, opts, finalizer=finalizer)
    if opts.dry_run:
        return WriteResult(old, deleted=True)
    try:
        kv = await registry.store.delete(current.key, expected_rev=current.rev)
    except Conflict as exc:
        raise StatusError.stale(rt.plural, name, group=rt.group) from exc
    except KeyNotFound as exc:
        raise StatusError.not_found(rt.plural, name, group=rt.group) from exc
    return WriteResult(kv.obj, deleted=True)


def is_namespace(rt: ResourceType) -> bool:
    return rt.group == "" and rt.plural == "namespaces"


def _grace_seconds(rt: ResourceType, obj: dict[str, Any], opts: DeleteOptions) -> int:
    """Pods bound to a node wait for their kubelet; everything else goes at once."""
    if not (rt.group == "" and rt.plural == "pods"):
        return 0
    spec = obj.get("spec") or {}
    if not spec.get("nodeName"):
        return 0
    phase = (obj.get("status") or {}).get("phase")
    if phase in ("Failed", "Succeeded"):
        return 0
    if opts.grace_period_seconds is not None:
        return max(0, opts.grace_period_seconds)
    return int(spec.get("terminationGracePeriodSeconds", 30))


async def _mark_deleting(
    registry: RegistryView,
    rt: ResourceType,
    current: Entry,
    grace: int,
    opts: DeleteOptions,
    *,
    finalizer: str | None = None,
) -> WriteResult:
    """Set deletionTimestamp (and the propagation policy's finalizer, `orphan` or
    `foregroundDeletion`, which the garbage collector works off)."""
    old = current.obj
    old_meta = old.get("metadata") or {}
    finalizers = list(old_meta.get("finalizers") or ())
    adds = finalizer is not None and finalizer not in finalizers
    if old_meta.get("deletionTimestamp") and not adds:
        return WriteResult(old)  # already being deleted: nothing changes
    obj = copy.deepcopy(old)
    meta = obj["metadata"]
    if adds:
        # One policy at a time: the new one replaces the other's finalizer.
        meta["finalizers"] = [f for f in finalizers if f not in POLICY_FINALIZERS.values()]
        meta["finalizers"].append(finalizer)
    if old_meta.get("deletionTimestamp"):
        return await _store_deleting(registry, rt, current, obj, opts)
    when = datetime.now(UTC) + timedelta(seconds=grace)
    meta["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    meta["deletionGracePeriodSeconds"] = grace
    if registry.strategy(rt).has_generation:
        meta["generation"] = int(meta.get("generation") or 1) + 1
    if is_namespace(rt):
        obj.setdefault("status", {})["phase"] = "Terminating"
    return await _store_deleting(registry, rt, current, obj, opts)


async def _store_deleting(
    registry: RegistryView,
    rt: ResourceType,
    current: Entry,
    obj: dict[str, Any],
    opts: DeleteOptions,
) -> WriteResult:
    meta = obj["metadata"]
    if opts.dry_run:
        return WriteResult(obj)
    try:
        kv = await registry.store.update(current.key, obj, expected_rev=current.rev)
    except Conflict as exc:
        raise StatusError.stale(rt.plural, meta.get("name", ""), group=rt.group) from exc
    return WriteResult(kv.obj)
