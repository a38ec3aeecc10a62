"""One request's audit record, and the audit.k8s.io/v1 `Event`s it emits at each stage.

This is kube's AuditContext plus what its handlers log into it (audit/request.go,
endpoints/filters/audit.go): metadata when the policy is evaluated, `RequestReceived` at once,
the authorization annotations once the request is let through, the request body as
`requestObject` (create/update/patch/delete, Request level and up), the response body as
`responseObject` (RequestResponse level; never the events a watch streams), and the final
stage: `ResponseComplete`, or `Panic` when the handler failed. Long-running requests (watches)
also emit `ResponseStarted` when their headers go out. A request that fails authentication
emits only `ResponseStarted`, without a user, like kube's WithFailedAuthenticationAudit.

Events are plain dicts handed to the sink, which serializes them on its own thread; a dict is
never changed after it is handed over (fields that change are replaced, not mutated).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote

import orjson
import yaml

from strom import mediatypes as mt
from strom import yamljson
from strom.audit.policy import (
    METADATA,
    REQUEST,
    REQUEST_RESPONSE,
    Attributes,
    Policy,
    RequestAuditConfig,
    level_at_least,
)
from strom.requestinfo import RequestInfo, request_info
from strom.user import UserInfo, user_info_dict

__all__ = ["EventSink", "RequestAudit", "set_audit_id"]

RECEIVED, STARTED, COMPLETE, PANIC = (
    "RequestReceived",
    "ResponseStarted",
    "ResponseComplete",
    "Panic",
)
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
_MAX_USER_AGENT = 1024
_WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
_JSON_TYPES = (mt.JSON, mt.MERGE_PATCH, mt.JSON_PATCH, mt.STRATEGIC_MERGE_PATCH)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"  # what Go's URL.EscapedPath leaves alone


class EventSink(Protocol):
    def process(self, event: dict[str, Any]) -> None: ...


# What audit reads of the server's request and response objects. Audit sits below the server
# (it observes requests through these hooks and never imports the server's types).
class Request(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def raw_query(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def remote(self) -> str: ...
    @property
    def received(self) -> float: ...
    @property
    def decoded(self) -> Any:
        """The body as the handler decoded it (protobuf included), None if it did not."""
        ...

    @property
    def annotations(self) -> Mapping[str, str]:
        """Audit annotations admission added (webhooks, policies)."""
        ...


class Response(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def status_object(self) -> dict[str, Any] | None:
        """The metav1.Status the body encodes, None when it is not one."""
        ...


class StreamingResponse(Protocol):
    """A streamed response; audit wraps `run` to see it start, end or fail."""

    run: Callable[[Any], Awaitable[None]]

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...


def set_audit_id(headers: list[tuple[str, str]], audit_id: str) -> None:
    """Make the response's `Audit-Id` header say `audit_id` (kube echoes the request's)."""
    for i, (name, _) in enumerate(headers):
        if name == "Audit-Id":
            headers[i] = ("Audit-Id", audit_id)
            return
    headers.insert(0, ("Audit-Id", audit_id))


class RequestAudit:
    """The audit record of one request; created for every request while auditing is on.

    Fields, all event-loop only: `config` is None until the policy was evaluated; `enabled`
    is whether this request is audited at all (level above None); the `_*` event fields are
    replaced, never mutated, once an event referencing them went to the sink.
    """

    __slots__ = (
        "_annotations",
        "_done",
        "_failed_authn",
        "_impersonated",
        "_info",
        "_levels",
        "_object_ref",
        "_policy",
        "_request",
        "_request_object",
        "_response_object",
        "_response_status",
        "_sink",
        "_user",
        "audit_id",
        "config",
        "enabled",
    )

    def __init__(
        self,
        *,
        sink: EventSink,
        policy: Policy,
        levels: dict[str, int],
        request: Request,
        audit_id: str,
    ) -> None:
        self._sink = sink
        self._policy = policy
        self._levels = levels  # requests per policy level (apiserver_audit_level_total)
        self._request = request
        self.audit_id = audit_id
        self.config: RequestAuditConfig | None = None
        self.enabled = False
        self._failed_authn = False
        self._done = False
        self._info: RequestInfo | None = None
        self._user: dict[str, Any] = {}
        self._impersonated: dict[str, Any] | None = None
        self._object_ref: dict[str, str] | None = None
        self._annotations: dict[str, str] | None = None
        self._response_status: dict[str, Any] | None = None
        self._request_object: Any = None
        self._response_object: Any = None

    # --- policy ----------------------------------------------------------------------------
    def authenticated(self, user: UserInfo) -> None:
        """Who is asking is known: evaluate the policy and emit RequestReceived."""
        self._decide(user)
        if self.enabled:
            self._user = user_info_dict(user)
            self._emit(RECEIVED, self._request.received)

    def unauthenticated(self) -> None:
        """Authentication failed: kube logs such a request only at ResponseStarted, with an
        empty user, and matches it against rules that name no users or groups."""
        self._decide(None)
        self._failed_authn = True

    def _decide(self, user: UserInfo | None) -> None:
        request = self._request
        info = self._info = request_info(request.method, request.path, request.raw_query)
        attrs = Attributes(
            verb=info.verb,
            path=info.path,
            user=(user.username, user.groups) if user is not None else None,
            resource_request=info.resource_request,
            api_group=info.api_group,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
        )
        config = self.config = self._policy.evaluate(attrs)
        self._levels[config.level] = self._levels.get(config.level, 0) + 1
        self.enabled = level_at_least(config.level, METADATA)
        if self.enabled and info.resource_request:
            self._object_ref = _object_ref(info)

    def impersonating(self, user: UserInfo) -> None:
        """The request acts as `user` (kube's impersonation filter sets impersonatedUser after
        RequestReceived went out, so only the later stages carry it)."""
        if self.enabled:
            self._impersonated = user_info_dict(user)

    def authorized(self, decision: str = "allow", reason: str = "") -> None:
        """The authorizer's verdict, as kube's authorization filter annotates it: decision
        "allow" or "forbid" and the authorizer's reason."""
        if self.enabled:
            self._annotations = {DECISION: decision, REASON: reason}

    # --- completion ------------------------------------------------------------------------
    def finish_stream(self, stream: StreamingResponse) -> None:
        """Stamp the audit ID on a streamed response; it gets its ResponseStarted when its
        headers go out and ResponseComplete when it ends."""
        set_audit_id(stream.headers, self.audit_id)
        if not self.enabled or self._done:
            return
        self._response_status = {"metadata": {}, "code": stream.status}
        stream.run = self._tracked(stream.run)

    def finish(self, response: Response) -> None:
        """Stamp the audit ID on the response and emit the request's final event."""
        set_audit_id(response.headers, self.audit_id)
        if not self.enabled or self._done:
            return
        self._record_request_object()
        self._record_response(response)
        self._done = True
        if self._failed_authn:
            self._emit(STARTED)
        else:
            self._emit(COMPLETE)

    def panic(self, exc: BaseException) -> None:
        """The handler failed: kube's recovery logs the Panic stage instead of completion."""
        if not self.enabled or self._done:
            return
        self._done = True
        self._response_status = {
            "metadata": {},
            "status": "Failure",
            "message": f"APIServer panic'd: {exc}",
            "reason": "InternalError",
            "code": 500,
        }
        self._emit(PANIC)

    def abandoned(self) -> None:
        """The request ended without a response (its client went away and the handler was
        cancelled): kube completes such a request with its "Connection closed early" status."""
        if not self.enabled or self._done:
            return
        self._done = True
        self._response_status = {
            "metadata": {},
            "status": "Success",
            "message": "Connection closed early",
            "code": 200,
        }
        self._emit(STARTED if self._failed_authn else COMPLETE)

    def _tracked(self, run: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        async def audited(conn: Any) -> None:
            self._emit(STARTED)  # the stream's headers were just written
            try:
                await run(conn)
            except Exception as exc:
                self.panic(exc)
                raise
            finally:
                if not self._done:
                    self._done = True
                    self._emit(COMPLETE)

        return audited

    # --- request and response objects ------------------------------------------------------
    def _record_request_object(self) -> None:
        info, config = self._info, self.config
        assert info is not None and config is not None
        body = self._request.body
        if not body or not info.resource_request or info.verb not in _WRITE_VERBS:
            return
        names_object = info.verb in ("create", "update")  # the body fills objectRef's gaps
        if not names_object and not level_at_least(config.level, REQUEST):
            return
        obj = self._request.decoded
        if obj is None:  # a patch, a delete's options, or a body the handler refused
            obj = _decode(body, self._request.headers.get("content-type", ""))
        if obj is None:
            return  # kube logs the object only once it decoded
        if names_object and isinstance(obj, dict):
            self._fill_object_ref(obj)
        if level_at_least(config.level, REQUEST):
            # A patch is logged as sent (kube's LogRequestPatch), other bodies as objects.
            strip = config.omit_managed_fields and info.verb != "patch"
            self._request_object = _without_managed_fields(obj) if strip else obj

    def _fill_object_ref(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or self._object_ref is None:
            return
        ref = dict(self._object_ref)
        for key, meta_key in (
            ("namespace", "namespace"),
            ("name", "name"),
            ("uid", "uid"),
            ("resourceVersion", "resourceVersion"),
        ):
            value = meta.get(meta_key)
            if not ref.get(key) and isinstance(value, str) and value:
                ref[key] = value
        self._object_ref = _ordered_ref(ref)

    def _record_response(self, response: Response) -> None:
        info, config = self._info, self.config
        assert info is not None and config is not None
        self._response_status = {"metadata": {}, "code": response.status}
        logged = info.resource_request or response.status >= 400 or _is_api_path(info.path)
        if not logged or not response.body:
            return
        full = level_at_least(config.level, REQUEST_RESPONSE)
        if response.status_object is not None:
            self._response_status = _bounded_status(response.status_object, response.status)
        if full:
            omit = config.omit_managed_fields
            self._response_object = _response_object(response, omit_managed_fields=omit)

    # --- emission --------------------------------------------------------------------------
    def _emit(self, stage: str, stamp: float | None = None) -> None:
        config = self.config
        assert config is not None
        if stage in config.omit_stages:
            return
        request = self._request
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": config.level,
            "auditID": self.audit_id,
            "stage": stage,
            "requestURI": _request_uri(request),
            "verb": self._info.verb if self._info is not None else "",
            "user": self._user,
        }
        if self._impersonated is not None:
            event["impersonatedUser"] = self._impersonated
        ips = _source_ips(request)
        if ips:
            event["sourceIPs"] = ips
        agent = request.headers.get("user-agent", "")
        if agent:
            if len(agent) > _MAX_USER_AGENT:
                agent = agent[:_MAX_USER_AGENT] + "...TRUNCATED"
            event["userAgent"] = agent
        if self._object_ref is not None:
            event["objectRef"] = self._object_ref
        # None at RequestReceived: the handler logs these later, as in kube.
        if self._response_status is not None:
            event["responseStatus"] = self._response_status
        if self._request_object is not None:
            event["requestObject"] = self._request_object
        if self._response_object is not None:
            event["responseObject"] = self._response_object
        # Timestamps stay floats here; the sink formats them (off the request path).
        event["requestReceivedTimestamp"] = request.received
        event["stageTimestamp"] = stamp if stamp is not None else time.time()
        annotations = self._annotations
        if request.annotations:
            annotations = {**(annotations or {}), **request.annotations}
        if annotations is not None:
            event["annotations"] = annotations
        self._sink.process(event)


# --------------------------------------------------------------------------- helpers


def _object_ref(info: RequestInfo) -> dict[str, str]:
    return _ordered_ref(
        {
            "resource": info.resource,
            "namespace": info.namespace,
            "name": info.name,
            "apiGroup": info.api_group,
            "apiVersion": info.api_version,
            "subresource": info.subresource,
        }
    )


_REF_ORDER = (
    "resource",
    "namespace",
    "name",
    "uid",
    "apiGroup",
    "apiVersion",
    "resourceVersion",
    "subresource",
)


def _ordered_ref(ref: dict[str, str]) -> dict[str, str]:
    """ObjectReference's JSON: its field order, empty fields omitted."""
    return {key: ref[key] for key in _REF_ORDER if ref.get(key)}


def _request_uri(request: Request) -> str:
    path = quote(request.path, safe=_PATH_SAFE) or "/"
    return f"{path}?{request.raw_query}" if request.raw_query else path


def _source_ips(request: Request) -> list[str]:
    """kube's utilnet.SourceIPs: X-Forwarded-For, then X-Real-Ip, then the peer address."""
    ips: list[str] = []
    forwarded = request.headers.get("x-forwarded-for", "")
    for part in forwarded.split(","):
        ip = _parse_ip(part.strip())
        if ip:
            ips.append(ip)
    real = _parse_ip(request.headers.get("x-real-ip", "").strip())
    if real and real not in ips:
        ips.append(real)
    remote = _parse_ip(request.remote)
    if remote and (not ips or ips[-1] != remote):
        ips.append(remote)
    return ips


def _parse_ip(text: str) -> str:
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def _is_api_path(path: str) -> bool:
    return path in ("/api", "/apis") or path.startswith(("/api/", "/apis/"))


def _decode(body: bytes, content_type: str) -> Any:
    """The body as JSON data (YAML converted), or None if malformed; protobuf bodies (client-go's
    creates and updates) come decoded from the handler, so they are never decoded twice."""
    base = content_type.split(";", 1)[0].strip().lower()
    try:
        if base in _JSON_TYPES or not base:
            return orjson.loads(body)
        if base in (mt.YAML, mt.APPLY_PATCH):
            return yamljson.load(body)
    except (orjson.JSONDecodeError, yamljson.YAMLError):
        return None
    return None


def _response_object(response: Response, *, omit_managed_fields: bool) -> Any:
    """The response body for the event: compact JSON is embedded as is (no re-parse)."""
    ctype = response.content_type.split(";", 1)[0].strip().lower()
    body = response.body
    if ctype == mt.JSON:
        if not omit_managed_fields and b"\n" not in body:
            return orjson.Fragment(body)
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    elif ctype == mt.YAML:
        try:
            obj = yaml.safe_load(body)
        except yaml.YAMLError:
            return None
    else:
        return None  # protobuf, text: kube logs JSON only
    return _without_managed_fields(obj) if omit_managed_fields else obj


def _bounded_status(status: Any, code: int) -> dict[str, Any]:
    """The Status fields kube copies into responseStatus (LogResponseObject)."""
    out: dict[str, Any] = {"metadata": {}}
    if isinstance(status, dict):
        for key in ("status", "message", "reason", "details"):
            if status.get(key):
                out[key] = status[key]
        code = int(status.get("code") or code)
    out["code"] = code
    return out


def _without_managed_fields(obj: Any) -> Any:
    """Drop metadata.managedFields of an object, a list's items and a Table's row objects."""
    if not isinstance(obj, dict):
        return obj
    _strip(obj)
    for item in obj.get("items") or ():
        _strip(item)
    for row in obj.get("rows") or ():
        if isinstance(row, dict):
            _strip(row.get("object"))
    return obj


def _strip(obj: Any) -> None:
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
