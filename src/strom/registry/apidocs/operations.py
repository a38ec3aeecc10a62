"""The REST operations kube-apiserver's installer registers for each served resource.

One neutral description per operation (path, method, `x-kubernetes-action`, operationId,
parameters, responses) that the v2 and v3 renderers both read, so the two documents can never
disagree. Names follow apiserver's endpoint installer and `GetOperationIDAndTags`: the group
with `.k8s.io` trimmed and camel-cased (`rbacAuthorization`), `Namespaced` for namespaced
kinds, `ForAllNamespaces` for the cross-namespace list and watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strom import mediatypes as mt
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

_JSON = mt.JSON
_YAML = mt.YAML
# strom answers in JSON and YAML only (protobuf is accepted in request bodies, never sent),
# so the documents claim no protobuf responses, unlike kube-apiserver's.
_STREAMS = (mt.WATCH_JSON,)
_BUILTIN_PRODUCES = (_JSON, _YAML)
_CUSTOM_PRODUCES = (_JSON, _YAML)
_PATCH_TYPES = mt.PATCH_TYPES
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


@dataclass(frozen=True, slots=True)
class _Spec:
    """One operation of apiserver's endpoint installer, as a row of the tables below.

    `body` and `response` name a definition through `_Ctx.ref` (self, list, status, options,
    patch, deleted, sub, event); `description` is formatted with kind, a (the article with its
    spaces), what (list or watch) and sub (the subresource).
    """

    requires: str  # the resource verb that makes kube install it; "" = always
    method: str
    action: str  # x-kubernetes-action
    id_verb: str  # first word of the operationId
    description: str
    response: str
    codes: tuple[str, ...] = ("200",)
    body: str = ""
    params: tuple[P.Param, ...] = ()
    consumes_patch: bool = False
    produces: str = ""  # "list" or "watch" when the operation also streams


_COLLECTION = (
    _Spec("list", "get", "list", "list", "{what} objects of kind {kind}", "list",
          params=P.LIST, produces="list"),
    _Spec("create", "post", "post", "create", "create{a}{kind}", "self", ("200", "201", "202"),
          body="self", params=P.CREATE),
    _Spec("deletecollection", "delete", "deletecollection", "deleteCollection",
          "delete collection of {kind}", "status", body="options", params=P.DELETE_COLLECTION),
)  # fmt: skip
_OBJECT = (
    _Spec("get", "get", "get", "read", "read the specified {kind}", "self"),
    _Spec("update", "put", "put", "replace", "replace the specified {kind}", "self",
          ("200", "201"), body="self", params=P.UPDATE),
    _Spec("delete", "delete", "delete", "delete", "delete{a}{kind}", "deleted", ("200", "202"),
          body="options", params=P.DELETE),
    _Spec("patch", "patch", "patch", "patch", "partially update the specified {kind}", "self",
          ("200", "201"), body="patch", params=P.PATCH, consumes_patch=True),
)  # fmt: skip
# status and scale answer get/put/patch (scale in autoscaling/v1's Scale); finalize only put.
_SUBRESOURCE = (
    _Spec("", "get", "get", "read", "read {sub} of the specified {kind}", "sub"),
    _Spec("", "put", "put", "replace", "replace {sub} of the specified {kind}", "sub",
          ("200", "201"), body="sub", params=P.UPDATE),
    _Spec("", "patch", "patch", "patch", "partially update {sub} of the specified {kind}", "sub",
          ("200", "201"), body="patch", params=P.PATCH, consumes_patch=True),
)  # fmt: skip
_FINALIZE = (
    _Spec("", "put", "put", "replace", "replace finalize of the specified {kind}", "self",
          ("200", "201"), body="self", params=P.UPDATE),
)  # fmt: skip
_WATCH_LIST = (
    _Spec("watch", "get", "watchlist", "watch",
          "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter"
          " with a list operation instead.", "event", params=P.LIST, produces="watch"),
)  # fmt: skip
_WATCH_ONE = (
    _Spec("watch", "get", "watch", "watch",
          "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with"
          " a list operation instead, filtered to a single item with the 'fieldSelector'"
          " parameter.", "event", params=P.LIST, produces="watch"),
)  # fmt: skip
_DESCRIBED_SUBRESOURCES = {"status": _SUBRESOURCE, "scale": _SUBRESOURCE, "finalize": _FINALIZE}


def _produces(ctx: _Ctx, kind: str) -> tuple[str, ...]:
    """List answers watch streams too; custom resources have no protobuf stream."""
    custom = ctx.rt.crd is not None
    if kind == "list":
        return (*ctx.produces, _STREAMS[0]) if custom else ctx.produces + _STREAMS
    if kind == "watch":
        return (_JSON, _STREAMS[0]) if custom else _BUILTIN_PRODUCES + _STREAMS
    return ctx.produces


def _operations(
    ctx: _Ctx,
    specs: tuple[_Spec, ...],
    *,
    base: tuple[P.Param, ...],
    suffix: str,
    sub: str = "",
) -> list[Operation]:
    rt = ctx.rt
    refs = {
        "self": ctx.kind_ref,
        "list": ctx.list_ref,
        "status": STATUS,
        "options": DELETE_OPTIONS,
        "patch": PATCH,
        "event": WATCH_EVENT,
        "deleted": ctx.kind_ref if (rt.group, rt.plural) in _DELETE_RETURNS_OBJECT else STATUS,
        "sub": SCALE if sub == "scale" else ctx.kind_ref,
    }
    gvk = ("autoscaling", "v1", "Scale") if sub == "scale" else ctx.gvk
    what = "list or watch" if "watch" in rt.verbs else "list"
    ops = []
    for spec in specs:
        if spec.requires and spec.requires not in rt.verbs:
            continue
        params = base
        if spec.body:
            params += (P.body(refs[spec.body], required=spec.body != "options"),)
        ops.append(
            Operation(
                method=spec.method,
                action=spec.action,
                operation_id=f"{spec.id_verb}{ctx.id_middle}{suffix}",
                description=spec.description.format(
                    kind=rt.kind, a=_article(rt.kind), what=what, sub=sub
                ),
                tag=ctx.tag,
                gvk=gvk,
                params=params + spec.params,
                responses=_ok(refs[spec.response], *spec.codes),
                consumes=ctx.patch_types if spec.consumes_patch else ("*/*",),
                produces=_produces(ctx, spec.produces),
            )
        )
    return ops


def resource_routes(rt: ResourceType) -> list[Route]:
    """Every path kube serves for one resource, with its operations."""
    ctx = _context(rt)
    prefix, doc = gv_prefix(rt.group, rt.version), doc_key(rt.group, rt.version)
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    ns_params: tuple[P.Param, ...] = (P.namespace_param(),) if rt.namespaced else ()
    collection = (*ns_params, P.PRETTY)
    named = (P.name_param(rt.kind), *ns_params, P.PRETTY)
    kind = ctx.scope + rt.kind  # operationId suffix: ReplaceNamespacedPod
    routes = [
        Route(
            f"{prefix}{ns}/{rt.plural}",
            doc,
            _operations(ctx, _COLLECTION, base=collection, suffix=kind),
        ),
        Route(
            f"{prefix}{ns}/{rt.plural}/{{name}}",
            doc,
            _operations(ctx, _OBJECT, base=named, suffix=kind),
        ),
    ]
    for sub in sorted(rt.subresources):
        sub_named = (P.name_param("Scale" if sub == "scale" else rt.kind), *ns_params, P.PRETTY)
        specs = _DESCRIBED_SUBRESOURCES.get(sub, ())
        ops = _operations(ctx, specs, base=sub_named, suffix=kind + sub.capitalize(), sub=sub)
        routes.append(Route(f"{prefix}{ns}/{rt.plural}/{{name}}/{sub}", doc, ops))
    if rt.namespaced:
        every = _operations(
            ctx, _COLLECTION[:1], base=(P.PRETTY,), suffix=f"{rt.kind}ForAllNamespaces"
        )
        routes.append(Route(f"{prefix}/{rt.plural}", doc, every))
    watch = f"{prefix}/watch{ns}/{rt.plural}"
    routes.append(
        Route(watch, doc, _operations(ctx, _WATCH_LIST, base=collection, suffix=f"{kind}List"))
    )
    routes.append(
        Route(watch + "/{name}", doc, _operations(ctx, _WATCH_ONE, base=named, suffix=kind))
    )
    if rt.namespaced:
        every = _operations(
            ctx, _WATCH_LIST, base=(P.PRETTY,), suffix=f"{rt.kind}ListForAllNamespaces"
        )
        routes.append(Route(f"{prefix}/watch/{rt.plural}", doc, every))
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
