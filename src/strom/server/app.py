"""The request pipeline: authentication, impersonation, max-in-flight, authorization, routing.

Order as in kube-apiserver's handler chain: panic recovery (the connection's), authentication
(401), impersonation (403 when the requestor may not act as whom it asks), in-flight limit
(429), authorization (403), then the path decides: health and version, discovery, OpenAPI,
or resources. Every path is authorized, health and version included: kube serves those to
`system:anonymous` only because its bootstrap policy grants them (system:public-info-viewer).
Every `StatusError` raised below becomes a response here and only here.

With auditing on (`strom.audit`), the audit filter wraps all of it, as in kube: each request
gets a `RequestAudit` that is told who the user is (or that authentication failed), whom it
impersonates, the authorizer's decision and reason (the annotations), and how it ended.
Without it the cost is a few `is None` tests, plus echoing a client's `Audit-ID` header.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import time
from typing import Any

import orjson

from strom import __version__, logs
from strom.admission import AdmissionChain
from strom.admission.crd_conversion import WebhookConverter
from strom.audit import Auditor, RequestAudit, set_audit_id
from strom.auth.authn import Authenticator
from strom.auth.authz import Attributes, Authorizer, Decision, forbidden_error
from strom.auth.impersonation import impersonate
from strom.errors import StatusError
from strom.registry.apidocs import ApiDocs
from strom.registry.types import TypeTable
from strom.requestinfo import request_info
from strom.server.api import ResourceAPI
from strom.server.http import MAX_BODY, Request, Response, StreamingResponse
from strom.server.metrics import Metrics, request_verb
from strom.server.monitor import Monitor
from strom.server.responses import (
    common_headers,
    internal_error_response,
    json_response,
    negotiate,
    status_response,
)
from strom.server.routes import parse_resource_path
from strom.storage.base import StorageError
from strom.storage.observed import ObservedStore
from strom.user import UserInfo

__all__ = ["KUBE_VERSION", "App"]

log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


def _log_request(
    request: Request, response: Response | StreamingResponse, started: float
) -> None:
    """kube's httplog line (-v=2): verb, URI, latency, user, user agent, audit ID, peer, code."""
    query = f"?{request.raw_query}" if request.raw_query else ""
    audit_id = next((v for k, v in response.headers if k.lower() == "audit-id"), "")
    logs.info(
        2,
        "HTTP",
        verb=request.method,
        URI=request.path + query,
        latency=f"{(time.perf_counter() - started) * 1000:.3f}ms",
        user=request.username,
        userAgent=request.headers.get("user-agent", ""),
        **{"audit-ID": audit_id},
        srcIP=request.remote,
        resp=response.status,
    )

KUBE_VERSION = {
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.0-strom." + __version__,
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-25T00:00:00Z",
    "goVersion": "python",
    "compiler": "strom",
    "platform": "linux/amd64",
}

_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_STORE_CHECK_TIMEOUT = 2.0  # kube-apiserver --etcd-healthcheck-timeout
_PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def _ui_file(name: str, content_type: str) -> tuple[str, bytes]:
    return content_type, (importlib.resources.files("strom.server") / "ui" / name).read_bytes()


# The live view's static shell, served to any browser (it holds no data).
_UI_FILES = {
    path: _ui_file(name, ctype)
    for path, name, ctype in (
        ("/ui", "index.html", "text/html; charset=utf-8"),
        ("/ui/", "index.html", "text/html; charset=utf-8"),
        ("/ui/app.js", "app.js", "text/javascript; charset=utf-8"),
    )
}
_OPENID_PATHS = ("/.well-known/openid-configuration", "/openid/v1/jwks")


