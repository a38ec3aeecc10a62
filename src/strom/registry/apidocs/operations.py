"""The REST operations kube-apiserver's installer registers for each served resource.

One neutral description per operation (path, method, `x-kubernetes-action`, operationId,
parameters, responses) that the v2 and v3 renderers both read, so the two documents can never
disagree. Names follow apiserver's endpoint installer and `GetOperationIDAndTags`: the group
with `.k8s.io` trimmed and camel-cased (`rbacAuthorization`), `Namespaced` for namespaced
kinds, `ForAllNamespaces` for the cross-namespace list and watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strom.registry import schemas
from strom.registry.apidocs import params as P
from strom.registry.apidocs.convert import crd_definition_name
from strom.registry.kinds import ResourceType

__all__ = ["Operation", "Route", "discovery_routes", "doc_key", "resource_routes"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
WATCH_EVENT = META + "WatchEvent"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

_JSON = "application/json"
_YAML = "application/yaml"
_PROTOBUF = "application/vnd.kubernetes.protobuf"
_STREAMS = ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
_BUILTIN_PRODUCES = (_JSON, _YAML, _PROTOBUF)
_CUSTOM_PRODUCES = (_JSON, _YAML)
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_CUSTOM_PATCH_TYPES = tuple(t for t in _PATCH_TYPES if "strategic" not in t)

# Registries that answer DELETE with the deleted object instead of a Status.
_DELETE_RETURNS_OBJECT = frozenset(
    {("", "pods"), ("", "services"), ("", "persistentvolumes"), ("", "persistentvolumeclaims")}
)


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP operation as both OpenAPI versions describe it."""

    method: str  # get, put, post, delete, patch
    action: str  # x-kubernetes-action; "" for discovery endpoints
    operation_id: str
    description: str
    tag: str
    gvk: tuple[str, str, str] | None
    params: tuple[P.Param, ...]
    responses: tuple[tuple[str, str, str], ...]  # (code, description, definition or "")
    consumes: tuple[str, ...] = ("*/*",)
    produces: tuple[str, ...] = _BUILTIN_PRODUCES


@dataclass(slots=True)
class Route:
    """A path and its operations; `doc` names the v3 document it belongs to (`api/v1`)."""

    path: str
    doc: str
    operations: list[Operation] = field(default_factory=list)


def _valid_id(text: str, *, capitalize_first: bool) -> str:
    """apiserver's ToValidOperationID: drop separators, capitalising the letter after each."""
    out: list[str] = []
    capitalize = capitalize_first
    for index, char in enumerate(text):
        if char.isalpha() or char == "_" or (index and char.isdigit()):
            out.append(char.upper() if capitalize else char)
            capitalize = False
        else:
            capitalize = True
    return "".join(out)


def _group_word(group: str) -> str:
    return (group or "core").removesuffix(".k8s.io")


def group_tag(group: str) -> str:
    return _valid_id(_group_word(group), capitalize_first=False)


def _gv_tag(group: str, version: str) -> str:
    return f"{group_tag(group)}_{_valid_id(version, capitalize_first=False)}"


def _gv_id(group: str, version: str) -> str:
    return _valid_id(_group_word(group), capitalize_first=True) + _valid_id(
        version, capitalize_first=True
    )


