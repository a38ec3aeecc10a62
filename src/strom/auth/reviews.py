"""The review kinds: "may this user do that?" and "who owns this token?", answered, not stored.

SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectAccessReview ask the same
authorizer the request pipeline asks, with attributes built from the review's spec (kube's
`authorizationutil.ResourceAttributesFrom`); SelfSubjectRulesReview lists what the user may do
in a namespace; TokenReview runs a bearer token through the authenticators. Each answers 201
with the review echoed and its `status` filled in, as kube-apiserver does; a bad spec is the
422 or 400 kube gives, word for word.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from strom.auth.authz import Attributes, Authorizer, Decision
from strom.errors import Cause, StatusError
from strom.user import UserInfo, user_info_dict

__all__ = [
    "RulesResolver",
    "TokenAuthenticator",
    "access_review",
    "rules_review",
    "token_review",
]

AUTHZ_GROUP = "authorization.k8s.io"
AUTHN_GROUP = "authentication.k8s.io"

# Go field order of ResourceAttributes and NonResourceAttributes (the echo keeps it).
_RESOURCE_FIELDS = (
    "namespace",
    "verb",
    "group",
    "version",
    "resource",
    "subresource",
    "name",
    "fieldSelector",
    "labelSelector",
)
_NON_RESOURCE_FIELDS = ("path", "verb")


class RulesResolver(Protocol):
    def rules_review_status(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """SubjectRulesReviewStatus: resourceRules, nonResourceRules, incomplete, error."""
        ...


# token -> (user or None, audiences the token is good for, error text)
TokenAuthenticator = Callable[[str, list[str]], tuple[UserInfo | None, list[str], str]]


def _invalid(kind: str, causes: list[Cause]) -> StatusError:
    return StatusError.invalid(f"{kind}.{AUTHZ_GROUP}", "", causes, group=AUTHZ_GROUP)


def _cause(path: str, value: str, message: str) -> Cause:
    return Cause("FieldValueInvalid", f'Invalid value: "{value}": {message}', path)


def _metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    return dict(meta) if isinstance(meta, dict) else {}


def _non_empty_meta(meta: Mapping[str, Any], *, allow: tuple[str, ...] = ()) -> bool:
    """kube requires review metadata to be empty (creationTimestamp null and managedFields
    aside)."""
    for key, value in meta.items():
        if key in ("creationTimestamp", "managedFields", *allow):
            continue
        if value not in (None, "", {}, []):
            return True
    return False


def _echo(spec: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: spec[f] for f in fields if isinstance(spec.get(f), str) and spec[f]}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _user_from_spec(spec: Mapping[str, Any]) -> UserInfo:
    groups = spec.get("groups") or []
    extra = spec.get("extra") or {}
    return UserInfo(
        username=_str(spec.get("user")),
        uid=_str(spec.get("uid")),
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        extra={
            str(k): tuple(x for x in v if isinstance(x, str))
            for k, v in extra.items()
            if isinstance(v, list)
        }
        if isinstance(extra, dict)
        else {},
    )


def access_review(
    body: Mapping[str, Any],
    *,
    kind: str,
    api_version: str,
    authorizer: Authorizer,
    requestor: UserInfo,
    namespace: str = "",
) -> dict[str, Any]:
    """Answer a (Self|Local)SubjectAccessReview; `namespace` is the URL's (Local only)."""
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    meta = _metadata(body)
    res = spec.get("resourceAttributes")
    non = spec.get("nonResourceAttributes")
    res = res if isinstance(res, dict) else None
    non = non if isinstance(non, dict) else None
    causes: list[Cause] = []
    if res is not None and non is not None:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_go_struct(non, _NON_RESOURCE_FIELDS)}: cannot be specified"
                " in combination with resourceAttributes",
                "spec.nonResourceAttributes",
            )
        )
    if res is None and non is None:
        causes.append(
            _cause(
                "spec.resourceAttributes",
                "null",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    self_review = kind == "SelfSubjectAccessReview"
    if not self_review and not spec.get("user") and not spec.get("groups"):
        causes.append(
            _cause(
                "spec.user",
                _str(spec.get("user")),
                "at least one of user or group must be specified",
            )
        )
    if kind == "LocalSubjectAccessReview":
        meta_ns = _str(meta.get("namespace")) or namespace
        if meta_ns != namespace:  # kube's create handler checks this before the REST does
            raise StatusError.bad_request(
                "the namespace of the provided object does not match the namespace sent on"
                " the request"
            )
        meta["namespace"] = meta_ns
        if _non_empty_meta(meta, allow=("namespace",)):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "Invalid value: {}: must be empty except for namespace",
                    "metadata",
                )
            )
        if res is not None and _str(res.get("namespace")) != meta_ns:
            causes.append(
                _cause(
                    "spec.resourceAttributes.namespace",
                    _str(res.get("namespace")),
                    "must match metadata.namespace",
                )
            )
        if non is not None:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_go_struct(non, _NON_RESOURCE_FIELDS)}: disallowed on this"
                    " kind of request",
                    "spec.nonResourceAttributes",
                )
            )
    elif _non_empty_meta(meta):
        causes.append(Cause("FieldValueInvalid", "Invalid value: {}: must be empty", "metadata"))
    if causes:
        raise _invalid(kind, causes)
    user = requestor if self_review else _user_from_spec(spec)
    if res is not None:
        attrs = Attributes(
            user=user,
            verb=_str(res.get("verb")),
            resource_request=True,
            namespace=_str(res.get("namespace")),
            api_group=_str(res.get("group")),
            api_version=_str(res.get("version")),
            resource=_str(res.get("resource")),
            subresource=_str(res.get("subresource")),
            name=_str(res.get("name")),
        )
    else:
        assert non is not None
        attrs = Attributes(
            user=user,
            verb=_str(non.get("verb")),
            resource_request=False,
            path=_str(non.get("path")),
        )
    decision, reason = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    echoed: dict[str, Any] = {}
    if res is not None:
        echoed["resourceAttributes"] = _echo(res, _RESOURCE_FIELDS)
    if non is not None:
        echoed["nonResourceAttributes"] = _echo(non, _NON_RESOURCE_FIELDS)
    if not self_review:
        for key in ("user", "groups", "extra", "uid"):
            if spec.get(key):
                echoed[key] = spec[key]
    out_meta: dict[str, Any] = {"creationTimestamp": None}
    if kind == "LocalSubjectAccessReview":
        out_meta = {"namespace": namespace, "creationTimestamp": None}
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": out_meta,
        "spec": echoed,
        "status": status,
    }


