"""OpenAPI v2 (`/openapi/v2`) and v3 (`/openapi/v3/...`) documents for the served types.

Both render the same `Route`s from `operations`. As kube-openapi does, parameters shared by
every operation of a path move to the path; v2 then hoists each distinct parameter into the
top-level `parameters` map under `<name>-<hash>`, and carries every definition its paths reach;
each v3 document (one per group-version, plus `api`, `apis`, `apis/<group>`, `version`) holds
inline parameters and only the schemas its own paths reach. ETags and v3 hashes are the
uppercase hex SHA-512 of the JSON bytes, as kube-openapi computes them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from strom.registry.apidocs.convert import (
    V2_PREFIX,
    V3_PREFIX,
    builtin_definition,
    crd_definitions,
    ref_closure,
)
from strom.registry.apidocs.operations import Operation, Route
from strom.registry.apidocs.params import Param
from strom.registry.kinds import ResourceType

__all__ = ["etag", "render_v2", "render_v3_documents"]

_METHODS = ("get", "put", "post", "delete", "patch")
_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
_BEARER_DOC = "Bearer Token authentication"


def etag(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest().upper()


def _info(server_version: str) -> dict[str, str]:
    major_minor = ".".join(server_version.lstrip("v").split(".")[:2])
    return {"title": "Kubernetes", "version": major_minor}


def _split_common(ops: Sequence[Operation]) -> tuple[list[Param], list[list[Param]]]:
    """Parameters every operation shares (sorted by name) and what is left per operation."""
    # Bodies stay on their operation: v3 has no body parameters, and kube keeps them there.
    common = {p for p in ops[0].params if p.location != "body"}.intersection(
        *(op.params for op in ops[1:])
    )
    shared = sorted(common, key=lambda p: (p.name, p.location))
    own = [sorted((p for p in op.params if p not in common), key=lambda p: p.name) for op in ops]
    return shared, own


def _sorted_ops(route: Route) -> list[Operation]:
    return sorted(route.operations, key=lambda op: _METHODS.index(op.method))


# ---- v2 -------------------------------------------------------------------------------------


def _v2_param(param: Param) -> dict[str, Any]:
    if param.location == "body":
        body: dict[str, Any] = {"name": "body", "in": "body"}
        if param.required:
            body["required"] = True
        body["schema"] = {"$ref": V2_PREFIX + param.schema_ref}
        return body
    out: dict[str, Any] = {"uniqueItems": True, "type": param.type}
    if param.description:
        out["description"] = param.description
    out["name"] = param.name
    out["in"] = param.location
    if param.required:
        out["required"] = True
    return out


def _param_key(param_json: bytes, name: str) -> str:
    digest = hashlib.sha224(param_json).digest()[:6]
    return f"{name}-{base64.urlsafe_b64encode(digest).decode()}"


class _SharedParams:
    """kube-openapi's collectSharedParameters: every distinct parameter once, by hashed name."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, Any]] = {}

    def ref(self, param: Param) -> dict[str, str]:
        rendered = _v2_param(param)
        key = _param_key(orjson.dumps(rendered), param.name)
        self.by_name.setdefault(key, rendered)
        return {"$ref": f"#/parameters/{key}"}


def _v2_responses(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, description, ref in op.responses:
        out[code] = {"description": description}
        if ref:
            out[code]["schema"] = {"$ref": V2_PREFIX + ref}
    return out


def _v2_gvk(op: Operation) -> dict[str, str] | None:
    if op.gvk is None:
        return None
    group, version, kind = op.gvk
    return {"group": group, "kind": kind, "version": version}


def _v2_operation(op: Operation, own: list[Param], shared: _SharedParams) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": op.description,
        "consumes": list(op.consumes),
        "produces": list(op.produces),
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.operation_id,
    }
    if own:
        out["parameters"] = [shared.ref(p) for p in own]
    out["responses"] = _v2_responses(op)
    if op.action:
        out["x-kubernetes-action"] = op.action
        out["x-kubernetes-group-version-kind"] = _v2_gvk(op)
    return out


def _v2_path(route: Route, shared: _SharedParams) -> dict[str, Any]:
    ops = _sorted_ops(route)
    common, own = _split_common(ops)
    item: dict[str, Any] = {
        op.method: _v2_operation(op, mine, shared) for op, mine in zip(ops, own, strict=True)
    }
    if common:
        item["parameters"] = [shared.ref(p) for p in common]
    return item