def gv_prefix(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def doc_key(group: str, version: str) -> str:
    return gv_prefix(group, version).lstrip("/")


def kind_definition(rt: ResourceType, kind: str) -> str:
    """Definition name for `kind` (the resource's kind or its List) in rt's group/version."""
    if rt.crd is not None:
        return crd_definition_name(rt.group, rt.version, kind)
    found = schemas.definition_name(rt.group, rt.version, kind)
    return found or crd_definition_name(rt.group or "core", rt.version, kind)


def _article(noun: str) -> str:
    """apiserver's getArticleForNoun: no article for plurals, `an` before vowels."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return " "
    return " an " if noun[:1].lower() in "aeiou" else " a "


def _ok(definition: str, *codes: str) -> tuple[tuple[str, str, str], ...]:
    names = {"200": "OK", "201": "Created", "202": "Accepted"}
    return (*((c, names[c], definition) for c in codes), ("401", "Unauthorized", ""))


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What every operation of one resource shares."""

    rt: ResourceType
    tag: str
    id_middle: str  # CoreV1 / AppsV1
    scope: str  # "Namespaced" or ""
    produces: tuple[str, ...]
    patch_types: tuple[str, ...]
    kind_ref: str
    list_ref: str

    @property
    def gvk(self) -> tuple[str, str, str]:
        return (self.rt.group, self.rt.version, self.rt.kind)


def _context(rt: ResourceType) -> _Ctx:
    custom = rt.crd is not None
    return _Ctx(
        rt=rt,
        tag=_gv_tag(rt.group, rt.version),
        id_middle=_gv_id(rt.group, rt.version),
        scope="Namespaced" if rt.namespaced else "",
        produces=_CUSTOM_PRODUCES if custom else _BUILTIN_PRODUCES,
        patch_types=_CUSTOM_PATCH_TYPES if custom else _PATCH_TYPES,
        kind_ref=kind_definition(rt, rt.kind),
        list_ref=kind_definition(rt, rt.list_kind),
    )


def _op(
    ctx: _Ctx,
    *,
    method: str,
    action: str,
    verb: str,
    suffix: str = "",
    description: str,
    params: tuple[P.Param, ...],
    responses: tuple[tuple[str, str, str], ...],
    gvk: tuple[str, str, str] | None = None,
    produces: tuple[str, ...] | None = None,
    consumes: tuple[str, ...] = ("*/*",),
) -> Operation:
    return Operation(
        method=method,
        action=action,
        operation_id=f"{verb}{ctx.id_middle}{suffix}",
        description=description,
        tag=ctx.tag,
        gvk=gvk or ctx.gvk,
        params=params,
        responses=responses,
        consumes=consumes,
        produces=produces or ctx.produces,
    )


def _list_produces(ctx: _Ctx) -> tuple[str, ...]:
    """List answers watch streams too; custom resources have no protobuf stream."""
    if ctx.rt.crd is not None:
        return (*ctx.produces, _STREAMS[0])
    return ctx.produces + _STREAMS


def _collection_ops(ctx: _Ctx, base: tuple[P.Param, ...]) -> list[Operation]:
    rt, kind = ctx.rt, ctx.rt.kind
    ops: list[Operation] = []
    if "list" in rt.verbs:
        what = "list or watch" if "watch" in rt.verbs else "list"
        ops.append(
            _op(
                ctx,
                method="get",
                action="list",
                verb="list",
                suffix=ctx.scope + kind,
                description=f"{what} objects of kind {kind}",
                params=base + P.LIST,
                responses=_ok(ctx.list_ref, "200"),
                produces=_list_produces(ctx),
            )
        )
    if "create" in rt.verbs:
        ops.append(
            _op(
                ctx,
                method="post",
                action="post",
                verb="create",
                suffix=ctx.scope + kind,
                description=f"create{_article(kind)}{kind}",
                params=(*base, P.body(ctx.kind_ref), *P.CREATE),
                responses=_ok(ctx.kind_ref, "200", "201", "202"),
            )
        )
    if "deletecollection" in rt.verbs:
        ops.append(
            _op(
                ctx,
                method="delete",
                action="deletecollection",
                verb="deleteCollection",
                suffix=ctx.scope + kind,
                description=f"delete collection of {kind}",
                params=(*base, P.body(DELETE_OPTIONS, required=False), *P.DELETE_COLLECTION),
                responses=_ok(STATUS, "200"),
            )
        )
    return ops


def _object_ops(ctx: _Ctx, base: tuple[P.Param, ...]) -> list[Operation]:
    rt, kind = ctx.rt, ctx.rt.kind
    suffix = ctx.scope + kind
    ops: list[Operation] = []
    if "get" in rt.verbs:
        ops.append(
            _op(
                ctx,
                method="get",
                action="get",
                verb="read",
                suffix=suffix,
                description=f"read the specified {kind}",
                params=base,
                responses=_ok(ctx.kind_ref, "200"),
            )
        )
    if "update" in rt.verbs:
        ops.append(
            _op(
                ctx,
                method="put",
                action="put",
                verb="replace",
                suffix=suffix,
                description=f"replace the specified {kind}",
                params=(*base, P.body(ctx.kind_ref), *P.UPDATE),
                responses=_ok(ctx.kind_ref, "200", "201"),
            )
        )
    if "delete" in rt.verbs:
        deleted = ctx.kind_ref if (rt.group, rt.plural) in _DELETE_RETURNS_OBJECT else STATUS
        ops.append(
            _op(
                ctx,
                method="delete",
                action="delete",
                verb="delete",
                suffix=suffix,
                description=f"delete{_article(kind)}{kind}",
                params=(*base, P.body(DELETE_OPTIONS, required=False), *P.DELETE),
                responses=_ok(deleted, "200", "202"),
            )
        )
    if "patch" in rt.verbs:
        ops.append(
            _op(
                ctx,
                method="patch",
                action="patch",
                verb="patch",
                suffix=suffix,
                description=f"partially update the specified {kind}",
                params=(*base, P.body(PATCH), *P.PATCH),
                responses=_ok(ctx.kind_ref, "200", "201"),
                consumes=ctx.patch_types,
            )
        )
    return ops


def _subresource_ops(ctx: _Ctx, sub: str, base: tuple[P.Param, ...]) -> list[Operation]:
    """status and scale answer get/put/patch; finalize only put. Others are not described."""
    kind = ctx.rt.kind
    suffix = ctx.scope + kind + sub.capitalize()
    if sub == "finalize":
        return [
            _op(
                ctx,
                method="put",
                action="put",
                verb="replace",
                suffix=suffix,
                description=f"replace finalize of the specified {kind}",
                params=(*base, P.body(ctx.kind_ref), *P.UPDATE),
                responses=_ok(ctx.kind_ref, "200", "201"),
            )
        ]
    if sub not in ("status", "scale"):
        return []
    ref, gvk = (SCALE, ("autoscaling", "v1", "Scale")) if sub == "scale" else (ctx.kind_ref, None)
    return [
        _op(
            ctx,
            method="get",
            action="get",
            verb="read",
            suffix=suffix,
            gvk=gvk,
            description=f"read {sub} of the specified {kind}",
            params=base,
            responses=_ok(ref, "200"),
        ),
        _op(
            ctx,
            method="put",
            action="put",
            verb="replace",
            suffix=suffix,
            gvk=gvk,
            description=f"replace {sub} of the specified {kind}",
            params=(*base, P.body(ref), *P.UPDATE),
            responses=_ok(ref, "200", "201"),
        ),
        _op(
            ctx,
            method="patch",
            action="patch",
            verb="patch",
            suffix=suffix,
            gvk=gvk,
            description=f"partially update {sub} of the specified {kind}",
            params=(*base, P.body(PATCH), *P.PATCH),
            responses=_ok(ref, "200", "201"),
            consumes=ctx.patch_types,
        ),
    ]


def _watch_ops(
    ctx: _Ctx, *, single: bool, all_namespaces: bool, base: tuple[P.Param, ...]
) -> list[Operation]:
    kind = ctx.rt.kind
    stream = _BUILTIN_PRODUCES + _STREAMS if ctx.rt.crd is None else (_JSON, _STREAMS[0])
    if single:
        return [
            _op(
                ctx,
                method="get",
                action="watch",
                verb="watch",
                suffix=ctx.scope + kind,
                description=f"watch changes to an object of kind {kind}. deprecated: use the "
                "'watch' parameter with a list operation instead, filtered to a single item with "
                "the 'fieldSelector' parameter.",
                params=base + P.LIST,
                responses=_ok(WATCH_EVENT, "200"),
                produces=stream,
            )
        ]
    scope = "" if all_namespaces else ctx.scope
    tail = "ForAllNamespaces" if all_namespaces else ""
    return [
        _op(
            ctx,
            method="get",
            action="watchlist",
            verb="watch",
            suffix=f"{scope}{kind}List{tail}",
            description=f"watch individual changes to a list of {kind}. deprecated: use the "
            "'watch' parameter with a list operation instead.",
            params=base + P.LIST,
            responses=_ok(WATCH_EVENT, "200"),
            produces=stream,
        )
    ]


def resource_routes(rt: ResourceType) -> list[Route]:
    """Every path kube serves for one resource, with its operations."""
    ctx = _context(rt)
    prefix, doc = gv_prefix(rt.group, rt.version), doc_key(rt.group, rt.version)
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    ns_params: tuple[P.Param, ...] = (P.namespace_param(),) if rt.namespaced else ()
    named = (P.name_param(rt.kind), *ns_params, P.PRETTY)
    routes = [
        Route(f"{prefix}{ns}/{rt.plural}", doc, _collection_ops(ctx, (*ns_params, P.PRETTY))),
        Route(f"{prefix}{ns}/{rt.plural}/{{name}}", doc, _object_ops(ctx, named)),
    ]
    for sub in sorted(rt.subresources):
        sub_named = (P.name_param("Scale" if sub == "scale" else rt.kind), *ns_params, P.PRETTY)
        routes.append(
            Route(
                f"{prefix}{ns}/{rt.plural}/{{name}}/{sub}",
                doc,
                _subresource_ops(ctx, sub, sub_named),
            )
        )
    if rt.namespaced and "list" in rt.verbs:
        list_all = _op(
            ctx,
            method="get",
            action="list",
            verb="list",
            suffix=f"{rt.kind}ForAllNamespaces",
            description=routes[0].operations[0].description,
            params=(P.PRETTY, *P.LIST),
            responses=_ok(ctx.list_ref, "200"),
            produces=routes[0].operations[0].produces,
        )
        routes.append(Route(f"{prefix}/{rt.plural}", doc, [list_all]))
    if "watch" in rt.verbs:
        routes.append(
            Route(
                f"{prefix}/watch{ns}/{rt.plural}",
                doc,
                _watch_ops(ctx, single=False, all_namespaces=False, base=(*ns_params, P.PRETTY)),
            )
        )
        routes.append(
            Route(
                f"{prefix}/watch{ns}/{rt.plural}/{{name}}",
                doc,
                _watch_ops(ctx, single=True, all_namespaces=False, base=named),
            )
        )
        if rt.namespaced:
            routes.append(
                Route(
                    f"{prefix}/watch/{rt.plural}",
                    doc,
                    _watch_ops(ctx, single=False, all_namespaces=True, base=(P.PRETTY,)),
                )
            )
    return [route for route in routes if route.operations]


def _discovery_op(
    *, op_id: str, description: str, tag: str, ref: str, media: tuple[str, ...] = _BUILTIN_PRODUCES
) -> Operation:
    return Operation(
        method="get",
        action="",
        operation_id=op_id,
        description=description,
        tag=tag,
        gvk=None,
        params=(),
        responses=_ok(ref, "200"),
        consumes=media,
        produces=media,
    )


def discovery_routes(groups: list[tuple[str, tuple[str, ...]]]) -> list[Route]:
    """The discovery and version endpoints; `groups` pairs each group with its versions."""
    routes = [
        Route(
            "/version/",
            "version",
            [
                _discovery_op(
                    op_id="getCodeVersion",
                    description="get the version information for this server",
                    tag="version",
                    ref="io.k8s.apimachinery.pkg.version.Info",
                    media=(_JSON,),
                )
            ],
        ),
        Route(
            "/apis/",
            "apis",
            [
                _discovery_op(
                    op_id="getAPIVersions",
                    description="get available API versions",
                    tag="apis",
                    ref=META + "APIGroupList",
                )
            ],
        ),
    ]
    for group, versions in groups:
        if not group:
            routes.append(
                Route(
                    "/api/",
                    "api",
                    [
                        _discovery_op(
                            op_id="getCoreAPIVersions",
                            description="get available API versions",
                            tag="core",
                            ref=META + "APIVersions",
                        )
                    ],
                )
            )
        else:
            group_id = _valid_id(_group_word(group), capitalize_first=True)
            routes.append(
                Route(
                    f"/apis/{group}/",
                    f"apis/{group}",
                    [
                        _discovery_op(
                            op_id=f"get{group_id}APIGroup",
                            description="get information of a group",
                            tag=group_tag(group),
                            ref=META + "APIGroup",
                        )
                    ],
                )
            )
        for version in versions:
            routes.append(
                Route(
                    f"{gv_prefix(group, version)}/",
                    doc_key(group, version),
                    [
                        _discovery_op(
                            op_id=f"get{_gv_id(group, version)}APIResources",
                            description="get available resources",
                            tag=_gv_tag(group, version),
                            ref=META + "APIResourceList",
                        )
                    ],
                )
            )
    return routes
