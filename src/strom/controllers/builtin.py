"""The controllers a real cluster runs that an API server alone must do itself.

strom runs without kube-controller-manager, so these live here:
- namespaces: every namespace gets its `default` ServiceAccount and `kube-root-ca.crt`
  ConfigMap; a deleted namespace is emptied, then removed (the namespace controller's job).
- CRDs: an established CRD's resources join the type table and the cache; a deleted CRD's
  custom resources are removed before the CRD goes (apiextensions' finalizer).
- garbage collection of dependents by ownerReferences (`garbage_collector.py`).
Each controller is one task fed by the change feed through a set of pending names: a name
queued twice is worked once, so the queue is bounded by the number of objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from strom.cache.state import StateCache
from strom.controllers.apf_bootstrap import ensure_apf_bootstrap
from strom.controllers.garbage_collector import GarbageCollector
from strom.controllers.leader import LeaderElection
from strom.controllers.queue import WorkQueue, drain
from strom.controllers.service_ips import ServiceIPs
from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import DeleteOptions, Registry, WriteOptions
from strom.registry.strategies import CRD_CLEANUP_FINALIZER
from strom.registry.types import TypeTable, types_from_crd
from strom.storage.base import Change, ChangeType

NAMESPACE_FINALIZER = "kubernetes"  # spec.finalizers entry strom itself clears

__all__ = ["SYSTEM_NAMESPACES", "Controllers"]

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _builtin(plural: str, group: str = "") -> ResourceType:
    return next(t for t in BUILTIN if t.plural == plural and t.group == group)


NAMESPACES = _builtin("namespaces")
SERVICE_ACCOUNTS = _builtin("serviceaccounts")
CONFIG_MAPS = _builtin("configmaps")
CRDS = _builtin("customresourcedefinitions", "apiextensions.k8s.io")


class Controllers:
    """Owns the controller tasks; `start` launches them, `stop` cancels and awaits them."""

    def __init__(
        self,
        *,
        registry: Registry,
        cache: StateCache,
        types: TypeTable,
        ca_pem: bytes,
        leader_election: bool = False,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.types = types
        self.ca_pem = ca_pem
        self._namespaces = WorkQueue()
        self._crds = WorkQueue()
        # With several replicas on one etcd, one of them collects garbage (a Lease).
        self.leader = LeaderElection(registry=registry, enabled=leader_election)
        self.gc = GarbageCollector(
            registry=registry, cache=cache, types=types, is_leader=lambda: self.leader.leading
        )
        self.leader.on_started_leading = self.gc.resync
        self.service_ips = ServiceIPs(
            registry=registry,
            cache=cache,
            cidrs=[str(n) for n in registry.cluster_ips.networks],
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Bootstrap system namespaces and serve existing CRDs, then follow changes."""
        self.registry.store.subscribe(self._on_changes)
        self.registry.store.subscribe(self.gc.on_changes)
        self.registry.store.subscribe(self.service_ips.on_changes)
        for entry in list(self._state(CRDS).entries.values()):
            await self._sync_crd(entry.obj["metadata"]["name"])
        self.gc.load()
        for name in SYSTEM_NAMESPACES:
            if self.registry.lookup(NAMESPACES, "", name) is None:
                await self.registry.create_system(NAMESPACES, "", {"metadata": {"name": name}})
        await ensure_apf_bootstrap(self.registry)
        await self.service_ips.start()
        for entry in list(self._state(NAMESPACES).entries.values()):
            self._namespaces.add(entry.obj["metadata"]["name"])
        self._tasks = [
            asyncio.create_task(drain(self._namespaces, self._sync_namespace), name="ns-ctl"),
            asyncio.create_task(drain(self._crds, self._sync_crd), name="crd-ctl"),
            asyncio.create_task(drain(self.gc.items, self.gc.sync_item), name="gc-dependents"),
            asyncio.create_task(drain(self.gc.owners, self.gc.sync_owner), name="gc-owners"),
            asyncio.create_task(self.leader.run(), name="leader-election"),
            asyncio.create_task(
                drain(self.service_ips.items, self.service_ips.sync_service), name="service-ips"
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _state(self, rt: ResourceType) -> Any:
        state = self.cache.state(rt.key_prefix)
        assert state is not None, rt.key_prefix
        return state

    def _on_changes(self, changes: Sequence[Change]) -> None:
        ns_prefix = NAMESPACES.key_prefix
        crd_prefix = CRDS.key_prefix
        for change in changes:
            if change.key.startswith(ns_prefix):
                self._namespaces.add(change.key[len(ns_prefix) :])
            elif change.key.startswith(crd_prefix):
                self._crds.add(change.key[len(crd_prefix) :])

    # --- namespaces ----------------------------------------------------------------------
    async def _sync_namespace(self, name: str) -> bool:
        """Returns True when the namespace needs another pass later."""
        entry = self.registry.lookup(NAMESPACES, "", name)
        if entry is None:
            return False
        meta = entry.obj.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            await self._ensure_namespace_content(name)
            return False
        remaining = await self._empty_namespace(name)
        if remaining:
            return True
        finalizers = list((entry.obj.get("spec") or {}).get("finalizers") or ())
        if NAMESPACE_FINALIZER in finalizers:
            # The namespace is empty: strom's part is done, through finalize as kube's
            # namespace controller does it. The write requeues this namespace.
            body = self.registry.render_obj(NAMESPACES, entry.obj)
            body["spec"]["finalizers"] = [f for f in finalizers if f != NAMESPACE_FINALIZER]
            try:
                await self.registry.finalize(NAMESPACES, name, body, WriteOptions())
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
                return True
            return False
        if finalizers or meta.get("finalizers"):
            return False  # someone else's finalizer holds it; their removal requeues us
        await self.registry.remove(entry.key, entry.rev)
        return False

    async def _ensure_namespace_content(self, namespace: str) -> None:
        if self.registry.lookup(SERVICE_ACCOUNTS, namespace, "default") is None:
            await self._create_quietly(
                SERVICE_ACCOUNTS, namespace, {"metadata": {"name": "default"}}
            )
        if self.registry.lookup(CONFIG_MAPS, namespace, "kube-root-ca.crt") is None:
            await self._create_quietly(
                CONFIG_MAPS,
                namespace,
                {
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "annotations": {
                            "kubernetes.io/description": (
                                "Contains a CA bundle that can be used to verify the"
                                " kube-apiserver when using internal endpoints such as the"
                                " internal service IP or kubernetes.default.svc. No other"
                                " usage is guaranteed across distributions of Kubernetes"
                                " clusters."
                            )
                        },
                    },
                    "data": {"ca.crt": self.ca_pem.decode()},
                },
            )

    async def _create_quietly(self, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> None:
        try:
            await self.registry.create_system(rt, namespace, obj)
        except StatusError as exc:
            # A namespace that started terminating meanwhile refuses new content: fine.
            if exc.code != 403:
                raise

    async def _empty_namespace(self, namespace: str) -> int:
        """Delete everything in the namespace; how many objects are still there."""
        remaining = 0
        seen: set[str] = set()
        for rt in self.types.all():
            if not rt.namespaced or rt.key_prefix in seen or "delete" not in rt.verbs:
                continue
            seen.add(rt.key_prefix)
            state = self.cache.state(rt.key_prefix)
            if state is None:
                continue
            for entry in list(state.scan(rt.prefix_for(namespace))):
                remaining += 1
                if (entry.obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                with contextlib.suppress(StatusError):
                    result = await self.registry.delete(
                        rt,
                        namespace,
                        entry.obj["metadata"]["name"],
                        DeleteOptions(grace_period_seconds=0),
                    )
                    if result.deleted:
                        remaining -= 1
        return remaining

    # --- CRDs ----------------------------------------------------------------------------
    async def _sync_crd(self, name: str) -> bool:
        entry = self.registry.lookup(CRDS, "", name)
        if entry is None:
            self.types.remove_crd(name, self.cache.rev)
            return False
        crd = entry.obj
        meta = crd.get("metadata") or {}
        served = types_from_crd(crd)
        if served:
            await self.cache.add_prefix(served[0].key_prefix, namespaced=served[0].namespaced)
        if meta.get("deletionTimestamp"):
            self.types.remove_crd(name, entry.rev)
            return await self._finish_crd_deletion(entry.obj, entry.key, entry.rev)
        self.types.set_crd(name, served, entry.rev)
        return False

    async def _finish_crd_deletion(self, crd: dict[str, Any], key: str, rev: int) -> bool:
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        prefix = f"/registry/{group}/{plural}/"
        state = self.cache.state(prefix)
        if state is not None:
            for item in list(state.scan(prefix)):
                await self.registry.remove(item.key, item.rev)
        finalizers = [
            f for f in crd["metadata"].get("finalizers") or () if f != CRD_CLEANUP_FINALIZER
        ]
        if len(finalizers) == len(crd["metadata"].get("finalizers") or ()):
            return False
        updated = self.registry.render_obj(CRDS, crd)
        updated["metadata"]["finalizers"] = finalizers
        try:
            await self.registry.update(
                CRDS, "", crd["metadata"]["name"], updated, WriteOptions(field_validation="Ignore")
            )
        except StatusError as exc:
            return exc.code != 404  # retry unless the CRD is already gone
        del key, rev
        return False


def is_delete(change: Change) -> bool:
    return change.type is ChangeType.DELETE
