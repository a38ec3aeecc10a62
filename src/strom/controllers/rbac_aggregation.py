"""ClusterRole aggregation, as kube-controller-manager's clusterrole-aggregation controller.

A ClusterRole with an `aggregationRule` owns no rules of its own: its rules are the union of
the rules of every ClusterRole its `clusterRoleSelectors` select (itself excepted), taken in
name order with duplicates dropped. Any ClusterRole change may change what an aggregated role
selects, so each one requeues every aggregated role; a sync writes only when the union differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Sequence
from typing import Any

from strom.cache.state import StateCache
from strom.controllers.queue import WorkQueue, drain
from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import Registry, WriteOptions
from strom.selectors import label_selector_from_object
from strom.storage.base import Change

__all__ = ["CLUSTER_ROLES", "ClusterRoleAggregation", "aggregated_rules"]

CLUSTER_ROLES: ResourceType = next(
    t for t in BUILTIN if t.plural == "clusterroles" and t.group == "rbac.authorization.k8s.io"
)
_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def _normal(rule: Any) -> dict[str, Any]:
    """A rule as Go compares it semantically: empty and missing lists are the same."""
    if not isinstance(rule, dict):
        return {}
    return {f: list(rule[f]) for f in _RULE_FIELDS if rule.get(f)}


def aggregated_rules(role: dict[str, Any], all_roles: Sequence[dict[str, Any]]) -> list[Any]:
    """The rules `role`'s aggregationRule gathers from `all_roles`."""
    name = (role.get("metadata") or {}).get("name", "")
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    picked: list[dict[str, Any]] = []
    for selector in selectors:
        if not isinstance(selector, dict):
            continue
        try:
            matcher = label_selector_from_object(selector)
        except StatusError:
            continue  # validation refuses such selectors; an old object may still hold one
        picked.extend(
            other
            for other in all_roles
            if matcher.matches((other.get("metadata") or {}).get("labels") or {})
        )
    picked.sort(key=lambda r: (r.get("metadata") or {}).get("name", ""))
    rules: list[dict[str, Any]] = []
    for other in picked:
        if (other.get("metadata") or {}).get("name") == name:
            continue
        for rule in other.get("rules") or []:
            normal = _normal(rule)
            if normal not in rules:
                rules.append(normal)
    return rules


class ClusterRoleAggregation:
    def __init__(self, *, registry: Registry, cache: StateCache) -> None:
        self.registry = registry
        self.cache = cache
        self._queue = WorkQueue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.registry.store.subscribe(self._on_changes)
        self._queue_all()
        self._task = asyncio.create_task(drain(self._queue, self._sync), name="rbac-aggregation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _roles(self) -> list[dict[str, Any]]:
        state = self.cache.state(CLUSTER_ROLES.key_prefix)
        return [] if state is None else [e.obj for e in state.entries.values()]

    def _queue_all(self) -> None:
        for role in self._roles():
            if role.get("aggregationRule"):
                self._queue.add(role["metadata"]["name"])

    def _on_changes(self, changes: Sequence[Change]) -> None:
        prefix = CLUSTER_ROLES.key_prefix
        if any(c.key.startswith(prefix) for c in changes):
            self._queue_all()

    async def _sync(self, name: str) -> bool:
        entry = self.registry.lookup(CLUSTER_ROLES, "", name)
        if entry is None or not entry.obj.get("aggregationRule"):
            return False
        wanted = aggregated_rules(entry.obj, self._roles())
        if [_normal(r) for r in entry.obj.get("rules") or []] == wanted:
            return False
        updated = copy.deepcopy(entry.obj)
        updated["rules"] = wanted
        try:
            await self.registry.update(
                CLUSTER_ROLES, "", name, updated, WriteOptions(field_validation="Ignore")
            )
        except StatusError as exc:
            if exc.code == 404:
                return False
            return exc.code == 409  # changed meanwhile: look again
        return False
