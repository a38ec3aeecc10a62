"""Who may do what: kube's authorizer interface, the union of authorizers, the 403 text.

As in k8s.io/apiserver's `authorizer` package, a decision is a value, not an exception: an
authorizer answers ALLOW, DENY or NO_OPINION with a reason, and the union asks each in turn
until one allows or denies. Nobody allowing means the request is refused; the reasons of
those asked (joined by newlines, as kube's union does) travel into the 403 message, which
is built here and only here.

Authorizers are synchronous on purpose: RBAC is evaluated from objects already in RAM (the
watch cache), so a decision never waits on the store or the network.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from strom.errors import Details, StatusError
from strom.user import MASTERS_GROUP, UserInfo

__all__ = [
    "AlwaysAllow",
    "Attributes",
    "Authorizer",
    "Decision",
    "PrivilegedGroups",
    "Union",
    "forbidden_error",
    "forbidden_message",
]


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a request asks to do (kube's authorizer.AttributesRecord).

    For a resource request `verb` is the API verb (get, list, watch, create, update, patch,
    delete, deletecollection, or a special verb such as impersonate, bind, escalate); for a
    non-resource request it is the lower-case HTTP method and `path` is the URL path.
    """

    user: UserInfo
    verb: str
    resource_request: bool
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        """The decision and why (the reason may be empty)."""
        ...


class AlwaysAllow:
    """`--authorization-mode=AlwaysAllow`: every authenticated request is allowed."""

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class PrivilegedGroups:
    """kube-apiserver allows `system:masters` before any configured mode is asked."""

    def __init__(self, groups: Sequence[str] = (MASTERS_GROUP,)) -> None:
        self._groups = frozenset(groups)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        if self._groups.intersection(attrs.user.groups):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


class Union:
    """kube's union authorizer: the first ALLOW or DENY wins; reasons are joined by "\\n"."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self._authorizers = tuple(authorizers)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons: list[str] = []
        for authorizer in self._authorizers:
            decision, reason = authorizer.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, "\n".join(reasons)


# Go's responsewriters sanitizer: the message may be shown in a browser.
_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(attrs: Attributes) -> str:
    """`User "alice" cannot list resource "secrets" in API group "" in the namespace "x"`."""
    username = attrs.user.username
    if not attrs.resource_request:
        return f'User "{username}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource
    if attrs.subresource:
        resource = f"{resource}/{attrs.subresource}"
    if attrs.namespace:
        return (
            f'User "{username}" cannot {attrs.verb} resource "{resource}" in API group'
            f' "{attrs.api_group}" in the namespace "{attrs.namespace}"'
        )
    return (
        f'User "{username}" cannot {attrs.verb} resource "{resource}" in API group'
        f' "{attrs.api_group}" at the cluster scope'
    )


def forbidden_error(attrs: Attributes, reason: str) -> StatusError:
    """The 403 `Status` kube-apiserver answers for a request nobody allowed."""
    message = forbidden_message(attrs).translate(_SANITIZE)
    if reason:
        message = f"{message}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return StatusError(403, "Forbidden", f"forbidden: {message}", Details())
    return StatusError.forbidden(attrs.resource, attrs.name, message, group=attrs.api_group)
