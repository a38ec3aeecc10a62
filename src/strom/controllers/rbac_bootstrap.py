"""The RBAC bootstrap policy, reconciled at start-up as kube-apiserver's rbac/bootstrap-roles
post-start hook does: missing roles and bindings are created, those marked
`rbac.authorization.kubernetes.io/autoupdate: "true"` get missing rules, subjects, labels and
annotations added, and those a user set to "false" are left alone.

Several strom replicas on one etcd may reconcile at once: a create that finds the object
already there, or an update that lost a race, is simply looked at again.
"""

from __future__ import annotations

import logging
from typing import Any

from strom.auth import bootstrap_policy
from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import DeleteOptions, Registry, WriteOptions

__all__ = ["reconcile_bootstrap_policy"]

log = logging.getLogger(__name__)

_RBAC = {rt.plural: rt for rt in BUILTIN if rt.group == "rbac.authorization.k8s.io"}
_ATTEMPTS = 5
_OPTS = WriteOptions(field_validation="Ignore")


async def reconcile_bootstrap_policy(registry: Registry) -> int:
    """Reconcile every bootstrap object; returns how many were written."""
    policy = bootstrap_policy.load()
    written = 0
    for plural, objects in (
        ("clusterroles", policy.cluster_roles),
        ("clusterrolebindings", policy.cluster_role_bindings),
        ("roles", policy.roles),
        ("rolebindings", policy.role_bindings),
    ):
        for expected in objects:
            written += await _reconcile_one(registry, _RBAC[plural], expected)
    return written


async def _reconcile_one(registry: Registry, rt: ResourceType, expected: dict[str, Any]) -> int:
    meta = expected["metadata"]
    name, namespace = meta["name"], meta.get("namespace", "")
    binding = rt.plural.endswith("bindings")
    for _ in range(_ATTEMPTS):
        entry = registry.lookup(rt, namespace, name)
        existing = None if entry is None else entry.obj
        try:
            if binding:
                result = bootstrap_policy.reconcile_binding(existing, expected)
                if result is None:
                    return 0
                if result.recreate and entry is not None:
                    await registry.delete(
                        rt, namespace, name, DeleteOptions(uid=entry.obj["metadata"]["uid"])
                    )
                    existing = None
                obj = result.obj
            else:
                found = bootstrap_policy.reconcile_role(existing, expected)
                if found is None:
                    return 0
                obj = found
            if existing is None:
                await registry.create(rt, namespace, obj, _OPTS)
            else:
                await registry.update(rt, namespace, name, obj, _OPTS)
            return 1
        except StatusError as exc:
            if exc.code not in (404, 409):  # another replica got there first: look again
                raise
            await registry.cache.sync()
    log.warning("bootstrap policy: gave up reconciling %s %s/%s", rt.kind, namespace, name)
    return 0