def _go_struct(obj: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    """Go's %v of an attributes struct (how field.Invalid prints a struct value)."""
    return "{" + " ".join(_str(obj.get(f)) for f in fields) + "}"


def rules_review(
    body: Mapping[str, Any], *, api_version: str, resolver: RulesResolver, user: UserInfo
) -> dict[str, Any]:
    """Answer a SelfSubjectRulesReview for the requesting user."""
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    namespace = _str(spec.get("namespace"))
    if not namespace:
        raise StatusError.bad_request("no namespace on request")
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": None},
        "spec": {"namespace": namespace},
        "status": resolver.rules_review_status(user, namespace),
    }


def token_review(
    body: Mapping[str, Any],
    *,
    api_version: str,
    authenticate: TokenAuthenticator,
    api_audiences: list[str],
) -> dict[str, Any]:
    """Answer a TokenReview: authenticate `spec.token` for `spec.audiences` (default: the
    server's API audiences), as kube's tokenreview REST does."""
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    token = _str(spec.get("token"))
    if not token:
        raise StatusError.bad_request("token is required for TokenReview in authentication")
    wanted = spec.get("audiences")
    audiences = [a for a in wanted if isinstance(a, str)] if isinstance(wanted, list) else []
    user, token_audiences, error = authenticate(token, audiences or api_audiences)
    status: dict[str, Any] = {"authenticated": user is not None}
    if user is not None:
        status["user"] = user_info_dict(user)
        if token_audiences:
            status["audiences"] = token_audiences
    else:
        status["user"] = {}
        if error:
            status["error"] = error
    echoed: dict[str, Any] = {"token": token}
    if audiences:
        echoed["audiences"] = audiences
    return {
        "kind": "TokenReview",
        "apiVersion": api_version,
        "metadata": {"creationTimestamp": None},
        "spec": echoed,
        "status": status,
    }
