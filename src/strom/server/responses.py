"""Turning results and `StatusError`s into responses, as kube-apiserver words them.

This is the one place a `StatusError` becomes a `Status` body. It also decides the media type
from `Accept` (JSON, YAML, or a meta.k8s.io Table), and pretty-prints for the user agents
kube-apiserver pretty-prints for (curl, Wget, browsers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from strom.errors import StatusError
from strom.gofmt import go_parse_bool
from strom.server.http import Request, Response
from strom.uids import random_uuid

__all__ = [
    "MediaType",
    "internal_error_response",
    "json_response",
    "negotiate",
    "raw_response",
    "status_response",
    "success_status_response",
    "watch_error_event",
]

_PRETTY_AGENTS = ("curl", "wget", "mozilla/")
# strom answers in JSON (or YAML); protobuf responses are not served, so a client that
# accepts nothing else gets kube-apiserver's 406 listing what is.
_NOT_ACCEPTABLE = "only the following media types are accepted: application/json, application/yaml"


def wants_pretty(request: Request) -> bool:
    pretty = request.param("pretty")
    if pretty:  # kube: strconv.ParseBool of a non-empty `pretty` decides, errors are false
        return go_parse_bool(pretty) is True
    ua = request.headers.get("user-agent", "").lower()
    return ua.startswith(_PRETTY_AGENTS)


def common_headers() -> list[tuple[str, str]]:
    return [("Audit-Id", random_uuid()), ("Cache-Control", "no-cache, private")]


def status_response(err: StatusError, request: Request) -> Response:
    headers = common_headers()
    if err.retry_after:
        headers.append(("Retry-After", str(err.retry_after)))
    status = err.to_status()
    if wants_pretty(request):
        body = orjson.dumps(status, option=orjson.OPT_INDENT_2) + b"\n"
    else:
        body = orjson.dumps(status)
    return Response(err.code, body, headers=headers, status_object=status)


def success_status_response(
    details: dict[str, Any], request: Request, *, media: MediaType | None = None
) -> Response:
    """The `Status` of success a delete answers with when the object is gone at once."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
    response = json_response(status, request, media=media or JSON)
    response.status_object = status
    return response


def created_status_response(request: Request, *, media: MediaType | None = None) -> Response:
    """201 with a Success `Status` and no details: what a binding or an eviction answers."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    response = json_response(status, request, status=201, media=media or JSON)
    response.status_object = status
    return response


def watch_error_event(err: StatusError) -> bytes:
    """The ERROR event that ends a watch stream (one JSON line, as kube's watch encoder
    frames it): the same `Status` a plain request would have got."""
    return b'{"type":"ERROR","object":%s}\n' % orjson.dumps(err.to_status())


@dataclass(frozen=True, slots=True)
class MediaType:
    """What the client accepts, as far as strom serves it."""

    yaml: bool = False
    table: bool = False  # as=Table;g=meta.k8s.io;v=v1
    partial_metadata: str = ""  # as=PartialObjectMetadata or PartialObjectMetadataList
    partial_version: str = "v1"  # its meta.k8s.io version
    discovery_v2: bool = False  # as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2


JSON = MediaType()


def partial_object_metadata(obj: dict[str, Any], media: MediaType) -> dict[str, Any]:
    """meta.AsPartialObjectMetadata: the object's metadata under PartialObjectMetadata."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{media.partial_version}",
        "metadata": obj.get("metadata") or {},
    }


def negotiate(request: Request, *, list_endpoint: bool = False) -> MediaType:
    """Pick the first acceptable media type from `Accept`, like kube-apiserver's negotiation."""
    accept = request.headers.get("accept", "")
    if not accept:
        return JSON
    for clause in accept.split(","):
        params = [p.strip() for p in clause.split(";")]
        base = params[0].lower()
        extra = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if base in ("application/json", "*/*", "application/*"):
            as_kind = extra.get("as", "")
            group = extra.get("g", "")
            if not as_kind:
                return JSON
            if (
                as_kind == "Table"
                and group == "meta.k8s.io"
                and extra.get("v") in ("v1", "v1beta1")
            ):
                return MediaType(table=True)
            # A list answers as PartialObjectMetadataList, an object or a watch event as
            # PartialObjectMetadata; the other shape is not offered here, so the next clause
            # of Accept decides (kube's endpoint restrictions).
            wanted = "PartialObjectMetadataList" if list_endpoint else "PartialObjectMetadata"
            if as_kind == wanted and group == "meta.k8s.io" and extra.get("v") in ("v1", "v1beta1"):
                return MediaType(partial_metadata=as_kind, partial_version=extra["v"])
            if (
                as_kind == "APIGroupDiscoveryList"
                and group == "apidiscovery.k8s.io"
                and extra.get("v") in ("v2", "v2beta1")
            ):
                return MediaType(discovery_v2=True)
            continue
        if base == "application/yaml" and "as" not in extra:
            return MediaType(yaml=True)
    raise StatusError.not_acceptable(_NOT_ACCEPTABLE)


def json_response(
    obj: Any,
    request: Request,
    *,
    status: int = 200,
    media: MediaType = JSON,
) -> Response:
    headers = common_headers()
    if media.yaml:
        body = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).encode()
        return Response(status, body, "application/yaml", headers)
    if wants_pretty(request):
        body = orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"
    else:
        body = orjson.dumps(obj)
    return Response(status, body, "application/json", headers)


def raw_response(
    body: bytes, request: Request, *, status: int = 200, media: MediaType = JSON
) -> Response:
    """A response from JSON bytes already serialized (the cache's fast path)."""
    if media.yaml or wants_pretty(request):
        return json_response(orjson.loads(body), request, status=status, media=media)
    return Response(status, body, "application/json", common_headers())


def internal_error_response(request: Request) -> Response:
    """The answer to a request whose handler raised: a 500 `Status` worded as kube's
    NewInternalError, and the connection closes after it (the failed handler may have left
    the connection's state unknown)."""
    response = status_response(StatusError.internal("unexpected error"), request)
    response.close_connection = True
    return response