def _referenced(routes: Iterable[Route]) -> set[str]:
    refs: set[str] = set()
    for route in routes:
        for op in route.operations:
            refs.update(ref for _, _, ref in op.responses if ref)
            refs.update(p.schema_ref for p in op.params if p.schema_ref)
    return refs


def _custom_schemas(types: Iterable[ResourceType], version: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rt in types:
        if rt.crd is not None:
            out.update(crd_definitions(rt, version))
    return out


def _definitions(
    routes: Sequence[Route], custom: dict[str, dict[str, Any]], version: int
) -> dict[str, Any]:
    names = ref_closure(_referenced(routes), custom)
    return {n: custom[n] if n in custom else builtin_definition(n, version) for n in names}


def render_v2(
    routes: Sequence[Route], types: Sequence[ResourceType], *, server_version: str
) -> bytes:
    shared = _SharedParams()
    paths = {r.path: _v2_path(r, shared) for r in sorted(routes, key=lambda r: r.path)}
    doc = {
        "swagger": "2.0",
        "info": _info(server_version),
        "paths": paths,
        "definitions": _definitions(routes, _custom_schemas(types, 2), 2),
        "parameters": dict(sorted(shared.by_name.items())),
        "securityDefinitions": {
            "BearerToken": {
                "description": _BEARER_DOC,
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": _SECURITY,
    }
    return orjson.dumps(doc)


# ---- v3 -------------------------------------------------------------------------------------


def _v3_param(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "in": param.location}
    if param.description:
        out["description"] = param.description
    if param.required:
        out["required"] = True
    out["schema"] = {"type": param.type, "uniqueItems": True}
    return out


def _content(media_types: Iterable[str], ref: str) -> dict[str, Any]:
    return {m: {"schema": {"$ref": V3_PREFIX + ref}} for m in sorted(media_types)}


def _v3_request_body(op: Operation, body: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"content": _content(op.consumes, body.schema_ref)}
    if body.required:
        out["required"] = True
    return out


def _v3_responses(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, description, ref in op.responses:
        out[code] = {"description": description}
        if ref:
            out[code]["content"] = _content(op.produces, ref)
    return out


def _v3_operation(op: Operation, own: list[Param]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.operation_id,
    }
    query = [p for p in own if p.location != "body"]
    if query:
        out["parameters"] = [_v3_param(p) for p in query]
    body = next((p for p in own if p.location == "body"), None)
    if body is not None:
        out["requestBody"] = _v3_request_body(op, body)
    out["responses"] = _v3_responses(op)
    if op.action and op.gvk is not None:
        group, version, kind = op.gvk
        out["x-kubernetes-action"] = op.action
        out["x-kubernetes-group-version-kind"] = {"group": group, "version": version, "kind": kind}
    return out


def _v3_path(route: Route) -> dict[str, Any]:
    ops = _sorted_ops(route)
    common, own = _split_common(ops)
    item: dict[str, Any] = {
        op.method: _v3_operation(op, mine) for op, mine in zip(ops, own, strict=True)
    }
    if common:
        item["parameters"] = [_v3_param(p) for p in common]
    return item


def _v3_document(
    routes: Sequence[Route], custom: dict[str, dict[str, Any]], *, server_version: str
) -> bytes:
    doc = {
        "openapi": "3.0.0",
        "info": _info(server_version),
        "paths": {r.path: _v3_path(r) for r in sorted(routes, key=lambda r: r.path)},
        "components": {
            "schemas": _definitions(routes, custom, 3),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": _BEARER_DOC,
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": _SECURITY,
    }
    return orjson.dumps(doc)


def render_v3_documents(
    routes: Sequence[Route], types: Sequence[ResourceType], *, server_version: str
) -> dict[str, bytes]:
    """One v3 document per `Route.doc` key (`api/v1`, `apis/apps`, `version`, ...)."""
    by_doc: dict[str, list[Route]] = {}
    for route in routes:
        by_doc.setdefault(route.doc, []).append(route)
    custom = _custom_schemas(types, 3)
    return {
        key: _v3_document(doc_routes, custom, server_version=server_version)
        for key, doc_routes in sorted(by_doc.items())
    }
