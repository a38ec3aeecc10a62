"""RBAC's view of the cluster: a `PolicySnapshot` of every Role and binding, kept from the
watch cache so that authorizing a request never reads the store.

The store's change feed marks the snapshot stale when an RBAC object changes; the next
request rebuilds it from the cache's live objects (which already hold the change: the cache
subscribed first, and listeners run in order). A burst of RBAC writes costs one rebuild, and
a rule change applies from the very next request on, as in kube (whose RBAC authorizer reads
informer caches, with a short delay strom does not have).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from strom.auth.rbac import PolicySnapshot
from strom.cache.state import StateCache
from strom.storage.base import Change

__all__ = ["RBAC_PREFIX", "CachedPolicy"]

RBAC_PREFIX = "/registry/rbac.authorization.k8s.io/"
_ROLES = RBAC_PREFIX + "roles/"
_CLUSTER_ROLES = RBAC_PREFIX + "clusterroles/"
_ROLE_BINDINGS = RBAC_PREFIX + "rolebindings/"
_CLUSTER_ROLE_BINDINGS = RBAC_PREFIX + "clusterrolebindings/"


class CachedPolicy:
    """The current PolicySnapshot: call it."""

    def __init__(self, cache: StateCache) -> None:
        self._cache = cache
        self._snapshot: PolicySnapshot | None = None
        self.rebuilds = 0
        cache.store.subscribe(self._on_changes)

    def _on_changes(self, changes: Sequence[Change]) -> None:
        if self._snapshot is None:
            return
        for change in changes:
            if change.key.startswith(RBAC_PREFIX):
                self._snapshot = None
                return

    def __call__(self) -> PolicySnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = PolicySnapshot.build(
                self._objects(_ROLES),
                self._objects(_CLUSTER_ROLES),
                self._objects(_ROLE_BINDINGS),
                self._objects(_CLUSTER_ROLE_BINDINGS),
            )
            self.rebuilds += 1
        return snapshot

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        state = self._cache.state(prefix)
        if state is None:
            return iter(())
        return (entry.obj for entry in state.entries.values())
