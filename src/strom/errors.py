"""The one error type that reaches the wire: a Kubernetes `Status`.

Every layer raises `StatusError` through its constructors (`StatusError.not_found(...)`, ...);
`strom.server` turns it into a response body in exactly one place (`StatusError.to_status`).
The constructors reproduce kube-apiserver's messages word for word (see
k8s.io/apimachinery/pkg/api/errors/errors.go and ../shared/reference/), because clients match
on reason and code and people match on message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cause", "Details", "StatusError"]


@dataclass(frozen=True, slots=True)
class Cause:
    """One entry of `details.causes` (metav1.StatusCause)."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        # metav1.StatusCause: every field omitempty.
        out = {}
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        if self.field:
            out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True)
class Details:
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: tuple[Cause, ...] = ()
    retry_after_seconds: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.group:
            out["group"] = self.group
        if self.kind:
            out["kind"] = self.kind
        if self.uid:
            out["uid"] = self.uid
        if self.causes:
            out["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            out["retryAfterSeconds"] = self.retry_after_seconds
        return out


_HTTP_REASON_PHRASE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(eq=False)
class StatusError(Exception):
    """An API error with everything `metav1.Status` carries.

    `details` is None when kube-apiserver sends no `details` key at all (400 on bad JSON,
    413, 415), and an empty `Details` when it sends `"details":{}` (404 unknown resource).
    """

    code: int
    reason: str
    message: str
    details: Details | None = None
    retry_after: int = 0  # seconds, sent as the Retry-After header when non-zero
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. a fresh continue token

    def __post_init__(self) -> None:
        super().__init__(self.message)

    # --- the wire -------------------------------------------------------------------------
    def to_status(self) -> dict[str, Any]:
        """The `Status` object, keys in kube-apiserver's order."""
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.metadata,
            "status": "Failure",
        }
        if self.message:
            out["message"] = self.message
        if self.reason:
            out["reason"] = self.reason
        if self.details is not None:
            out["details"] = self.details.to_dict()
        out["code"] = self.code
        return out

    # --- constructors (k8s.io/apimachinery/pkg/api/errors) --------------------------------
    @classmethod
    def bad_request(cls, message: str) -> StatusError:
        return cls(400, "BadRequest", message)

    @classmethod
    def unauthorized(cls, message: str = "Unauthorized") -> StatusError:
        return cls(401, "Unauthorized", message)

    @classmethod
    def forbidden(cls, resource: str, name: str, message: str, *, group: str = "") -> StatusError:
        """`<resource> "<name>" is forbidden: <message>` as NewForbidden words it."""
        qualified = _qualified(resource, group)
        if name:
            text = f'{qualified} "{name}" is forbidden: {message}'
        else:
            text = f"{qualified} is forbidden: {message}"
        return cls(403, "Forbidden", text, Details(name=name, group=group, kind=resource))

    @classmethod
    def not_found(cls, resource: str, name: str, *, group: str = "") -> StatusError:
        return cls(
            404,
            "NotFound",
            f'{_qualified(resource, group)} "{name}" not found',
            Details(name=name, group=group, kind=resource),
        )

    @classmethod
    def no_route(cls) -> StatusError:
        """404 for a path that names no served resource."""
        return cls(404, "NotFound", "the server could not find the requested resource", Details())

    @classmethod
    def method_not_allowed(cls) -> StatusError:
        return cls(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Details(),
        )

    @classmethod
    def not_acceptable(cls, message: str) -> StatusError:
        return cls(406, "NotAcceptable", message)

    @classmethod
    def already_exists(cls, resource: str, name: str, *, group: str = "") -> StatusError:
        return cls(
            409,
            "AlreadyExists",
            f'{_qualified(resource, group)} "{name}" already exists',
            Details(name=name, group=group, kind=resource),
        )

    @classmethod
    def conflict(cls, resource: str, name: str, reason: str, *, group: str = "") -> StatusError:
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {reason}',
            Details(name=name, group=group, kind=resource),
        )

    @classmethod
    def apply_conflict(cls, causes: list[Cause], message: str) -> StatusError:
        """409 as NewApplyConflict: a server-side apply's conflicts, only causes in details."""
        return cls(409, "Conflict", message, Details(causes=tuple(causes)))

    @classmethod
    def stale(cls, resource: str, name: str, *, group: str = "") -> StatusError:
        return cls.conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version"
            " and try again",
            group=group,
        )

    @classmethod
    def gone(cls, message: str, *, continue_token: str = "") -> StatusError:
        meta = {"continue": continue_token} if continue_token else {}
        return cls(410, "Expired", message, metadata=meta)

    @classmethod
    def too_large(cls, limit: int) -> StatusError:
        return cls(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")

    @classmethod
    def unsupported_media_type(cls) -> StatusError:
        return cls(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include:"
            " application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )

    @classmethod
    def invalid(cls, kind: str, name: str, causes: list[Cause], *, group: str = "") -> StatusError:
        """422 Invalid as NewInvalid words it: `Kind.group "name" is invalid: <field errors>`
        (the kind qualified by its group, as GroupKind.String() prints it)."""
        qualified = f"{kind}.{group}" if group and not kind.endswith("." + group) else kind
        parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
        joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        return cls(
            422,
            "Invalid",
            f'{qualified} "{name}" is invalid: {joined}',
            Details(name=name, group=group, kind=kind, causes=tuple(causes)),
        )

    @classmethod
    def unprocessable(cls) -> StatusError:
        """422 without field causes (a failed JSON-patch `test` operation)."""
        return cls(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            Details(),
        )

    @classmethod
    def too_many_requests(
        cls,
        retry_after: int = 1,
        message: str = "Too many requests, please try again later.",
        causes: tuple[Cause, ...] = (),
    ) -> StatusError:
        return cls(
            429,
            "TooManyRequests",
            message,
            Details(retry_after_seconds=retry_after, causes=causes),
            retry_after=retry_after,
        )

    @classmethod
    def internal(cls, message: str) -> StatusError:
        """NewInternalError: the error's text as the one cause too."""
        return cls(
            500,
            "InternalError",
            f"Internal error occurred: {message}",
            Details(causes=(Cause("", message),)),
        )

    @classmethod
    def service_unavailable(cls, message: str) -> StatusError:
        return cls(503, "ServiceUnavailable", message)

    @classmethod
    def too_large_resource_version(cls, requested: int, current: int) -> StatusError:
        return cls(
            504,
            "Timeout",
            f"Timeout: Too large resource version: {requested}, current: {current}",
            Details(
                causes=(Cause("ResourceVersionTooLarge", "Too large resource version"),),
                retry_after_seconds=1,
            ),
            retry_after=1,
        )


def _qualified(resource: str, group: str) -> str:
    """kube-apiserver's GroupResource.String(): `configmaps`, `deployments.apps`."""
    return f"{resource}.{group}" if group else resource