class App:
    """Fields: set once at start-up, then read-only (the in-flight counter aside)."""

    def __init__(
        self,
        *,
        api: ResourceAPI,
        types: TypeTable,
        authenticator: Authenticator,
        authorizer: Authorizer,
        authorizer_mode: str = "RBAC",
        max_in_flight: int,
        audit: Auditor | None = None,
    ) -> None:
        self.api = api
        self.audit = audit
        self.types = types
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.authorizer_mode = authorizer_mode  # RBAC | AlwaysAllow, for the metrics' labels
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.in_flight_mutating = 0  # of in_flight, the writes (kube's request_kind)
        self.ready = False
        # ServiceAccount issuer discovery: the openid-configuration and JWKS documents.
        self.openid: tuple[bytes, bytes] | None = None
        self.metrics = Metrics(cache=api.registry.cache, types=types)
        self.metrics.inflight.labels("mutating").set_function(lambda: self.in_flight_mutating)
        self.metrics.inflight.labels("readOnly").set_function(
            lambda: self.in_flight - self.in_flight_mutating
        )
        # The admission chain after authorization, as in kube: webhooks and their metrics.
        api.registry.admission = AdmissionChain(
            api.registry.cache, types, observe=self.metrics.observe_webhook
        )
        api.registry.converter = WebhookConverter(api.registry.cache)
        if isinstance(api.registry.store, ObservedStore):
            api.registry.store.observe = self.metrics.observe_storage
        if audit is not None:
            self.metrics.registry.register(audit.collector())
        self.server_address = "127.0.0.1:6443"  # set by the runner once the port is known
        self.monitor = Monitor(api.registry.cache, types)  # what /ui/ shows
        api.monitor = self.monitor
        self._docs: ApiDocs | None = None
        self._docs_generation = -1

    @property
    def docs(self) -> ApiDocs:
        if self._docs is None or self._docs_generation != self.types.generation:
            self._docs = ApiDocs.for_types(
                self.types.all(),
                server_version=KUBE_VERSION["gitVersion"],
                server_address=self.server_address,
            )
            self._docs_generation = self.types.generation
        return self._docs

    async def __call__(self, request: Request) -> Response | StreamingResponse:
        started = time.perf_counter()
        if self.audit is not None:
            response = await self._audited(request, self.audit.begin(request))
        else:
            try:
                response = await self._dispatch(request, None)
            except StatusError as err:
                response = status_response(err, request)
            client_audit_id = request.headers.get("audit-id")
            if client_audit_id:  # kube echoes the client's Audit-ID, audited or not
                set_audit_id(response.headers, client_audit_id)
        if logs.enabled(2):
            if isinstance(response, StreamingResponse):
                # kube's httplog writes a long-running request's line when it ends
                response.hooks.append((_nothing, lambda: _log_request(request, response, started)))
            else:
                _log_request(request, response, started)
        return response

    async def _audited(self, request: Request, audit: RequestAudit) -> Response | StreamingResponse:
        """The audit filter around the pipeline: a handler failure is logged as the Panic
        stage (kube's audit filter sees the panic before the recovery filter answers 500)."""
        try:
            response = await self._dispatch(request, audit)
        except StatusError as err:
            response = status_response(err, request)
        except Exception as exc:
            log.exception("handler failed for %s %s", request.method, request.path)
            audit.panic(exc)
            response = internal_error_response(request)
        except BaseException:  # cancelled: the client is gone
            audit.abandoned()
            raise
        if isinstance(response, StreamingResponse):
            audit.finish_stream(response)
        else:
            audit.finish(response)
        return response

    async def _dispatch(
        self, request: Request, audit: RequestAudit | None
    ) -> Response | StreamingResponse:
        page = _UI_FILES.get(request.path) if request.method in ("GET", "HEAD") else None
        if page is not None:
            # The view's shell (no data: that comes from /ui/api/state, authorized as usual).
            return Response(200, page[1], page[0], common_headers())
        user = self.authenticator.authenticate(
            authorization=request.headers.get("authorization"), peer_cert=request.peer_cert
        )
        if user is None:
            if audit is not None:
                audit.unauthenticated()
            raise StatusError.unauthorized()
        request.username = user.username
        if audit is not None:
            audit.authenticated(user)
        if request.impersonation:
            acting = impersonate(
                requestor=user, headers=request.impersonation, authorizer=self.authorizer
            )
            if acting is not None:
                user = acting
                if audit is not None:
                    audit.impersonating(user)
        path = request.path
        health = path.rstrip("/") in _PUBLIC_PATHS or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        )
        if not health and self.in_flight >= self.max_in_flight:
            raise StatusError.too_many_requests()
        self._authorize(request, user, audit)
        if request.too_large:
            # Where kube's handlers hit their MaxBytesReader: after authentication and
            # authorization, before anything reads the body.
            raise StatusError.too_large(MAX_BODY)
        if health:
            return await self._health(request)
        mutating = request.method not in ("GET", "HEAD", "OPTIONS")
        self.in_flight += 1
        self.in_flight_mutating += mutating
        try:
            return await self._route(request, user)
        finally:
            self.in_flight -= 1
            self.in_flight_mutating -= mutating

    def _authorize(self, request: Request, user: UserInfo, audit: RequestAudit | None) -> None:
        """kube's authorization filter: ask the authorizer; 403 unless it allows."""
        info = request_info(request.method, request.path, request.raw_query)
        attrs = Attributes(
            user=user,
            verb=info.verb,
            resource_request=info.resource_request,
            namespace=info.namespace,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name,
            path=info.path,
        )
        started = time.perf_counter()
        decision, reason = self.authorizer.authorize(attrs)
        allowed = decision is Decision.ALLOW
        self.metrics.authorization_duration.labels("allowed" if allowed else "denied").observe(
            time.perf_counter() - started
        )
        mode = self.authorizer_mode
        self.metrics.authorization.labels(mode, mode, "allowed" if allowed else "denied").inc()
        if decision is Decision.ALLOW:
            if audit is not None:
                audit.authorized("allow", reason)
            return
        if audit is not None:
            audit.authorized("forbid", reason)
        raise forbidden_error(attrs, reason)

    async def _route(self, request: Request, user: UserInfo) -> Response | StreamingResponse:
        path = request.path.rstrip("/") or "/"
        if path in ("/api", "/apis") or (path.startswith("/apis/") and path.count("/") == 2):
            return self._discovery_root(request, path)
        if path.startswith("/openapi/"):
            return self._openapi(request, path)
        if path in _OPENID_PATHS and self.openid is not None:
            if request.method not in ("GET", "HEAD"):
                raise StatusError.method_not_allowed()
            doc = self.openid[_OPENID_PATHS.index(path)]
            headers = [common_headers()[0], ("Cache-Control", "public, max-age=3600")]
            ctype = (
                "application/json"
                if path.startswith("/.well-known")
                else ("application/jwk-set+json")
            )
            return Response(200, doc, ctype, headers)
        if path == "/ui/api/state":
            if request.method not in ("GET", "HEAD"):
                raise StatusError.method_not_allowed()
            return json_response(self.monitor.state(), request)
        if path == "/metrics":
            return Response(
                200,
                self.metrics.render(),
                "text/plain; version=0.0.4; charset=utf-8",
                common_headers(),
            )
        if path == "/":
            paths = sorted(
                [
                    "/api",
                    "/apis",
                    "/healthz",
                    "/livez",
                    "/readyz",
                    "/version",
                    "/openapi/v2",
                    "/openapi/v3",
                    "/metrics",
                ]
            )
            return json_response({"paths": paths}, request)
        rp = parse_resource_path(path)
        if rp is None:
            raise StatusError.no_route()
        if not rp.resource:
            if request.method not in ("GET", "HEAD"):
                raise StatusError.method_not_allowed()
            gv = f"{rp.group}/{rp.version}" if rp.group else rp.version
            body = self.docs.api_resource_list(gv)
            if body is None:
                raise StatusError.no_route()
            return _bytes(body, request)
        rt = self.types.lookup(rp.group, rp.version, rp.resource)
        if rt is None:
            raise StatusError.no_route()
        watch = rp.watch_prefix or request.flag("watch") is True
        verb = request_verb(request.method, has_name=bool(rp.name), watch=watch)
        scope = "resource" if rp.name else ("namespace" if rp.namespace else "cluster")
        labels = (verb, rt.group, rt.version, rt.plural, rp.subresource, scope, "apiserver")
        started = time.perf_counter()
        code = 500
        try:
            result = await self.api.handle(request, rp, rt, user)
            code = result.status
        except StatusError as err:
            code = err.code
            raise
        finally:
            elapsed = time.perf_counter() - started
            if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                sent = request.decoded if isinstance(request.decoded, dict) else {}
                raw_meta = sent.get("metadata")
                meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
                self.monitor.write(
                    verb=verb.lower(),
                    resource=rt.group_resource + (f"/{rp.subresource}" if rp.subresource else ""),
                    namespace=rp.namespace,
                    name=rp.name or str(meta.get("name") or ""),
                    user=user.username,
                    code=code,
                )
            self.metrics.requests.labels(*labels, str(code)).inc()
            self.metrics.duration.labels(*labels).observe(elapsed)
            if verb != "WATCH":  # kube's SLI leaves long-running requests out
                self.metrics.sli_duration.labels(*labels).observe(elapsed)
        if isinstance(result, StreamingResponse):
            gauge = self.metrics.longrunning.labels(*labels)
            result.hooks.append((gauge.inc, gauge.dec))
        return result

    # --- non-resource endpoints ----------------------------------------------------------
    async def _health(self, request: Request) -> Response:
        """/healthz, /livez, /readyz as kube's healthz handler writes them, each check real:
        the store answers a read (`sqlite`, or `etcd` as kube names it) and, except for
        liveness, the watch cache has loaded (`informer-sync`). `/readyz/<check>` asks one."""
        path = request.path.rstrip("/")
        if path == "/version":
            return json_response(KUBE_VERSION, request)
        parts = path.split("/")
        name = parts[1]
        store = self.api.registry.store
        checks: list[tuple[str, str | None]] = [("ping", None), ("log", None)]
        try:
            await asyncio.wait_for(store.check_health(), _STORE_CHECK_TIMEOUT)
            checks.append((store.health_check_name, None))
        except (StorageError, TimeoutError) as exc:
            log.warning("%s check: %s", store.health_check_name, exc or "timed out")
            checks.append((store.health_check_name, "reason withheld"))
        if name != "livez":
            checks.append(("informer-sync", None if self.ready else "reason withheld"))
        if len(parts) > 2:
            wanted = "/".join(parts[2:])
            checks = [c for c in checks if c[0] == wanted]
            if not checks:
                raise StatusError.no_route()
        ok = all(reason is None for _, reason in checks)
        if ok and "verbose" not in request.query:
            text = "ok"
        else:  # kube lists every check when asked to, or when one failed
            lines = [f"[+]{c} ok" if r is None else f"[-]{c} failed: {r}" for c, r in checks]
            verdict = f"{name} check passed" if ok else f"{name} check failed"
            text = "\n".join([*lines, verdict]) + "\n"
        headers = [*common_headers(), ("X-Content-Type-Options", "nosniff")]
        return Response(200 if ok else 500, text.encode(), "text/plain; charset=utf-8", headers)

    def _discovery_root(self, request: Request, path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise StatusError.method_not_allowed()
        media = negotiate(request)
        docs = self.docs
        if media.discovery_v2 and path in ("/api", "/apis"):
            body = docs.aggregated_api() if path == "/api" else docs.aggregated_apis()
            which = path.strip("/")
            etag = docs.discovery_etag(which)
            headers = [*common_headers(), ("Etag", f'"{etag}"'), ("Vary", "Accept")]
            if request.headers.get("if-none-match", "").strip('"') == etag:
                return Response(304, b"", "", headers)
            ctype = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            return Response(200, body, ctype, headers)
        if path == "/api":
            return _bytes(docs.api_versions(), request)
        if path == "/apis":
            return _bytes(docs.api_group_list(), request)
        group = path.split("/")[2]
        found = docs.api_group(group)
        if found is None:
            raise StatusError.no_route()
        return _bytes(found, request)

    def _openapi(self, request: Request, path: str) -> Response:
        docs = self.docs
        if path == "/openapi/v2":
            accept = request.headers.get("accept", "")
            if "protobuf" in accept and "application/json" not in accept.split(";")[0]:
                body, etag = docs.openapi_v2_protobuf()
                return _static(body, request, etag=etag, ctype=_V2_PROTOBUF)
            body, etag = docs.openapi_v2()
            return _static(body, request, etag=etag, ctype="application/json")
        if path == "/openapi/v3":
            return _static(
                docs.openapi_v3_index(), request, etag="", ctype="text/plain; charset=utf-8"
            )
        found = docs.openapi_v3_group_version(path[len("/openapi/v3/") :])
        if found is None:
            raise StatusError.no_route()
        body, digest = found
        response = _static(body, request, etag=digest, ctype="application/json")
        if request.param("hash"):
            response.headers.append(("Cache-Control", "public, immutable"))
        return response


def _bytes(body: bytes, request: Request) -> Response:
    if "pretty" in request.query or request.headers.get("user-agent", "").lower().startswith(
        ("curl", "wget", "mozilla/")
    ):
        return json_response(orjson.loads(body), request)
    return Response(200, body, "application/json", common_headers())


def _static(body: bytes, request: Request, *, etag: str, ctype: str) -> Response:
    headers: list[tuple[str, str]] = [("Audit-Id", common_headers()[0][1])]
    if etag:
        headers.append(("Etag", f'"{etag}"'))
        if request.headers.get("if-none-match", "").strip('"') == etag:
            return Response(304, b"", "", headers)
    headers.append(("Last-Modified", "Wed, 25 Nov 2026 00:00:00 GMT"))
    return Response(200, body, ctype, headers)
