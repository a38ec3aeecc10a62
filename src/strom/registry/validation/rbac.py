"""rbac.authorization.k8s.io/v1 validation: the rules of Roles, the roleRef and subjects of
bindings (the checks are in `rbac_checks`, shared with the authorizer; here they become causes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.errors import Cause
from strom.registry.validation.rbac_checks import (
    FieldError,
    validate_binding,
    validate_role,
    validate_role_ref_update,
)

__all__ = [
    "validate_binding_update",
    "validate_cluster_binding",
    "validate_cluster_binding_update",
    "validate_cluster_role",
    "validate_namespaced_binding",
    "validate_namespaced_role",
]

_Obj = Mapping[str, Any]


def _causes(errors: list[FieldError]) -> list[Cause]:
    return [Cause(reason, message, path) for reason, path, message in errors]


def validate_namespaced_role(obj: _Obj) -> list[Cause]:
    return _causes(validate_role(obj, cluster=False))


def validate_cluster_role(obj: _Obj) -> list[Cause]:
    return _causes(validate_role(obj, cluster=True))


def validate_namespaced_binding(obj: _Obj) -> list[Cause]:
    return _causes(validate_binding(obj, cluster=False))


def validate_cluster_binding(obj: _Obj) -> list[Cause]:
    return _causes(validate_binding(obj, cluster=True))


def _ref(obj: _Obj) -> _Obj:
    ref = obj.get("roleRef")
    return ref if isinstance(ref, dict) else {}


def validate_binding_update(new: _Obj, old: _Obj) -> list[Cause]:
    return validate_namespaced_binding(new) + _causes(
        validate_role_ref_update(_ref(new), _ref(old))
    )


def validate_cluster_binding_update(new: _Obj, old: _Obj) -> list[Cause]:
    return validate_cluster_binding(new) + _causes(validate_role_ref_update(_ref(new), _ref(old)))
