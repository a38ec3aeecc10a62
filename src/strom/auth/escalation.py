"""RBAC escalation prevention: nobody grants through a Role or binding what they do not hold.

As kube's policy-based RBAC storage (`pkg/registry/rbac/role/policybased`, `clusterrole/…`,
`rolebinding/…`, `clusterrolebinding/…`):
- a Role or ClusterRole may be written by a user who holds every rule it grants, or who may
  `escalate` on roles/clusterroles; an `aggregationRule` needs full authority (`*` on `*`);
- a binding may be written by a user who may `bind` the role it references, or who holds
  every rule of that role (in the binding's namespace);
- `system:masters` and strom's own writes (no user) are not checked.
An update that changes only what the garbage collector writes (ownerReferences,
finalizers) is not checked either, as in kube (`IsOnlyMutatingGCFields`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.auth.authz import Attributes, Authorizer, Decision
from strom.auth.rbac import (
    AGGREGATION_RULE_MESSAGE,
    FULL_AUTHORITY,
    RBAC_GROUP,
    PolicySnapshot,
    bind_attributes,
    confirm_no_escalation,
    escalate_attributes,
    escalation_allowed,
    has_aggregation_rule,
    only_gc_fields_changed,
    role_ref_rules,
)
from strom.errors import StatusError
from strom.registry.kinds import ResourceType
from strom.user import UserInfo

__all__ = ["EscalationGuard"]

_ROLE_RESOURCES = {"roles", "clusterroles"}
_BINDING_RESOURCES = {"rolebindings", "clusterrolebindings"}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


class EscalationGuard:
    """A registry write guard (see `strom.registry.rest.WriteGuard`)."""

    def __init__(self, *, authorizer: Authorizer, policy: Callable[[], PolicySnapshot]) -> None:
        self._authorizer = authorizer
        self._policy = policy

    def check(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: UserInfo | None,
    ) -> None:
        if rt.group != RBAC_GROUP or user is None or escalation_allowed(user):
            return
        if rt.plural not in _ROLE_RESOURCES and rt.plural not in _BINDING_RESOURCES:
            return
        if old is not None and only_gc_fields_changed(obj, old):
            return
        meta = _meta(obj)
        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "") if rt.namespaced else ""
        if rt.plural in _ROLE_RESOURCES:
            self._check_role(rt, obj, user, name, namespace)
        else:
            self._check_binding(rt, obj, user, name, namespace)

    def _allows(self, attrs: Attributes | None) -> bool:
        return attrs is not None and self._authorizer.authorize(attrs)[0] is Decision.ALLOW

    def _check_role(
        self, rt: ResourceType, obj: dict[str, Any], user: UserInfo, name: str, namespace: str
    ) -> None:
        if self._allows(escalate_attributes(user, rt.plural, name, namespace)):
            return
        snapshot = self._policy()
        problem = confirm_no_escalation(snapshot, user, namespace, obj.get("rules") or [])
        if problem is not None:
            raise StatusError.forbidden(rt.plural, name, problem, group=RBAC_GROUP)
        if (
            rt.plural == "clusterroles"
            and has_aggregation_rule(obj)
            and confirm_no_escalation(snapshot, user, "", FULL_AUTHORITY) is not None
        ):
            raise StatusError.forbidden(rt.plural, name, AGGREGATION_RULE_MESSAGE, group=RBAC_GROUP)

    def _check_binding(
        self, rt: ResourceType, obj: dict[str, Any], user: UserInfo, name: str, namespace: str
    ) -> None:
        ref = obj.get("roleRef")
        if not isinstance(ref, dict):
            return  # validation answers for a malformed roleRef
        if self._allows(bind_attributes(user, ref, namespace)):
            return
        snapshot = self._policy()
        rules, error = role_ref_rules(snapshot, ref, namespace)
        if error is not None:
            if error.not_found:
                raise StatusError.not_found(error.resource, error.name, group=RBAC_GROUP)
            return  # an unsupported roleRef kind: validation refuses it
        problem = confirm_no_escalation(snapshot, user, namespace, rules)
        if problem is not None:
            raise StatusError.forbidden(rt.plural, name, problem, group=RBAC_GROUP)
