"""What a write to the registry carries and returns: options, result, and write guards.

Kept apart from the registry so that callers (the API, the controllers, admission) name these
small types without the registry's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from strom.errors import StatusError
from strom.registry.apply import manager_name
from strom.registry.kinds import ResourceType
from strom.user import UserInfo

__all__ = [
    "WRITE_RETRIES",
    "DeleteOptions",
    "WriteGuard",
    "WriteOptions",
    "WriteResult",
    "retryable_conflict",
]

WRITE_RETRIES = 5  # conflicts with concurrent writers retried, as GuaranteedUpdate does


def retryable_conflict(exc: StatusError, *, pinned: bool, attempt: int) -> bool:
    """A conflict with a concurrent writer, retried as GuaranteedUpdate does: not when the
    request pinned the resourceVersion, not an apply's field conflicts (they carry causes),
    and not past the last attempt."""
    if exc.reason != "Conflict" or pinned or attempt + 1 >= WRITE_RETRIES:
        return False
    return exc.details is None or not exc.details.causes


@dataclass(frozen=True, slots=True)
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    user_agent: str = ""
    user: UserInfo | None = None  # who writes (None: strom itself)
    field_manager: str = ""  # ?fieldManager=
    force: bool = False  # ?force=true (apply only)
    # Audit annotations admission adds, shared with the request (its audit event reads them).
    annotations: dict[str, str] = field(default_factory=dict)

    def options(self, kind: str) -> dict[str, Any]:
        """The CreateOptions/UpdateOptions/PatchOptions admission webhooks are shown."""
        out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
        if self.dry_run:
            out["dryRun"] = ["All"]
        if self.field_manager:
            out["fieldManager"] = self.field_manager
        return out

    @property
    def manager(self) -> str:
        """Who the write is recorded for in managedFields (managerOrUserAgent); strom's
        own controllers write as `strom`."""
        name = manager_name(self.field_manager, self.user_agent)
        return name or ("strom" if self.user is None else "")


class WriteGuard(Protocol):
    """A check on who may write what, beyond the authorizer's verb check (RBAC's
    escalation prevention): raises a StatusError (403) to refuse."""

    def check(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: UserInfo | None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    uid: str = ""
    resource_version: str = ""
    propagation_policy: str = ""
    dry_run: bool = False
    user: UserInfo | None = None  # who deletes (None: strom itself)
    annotations: dict[str, str] = field(default_factory=dict)  # admission's, for audit

    def options(self) -> dict[str, Any]:
        """The DeleteOptions admission webhooks are shown."""
        out: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
        if self.grace_period_seconds is not None:
            out["gracePeriodSeconds"] = self.grace_period_seconds
        if self.propagation_policy:
            out["propagationPolicy"] = self.propagation_policy
        if self.dry_run:
            out["dryRun"] = ["All"]
        return out


@dataclass(slots=True)
class WriteResult:
    obj: dict[str, Any]
    created: bool = False
    deleted: bool = False  # the object is gone (delete finished)
    warnings: list[str] = field(default_factory=list)
