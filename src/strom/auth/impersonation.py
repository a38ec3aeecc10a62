"""Acting as someone else: kube-apiserver's `Impersonate-*` headers.

A caller sends `Impersonate-User` (optionally with `Impersonate-Group`, `Impersonate-Uid`
and `Impersonate-Extra-<key>` headers) and, if it may `impersonate` each of them, the rest of
the request runs as that user. Each requested piece is its own authorization check, as in
k8s.io/apiserver's impersonation filter: users, groups (core group), uids and userextras
(authentication.k8s.io, the extra key as subresource), and a ServiceAccount user name
(`system:serviceaccount:NS:NAME`) is checked as `impersonate` on that `serviceaccounts` object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from strom.auth.authz import Attributes, Authorizer, Decision, forbidden_error
from strom.errors import StatusError
from strom.user import ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS_USER, UserInfo

__all__ = ["IMPERSONATION_HEADERS", "impersonate", "service_account_groups", "split_sa_username"]

_USER = "impersonate-user"
_GROUP = "impersonate-group"
_UID = "impersonate-uid"
_EXTRA = "impersonate-extra-"
IMPERSONATION_HEADERS = (_USER, _GROUP, _UID)
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, slots=True)
class _Ask:
    """One thing to impersonate: kube's ObjectReference (kind, namespace, name, field path)."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def go_string(self) -> str:
        # Go's %v of a v1.ObjectReference: its seven fields separated by spaces.
        fields = (self.kind, self.namespace, self.name, "", self.api_version, "", self.field_path)
        return "{" + " ".join(fields) + "}"


def split_sa_username(username: str) -> tuple[str, str] | None:
    """(namespace, name) of `system:serviceaccount:NS:NAME`, else None (kube's SplitUsername)."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def _asks(headers: Iterable[tuple[str, str]]) -> list[_Ask]:
    """The impersonation requests in kube's order: user, groups, extras, uid."""
    user = ""
    groups: list[str] = []
    extras: list[_Ask] = []
    uid = ""
    for name, value in headers:
        lname = name.lower()
        if lname == _USER:
            user = user or value
        elif lname == _GROUP:
            groups.append(value)
        elif lname == _UID:
            uid = uid or value
        elif lname.startswith(_EXTRA):
            key = unquote(lname[len(_EXTRA) :])
            extras.append(
                _Ask("UserExtra", value, api_version="authentication.k8s.io/v1", field_path=key)
            )
    asks: list[_Ask] = []
    if user:
        sa = split_sa_username(user)
        if sa is not None:
            asks.append(_Ask("ServiceAccount", sa[1], namespace=sa[0]))
        else:
            asks.append(_Ask("User", user))
    asks.extend(_Ask("Group", g) for g in groups)
    asks.extend(extras)
    if uid:
        asks.append(_Ask("UID", uid, api_version="authentication.k8s.io/v1"))
    if asks and not user:
        listed = " ".join(a.go_string() for a in asks)
        # kube answers this with an internal error (500), not a 400.
        raise StatusError.internal(f"requested [{listed}] without impersonating a user")
    return asks


def impersonate(
    *, requestor: UserInfo, headers: Iterable[tuple[str, str]], authorizer: Authorizer
) -> UserInfo | None:
    """The user to act as, or None when the request impersonates nobody.

    Raises the 403 kube answers when the requestor may not impersonate one of the pieces.
    """
    asks = _asks(headers)
    if not asks:
        return None
    groups_given = any(a.kind == "Group" for a in asks)
    username = ""
    uid = ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for ask in asks:
        group = ask.api_version.split("/")[0] if "/" in ask.api_version else ""
        attrs = Attributes(
            user=requestor,
            verb="impersonate",
            resource_request=True,
            api_group=group,
            api_version=ask.api_version.split("/")[-1] if ask.api_version else "",
            namespace=ask.namespace,
            name=ask.name,
            resource=_RESOURCE[ask.kind],
            subresource=ask.field_path,
        )
        if ask.kind == "ServiceAccount":
            username = f"{SA_PREFIX}{ask.namespace}:{ask.name}"
            if not groups_given:
                groups = list(service_account_groups(ask.namespace))
        elif ask.kind == "User":
            username = ask.name
        elif ask.kind == "Group":
            groups.append(ask.name)
        elif ask.kind == "UserExtra":
            extra.setdefault(ask.field_path, []).append(ask.name)
        else:
            uid = ask.name
        decision, reason = authorizer.authorize(attrs)
        if decision is not Decision.ALLOW:
            raise forbidden_error(attrs, reason)
    if username != ANONYMOUS_USER:
        if ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_UNAUTHENTICATED)
    return UserInfo(
        username=username,
        uid=uid,
        groups=tuple(groups),
        extra={k: tuple(v) for k, v in extra.items()},
    )


_RESOURCE = {
    "ServiceAccount": "serviceaccounts",
    "User": "users",
    "Group": "groups",
    "UserExtra": "userextras",
    "UID": "uids",
}
