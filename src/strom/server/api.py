"""Resource endpoints: verbs on collections and objects, bodies in, objects out.

The registry works with dicts and stored bytes; this module decides verbs from methods and
paths, decodes bodies (JSON or YAML), reads query options, and encodes results in the
negotiated media type. Stored bytes go out untouched where possible: a get is the type prefix
plus the stored object, a list a join of stored objects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from strom.auth.reviews import access_review, rules_review, token_review
from strom.auth.services import TOKEN_REQUEST, AuthServices
from strom.cache.state import Entry
from strom.errors import StatusError
from strom.registry.conversion import item_bytes, needs_conversion
from strom.registry.defaults.structural import apply_schema_defaults, read_defaults
from strom.registry.kinds import ResourceType
from strom.registry.listing import ListOptions, ListPage, list_objects
from strom.registry.meta import now_rfc3339, type_prefix
from strom.registry.pod_subresources import bind_pod, evict_pod
from strom.registry.rest import Registry, WriteResult
from strom.registry.scale_endpoint import ScaleEndpoint
from strom.registry.tables import to_table
from strom.registry.types import TypeTable
from strom.server.component_status import (
    DEPRECATION_WARNING,
    component_status,
    component_status_list,
)
from strom.server.crd_versions import deprecation_warning, storage_schema
from strom.server.http import Request, Response, StreamingResponse
from strom.server.monitor import Monitor
from strom.server.request_options import (
    decode_body,
    delete_options,
    list_options,
    patch_type,
    write_options,
)
from strom.server.responses import (
    MediaType,
    created_status_response,
    json_response,
    negotiate,
    partial_object_metadata,
    raw_response,
    success_status_response,
)
from strom.server.routes import ResourcePath
from strom.server.watch import WatchConfig, open_watch
from strom.user import UserInfo, user_info_dict

__all__ = ["ResourceAPI"]


class ResourceAPI:
    def __init__(
        self,
        *,
        registry: Registry,
        types: TypeTable,
        auth: AuthServices,
        watch_config: WatchConfig | None = None,
    ) -> None:
        self.registry = registry
        self.auth = auth
        self.types = types
        self.watch_config = watch_config or WatchConfig()
        self.monitor: Monitor | None = None  # the live view's registry (set by the App)
        # One encoder object per resource type: watch frames are cached by encoder identity.
        # rt -> (that very rt, its encoder): a CRD update makes an equal rt with a new schema
        self._encoders: dict[ResourceType, tuple[ResourceType, Callable[[bytes], bytes]]] = {}

    def encoder(self, rt: ResourceType) -> Callable[[bytes], bytes]:
        cached = self._encoders.get(rt)
        if cached is not None and cached[0] is rt:
            return cached[1]
        enc = functools.partial(self.object_bytes, rt)
        self._encoders[rt] = (rt, enc)
        return enc

    async def _watch(
        self, request: Request, rp: ResourcePath, rt: ResourceType, media: MediaType
    ) -> StreamingResponse:
        if "watch" not in rt.verbs:
            raise StatusError.method_not_allowed()
        opts = list_options(request, rt)
        converter = self.registry.converter if rt.webhook_converted else None
        return await open_watch(
            request=request,
            rt=rt,
            namespace=rp.namespace,
            name=rp.name,
            cache=self.registry.cache,
            encoder=_stored_as_is if converter is not None else self.encoder(rt),
            media=media,
            label=opts.label,
            field=opts.field,
            config=self.watch_config,
            converter=converter,
            monitor=self.monitor,
            user=request.username,
        )

    # --- encoding ------------------------------------------------------------------------
    def object_bytes(self, rt: ResourceType, value: bytes) -> bytes:
        """Stored bytes as a client sees them: with kind and apiVersion of `rt`, and for a
        custom resource the storage version's schema defaults, as kube applies them on read
        (an object stored before its CRD gained a default shows it)."""
        if rt.crd is None:
            return type_prefix(rt.kind, rt.api_version) + item_bytes(rt, value)[1:]
        schema = read_defaults(storage_schema(self.types, rt))
        if schema is not None or (rt.storage_version and rt.storage_version != rt.version):
            obj = orjson.loads(value)
            if schema is not None:
                apply_schema_defaults(schema, obj)
            obj["apiVersion"] = rt.api_version
            return orjson.dumps(obj)
        return value

    def _object_response(
        self,
        rt: ResourceType,
        request: Request,
        obj: dict[str, Any],
        media: MediaType,
        *,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> Response:
        if media.partial_metadata:
            response = json_response(
                partial_object_metadata(obj, media), request, status=status, media=media
            )
        elif media.table:
            table = to_table(
                rt=rt,
                objects=[obj],
                include_object=request.param("includeObject") or "Metadata",
                resource_version=(obj.get("metadata") or {}).get("resourceVersion", ""),
                now=datetime.now(UTC),
            )
            response = json_response(table, request, status=status)
        else:
            body = self.object_bytes(rt, orjson.dumps(obj))
            response = raw_response(body, request, status=status, media=media)
        for w in warnings or ():
            response.headers.append(("Warning", f'299 - "{_escape(w)}"'))
        return response

    def _list_response(
        self, rt: ResourceType, request: Request, page: ListPage, media: MediaType
    ) -> Response:
        if media.table:
            table = to_table(
                rt=rt,
                objects=[e.obj for e in page.items],
                include_object=request.param("includeObject") or "Metadata",
                resource_version=str(page.rev),
                continue_token=page.continue_token,
                remaining=page.remaining,
                now=datetime.now(UTC),
            )
            return json_response(table, request)
        meta: dict[str, Any] = {"resourceVersion": str(page.rev)}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if page.remaining:
            meta["remainingItemCount"] = page.remaining
        if media.partial_metadata:
            partial: dict[str, Any] = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{media.partial_version}",
                "metadata": meta,
                "items": [partial_object_metadata(e.obj, media) for e in page.items],
            }
            return json_response(partial, request, media=media)
        head = b'{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[' % (
            rt.list_kind.encode(),
            rt.api_version.encode(),
            orjson.dumps(meta),
        )
        if rt.crd is not None and (
            (rt.storage_version and rt.storage_version != rt.version)
            or read_defaults(storage_schema(self.types, rt)) is not None
        ):
            items = [self.object_bytes(rt, e.value) for e in page.items]
        elif needs_conversion(rt):
            items = [item_bytes(rt, e.value) for e in page.items]
        else:
            items = [e.value for e in page.items]
        body = head + b",".join(items) + b"]}"
        return raw_response(body, request, media=media)

    def _delete_response(
        self, rt: ResourceType, request: Request, result: WriteResult, media: MediaType
    ) -> Response:
        strategy = self.registry.strategy(rt)
        if result.deleted and not strategy.return_deleted_object:
            meta = result.obj.get("metadata") or {}
            details: dict[str, Any] = {"name": meta.get("name", "")}
            if rt.group:
                details["group"] = rt.group
            details["kind"] = rt.plural
            details["uid"] = meta.get("uid", "")
            return success_status_response(details, request, media=media)
        return self._object_response(rt, request, result.obj, media)

    # --- dispatch ------------------------------------------------------------------------
    async def handle(
        self, request: Request, rp: ResourcePath, rt: ResourceType, user: UserInfo
    ) -> Response | StreamingResponse:
        method = request.method
        if rt.verbs == ("create",):
            if method != "POST" or rp.name:
                raise StatusError.method_not_allowed()
            return await self._virtual(request, rp, rt, user)
        if rt.crd is None and rt.group == "" and rt.plural == "componentstatuses":
            return await self._component_statuses(request, rp, rt)
        if rp.subresource and rp.subresource not in rt.subresources:
            raise StatusError.no_route()
        if rt.namespaced and rp.name and not rp.namespace:
            raise StatusError.no_route()
        if not rt.namespaced and rp.namespace:
            raise StatusError.no_route()
        if rp.subresource == "token" and rt.plural == "serviceaccounts":
            return await self._token_request(request, rp, user)
        listing = not rp.name and not (rp.watch_prefix or request.flag("watch") is True)
        media = negotiate(request, list_endpoint=listing)
        if not rp.name:
            response = await self._collection(request, rp, rt, media, user)
        else:
            response = await self._item(request, rp, rt, media, user)
        if rt.crd is not None and rt.crd.get("deprecated") is True:
            warning = _escape(deprecation_warning(self.types, rt))
            response.headers.append(("Warning", f'299 - "{warning}"'))
        return response

    async def _collection(
        self,
        request: Request,
        rp: ResourcePath,
        rt: ResourceType,
        media: MediaType,
        user: UserInfo,
    ) -> Response | StreamingResponse:
        method = request.method
        if method in ("GET", "HEAD"):
            if rp.watch_prefix or request.flag("watch") is True:
                return await self._watch(request, rp, rt, media)
            opts = list_options(request, rt)
            page = await list_objects(
                rt=rt,
                namespace=rp.namespace,
                opts=opts,
                cache=self.registry.cache,
                store=self.registry.store,
            )
            if rt.webhook_converted and page.items:
                page = await self._converted_page(rt, page)
            return self._list_response(rt, request, page, media)
        if method == "POST":
            if "create" not in rt.verbs:
                raise StatusError.method_not_allowed()
            body = decode_body(request, rt)
            wopts = write_options(request, user)
            result = await self.registry.create(rt, rp.namespace, body, wopts)
            if rt.plural == "customresourcedefinitions" and not wopts.dry_run:
                await self._wait_crd_served(result.obj)
            return self._object_response(
                rt,
                request,
                await self.registry.in_version(rt, result.obj),
                media,
                status=201,
                warnings=result.warnings,
            )
        if method == "DELETE":
            if "deletecollection" not in rt.verbs:
                raise StatusError.method_not_allowed()
            return await self._delete_collection(request, rp, rt, media, user)
        raise StatusError.method_not_allowed()

    async def _converted_page(self, rt: ResourceType, page: ListPage) -> ListPage:
        """A page of stored custom resources in the requested version (one webhook call)."""
        assert self.registry.converter is not None
        objects = await self.registry.converter.convert(
            rt, [e.obj for e in page.items], rt.api_version
        )
        items = [
            Entry(e.key, e.rev, orjson.dumps(obj), obj)
            for e, obj in zip(page.items, objects, strict=True)
        ]
        return dataclasses.replace(page, items=items)

    async def _wait_crd_served(self, crd: dict[str, Any]) -> None:
        """Answer a CRD create only once its resource is served (no 404/429 window)."""
        meta = crd.get("metadata") or {}
        rev = int(meta.get("resourceVersion") or 0)
        with contextlib.suppress(TimeoutError):
            await self.types.wait_for_crd(meta.get("name", ""), rev, timeout=10)

    async def _component_statuses(
        self, request: Request, rp: ResourcePath, rt: ResourceType
    ) -> Response:
        """Read-only and probed on every request (server/component_status.py)."""
        watching = rp.watch_prefix or request.flag("watch") is True
        if request.method not in ("GET", "HEAD") or watching or rp.subresource:
            raise StatusError.method_not_allowed()
        media = negotiate(request, list_endpoint=not rp.name)
        store = self.registry.store
        if rp.name:
            obj = await component_status(store, rp.name)
            response = self._object_response(rt, request, obj, media)
        elif media.table:
            objects = [
                {"kind": rt.kind, "apiVersion": rt.api_version, **o}
                for o in await component_status_list(store)
            ]
            table = to_table(
                rt=rt,
                objects=objects,
                include_object=request.param("includeObject") or "Metadata",
                resource_version="",
                now=datetime.now(UTC),
            )
            response = json_response(table, request)
        else:
            body: dict[str, Any] = {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {},
                "items": await component_status_list(store),
            }
            response = json_response(body, request, media=media)
        response.headers.append(("Warning", f'299 - "{DEPRECATION_WARNING}"'))
        return response

    async def _item(
        self,
        request: Request,
        rp: ResourcePath,
        rt: ResourceType,
        media: MediaType,
        user: UserInfo,
    ) -> Response | StreamingResponse:
        method = request.method
        if (
            method in ("GET", "HEAD")
            and (rp.watch_prefix or request.flag("watch") is True)
            and not rp.subresource
        ):
            return await self._watch(request, rp, rt, media)
        if rp.subresource in ("binding", "eviction"):
            if method != "POST":
                raise StatusError.method_not_allowed()
            kind = "Binding" if rp.subresource == "binding" else "Eviction"
            body = decode_body(request, dataclasses.replace(rt, kind=kind))
            if rp.subresource == "binding":
                await bind_pod(self.registry, rp.namespace, rp.name, body, from_pod=True)
            else:
                await evict_pod(self.registry, rp.namespace, rp.name, body)
            return created_status_response(request, media=media)
        if rp.subresource == "scale":
            return await self._scale(request, rp, rt, media, user)
        if rp.subresource == "finalize":
            if method != "PUT":
                raise StatusError.method_not_allowed()
            result = await self.registry.finalize(
                rt, rp.name, decode_body(request, rt), write_options(request, user)
            )
            return self._object_response(rt, request, result.obj, media)
        if method in ("GET", "HEAD"):
            if not request.param("resourceVersion"):
                await self.registry.cache.sync()  # consistent read (other replicas' writes)
            entry = self.registry.get(rt, rp.namespace, rp.name)
            if rt.webhook_converted:
                converted = await self.registry.in_version(rt, entry.obj)
                return self._object_response(rt, request, converted, media)
            if media.table or media.partial_metadata:
                return self._object_response(rt, request, entry.obj, media)
            return raw_response(self.object_bytes(rt, entry.value), request, media=media)
        if method == "PUT":
            body = decode_body(request, rt)
            result = await self.registry.update(
                rt,
                rp.namespace,
                rp.name,
                body,
                write_options(request, user),
                subresource=rp.subresource,
            )
            return await self._write_response(rt, request, result, media)
        if method == "PATCH":
            content_type = patch_type(request)
            result = await self.registry.patch(
                rt,
                rp.namespace,
                rp.name,
                request.body,
                content_type,
                write_options(request, user),
                subresource=rp.subresource,
            )
            return await self._write_response(rt, request, result, media)
        if method == "DELETE":
            if rp.subresource:
                raise StatusError.method_not_allowed()
            opts = delete_options(request, user)
            result = await self.registry.delete(rt, rp.namespace, rp.name, opts)
            result.obj = await self.registry.in_version(rt, result.obj)
            return self._delete_response(rt, request, result, media)
        raise StatusError.method_not_allowed()

    async def _write_response(
        self, rt: ResourceType, request: Request, result: WriteResult, media: MediaType
    ) -> Response:
        """A PUT's or PATCH's answer: the object, 201 when the write created it."""
        return self._object_response(
            rt,
            request,
            await self.registry.in_version(rt, result.obj),
            media,
            status=201 if result.created else 200,
            warnings=result.warnings,
        )

    async def _scale(
        self,
        request: Request,
        rp: ResourcePath,
        rt: ResourceType,
        media: MediaType,
        user: UserInfo,
    ) -> Response:
        endpoint = ScaleEndpoint(self.registry)
        method = request.method
        if method in ("GET", "HEAD"):
            if not request.param("resourceVersion"):
                await self.registry.cache.sync()
            scale = endpoint.get(rt, rp.namespace, rp.name)
        elif method == "PUT":
            body = decode_body(request, dataclasses.replace(rt, kind="Scale"))
            scale = await endpoint.update(
                rt, rp.namespace, rp.name, body, write_options(request, user)
            )
        elif method == "PATCH":
            scale = await endpoint.patch(
                rt,
                rp.namespace,
                rp.name,
                request.body,
                patch_type(request),
                write_options(request, user),
            )
        else:
            raise StatusError.method_not_allowed()
        return json_response(scale, request, media=media)

    async def _delete_collection(
        self,
        request: Request,
        rp: ResourcePath,
        rt: ResourceType,
        media: MediaType,
        user: UserInfo,
    ) -> Response:
        opts = list_options(request, rt)
        delete_opts = delete_options(request, user)
        page = await list_objects(
            rt=rt,
            namespace=rp.namespace,
            opts=ListOptions(label=opts.label, field=opts.field),
            cache=self.registry.cache,
            store=self.registry.store,
        )
        deleted: list[dict[str, Any]] = []
        for entry in page.items:
            meta = entry.obj.get("metadata") or {}
            try:
                result = await self.registry.delete(
                    rt, meta.get("namespace", ""), meta.get("name", ""), delete_opts
                )
            except StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(result.obj)
        body = {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(self.registry.cache.rev)},
            "items": deleted,
        }
        return json_response(body, request, media=media)

    async def _virtual(
        self, request: Request, rp: ResourcePath, rt: ResourceType, user: UserInfo
    ) -> Response:
        if rt.group == "" and rt.plural == "bindings":
            body = decode_body(request, rt)
            name = str((body.get("metadata") or {}).get("name") or "")
            await bind_pod(self.registry, rp.namespace, name, body, from_pod=False)
            return created_status_response(request)
        if rt.plural == "selfsubjectreviews":
            # The request carries nothing but its type (kubectl sends it as protobuf): the
            # answer depends only on who asks, so the body is not decoded.
            out = {
                "kind": rt.kind,
                "apiVersion": rt.api_version,
                "metadata": {"creationTimestamp": now_rfc3339()},
                "status": {"userInfo": user_info_dict(user)},
            }
            return json_response(out, request, status=201)
        if rt.namespaced and not rp.namespace:
            raise StatusError.no_route()
        body = decode_body(request, rt)
        auth = self.auth
        if rt.plural == "selfsubjectrulesreviews":
            out = rules_review(body, api_version=rt.api_version, resolver=auth.rules, user=user)
        elif rt.plural == "tokenreviews":
            out = token_review(
                body,
                api_version=rt.api_version,
                authenticate=auth.authenticate_token,
                api_audiences=list(auth.api_audiences),
            )
        else:
            out = access_review(
                body,
                kind=rt.kind,
                api_version=rt.api_version,
                authorizer=auth.authorizer,
                requestor=user,
                namespace=rp.namespace,
            )
        return json_response(out, request, status=201)

    async def _token_request(self, request: Request, rp: ResourcePath, user: UserInfo) -> Response:
        if request.method != "POST":
            raise StatusError.method_not_allowed()
        issuer = self.auth.token_requests
        if issuer is None:
            raise StatusError.no_route()
        body = decode_body(request, TOKEN_REQUEST)
        out = await issuer.create(
            rp.namespace, rp.name, body, dry_run=write_options(request).dry_run
        )
        return json_response(out, request, status=201)


def _stored_as_is(value: bytes) -> bytes:
    """The encoder of a webhook-converted watch: the converter rewrites the objects."""
    return value


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
