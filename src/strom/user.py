"""Who is asking (k8s.io/apiserver/pkg/authentication/user): the identity every layer may
name — the registry records it, audit logs it, authentication makes it, RBAC judges it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ALL_AUTHENTICATED",
    "ALL_UNAUTHENTICATED",
    "ANONYMOUS",
    "ANONYMOUS_USER",
    "MASTERS_GROUP",
    "UserInfo",
    "user_info_dict",
]

ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
MASTERS_GROUP = "system:masters"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The authenticated identity (k8s.io/apiserver user.Info)."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def user_info_dict(user: UserInfo) -> dict[str, object]:
    """authentication.k8s.io/v1 UserInfo as JSON (empty fields omitted): audit events,
    SelfSubjectReview and TokenReview all carry it."""
    out: dict[str, object] = {}
    if user.username:
        out["username"] = user.username
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


ANONYMOUS = UserInfo(username=ANONYMOUS_USER, groups=(ALL_UNAUTHENTICATED,))
