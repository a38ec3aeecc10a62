"""Request bodies and query options as kube-apiserver decodes them: the object in a write,
Create/Update/Patch/DeleteOptions and ListOptions from the query, the patch type from the
Content-Type. Split out of api.py, which decides verbs and encodes results."""

from __future__ import annotations

from typing import Any

import orjson

from strom import mediatypes as mt
from strom import yamljson
from strom.errors import Cause, StatusError
from strom.registry.apply import validate_field_manager
from strom.registry.kinds import ResourceType
from strom.registry.listing import ListOptions
from strom.registry.rest import DeleteOptions, WriteOptions
from strom.selectors import parse_field_selector, parse_label_selector
from strom.server.http import Request
from strom.server.protobuf import decode_k8s_protobuf
from strom.user import UserInfo

_PATCH_TYPES = (mt.JSON_PATCH, mt.MERGE_PATCH, mt.STRATEGIC_MERGE_PATCH, mt.APPLY_PATCH)

# The options object each write method decodes its query into (named in a 422).
_OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}


def media_base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_body(request: Request, rt: ResourceType) -> dict[str, Any]:
    """A JSON or YAML request body as a dict; 400/415 as kube-apiserver answers."""
    media = media_base(request.headers.get("content-type", "")) or mt.JSON
    body = request.body
    if media == mt.JSON:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            snippet = body[:64].decode("utf-8", "replace")
            raise StatusError.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get"
                f" version/kind; json parse error: {exc} ({snippet})"
            ) from exc
    elif media in mt.YAML_TYPES:
        try:
            obj = yamljson.load(body)
        except yamljson.YAMLError as exc:
            raise StatusError.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get"
                f" version/kind; yaml parse error: {exc}"
            ) from exc
    elif media == mt.PROTOBUF:
        # client-go (kubectl create, controllers) sends built-in kinds as protobuf.
        obj = decode_k8s_protobuf(body, expected_kind=rt.kind)
    else:
        raise StatusError.unsupported_media_type()
    if not isinstance(obj, dict):
        raise StatusError.bad_request(
            f"the object provided is unrecognized (must be of type {rt.kind}): couldn't get"
            " version/kind; json parse error: cannot unmarshal into Go value of type"
            " struct { APIVersion string; Kind string }"
        )
    request.decoded = obj
    return obj


def write_options(request: Request, user: UserInfo | None = None) -> WriteOptions:
    """Create/Update/PatchOptions from the query, validated as kube validates them (422
    naming the options kind; 400 for an unsupported dryRun or fieldValidation)."""
    field_manager = request.param("fieldManager")
    causes = validate_field_manager(field_manager)
    force: bool | None = None
    if request.method == "PATCH":
        force = request.flag("force")
        is_apply = media_base(request.headers.get("content-type", "")) == mt.APPLY_PATCH
        if not is_apply and force is not None:
            causes.insert(
                0,
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: may not be specified for non-apply patch",
                    "force",
                ),
            )
        if is_apply and not field_manager:
            causes.insert(
                0,
                Cause(
                    "FieldValueRequired",
                    "Required value: is required for apply patch",
                    "fieldManager",
                ),
            )
    if causes:
        raise StatusError.invalid(
            _OPTIONS_KIND.get(request.method, "CreateOptions"), "", causes, group="meta.k8s.io"
        )
    dry = request.query.get("dryRun", [])
    for value in dry:
        if value != "All":
            raise StatusError.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    validation = request.param("fieldValidation") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise StatusError.bad_request(
            f'fieldValidation: Invalid value: "{validation}": fieldValidation must be one of'
            ' "Ignore", "Warn", or "Strict"'
        )
    return WriteOptions(
        dry_run=bool(dry),
        field_validation=validation,
        user_agent=request.headers.get("user-agent", ""),
        user=user,
        field_manager=field_manager,
        force=bool(force),
        annotations=request.annotations,
    )


def list_options(request: Request, rt: ResourceType) -> ListOptions:
    limit_text = request.param("limit")
    limit = 0
    if limit_text:
        try:
            limit = max(0, int(limit_text))
        except ValueError as exc:
            raise StatusError.bad_request(
                f'limit: Invalid value: "{limit_text}": strconv.ParseInt: parsing'
                f' "{limit_text}": invalid syntax'
            ) from exc
    selectable = [f.get("jsonPath", "") for f in ((rt.crd or {}).get("selectableFields") or ())]
    return ListOptions(
        label=parse_label_selector(request.param("labelSelector")),
        field=parse_field_selector(
            request.param("fieldSelector"),
            group=rt.group,
            kind=rt.kind,
            selectable=selectable,
            version=rt.version,
            namespaced=rt.namespaced,
        ),
        limit=limit,
        continue_token=request.param("continue"),
        resource_version=request.param("resourceVersion"),
        resource_version_match=request.param("resourceVersionMatch"),
    )


def patch_type(request: Request) -> str:
    content_type = media_base(request.headers.get("content-type", ""))
    if content_type not in _PATCH_TYPES:
        raise StatusError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types"
            f" include: {', '.join(mt.PATCH_TYPES)}",
        )
    return content_type


def delete_options(request: Request, user: UserInfo | None) -> DeleteOptions:
    """DeleteOptions from the body and the query, checked as kube checks them."""
    body: dict[str, Any] = {}
    if request.body.strip():
        body = decode_body(request, DELETE_OPTIONS)
    pre = body.get("preconditions") or {}
    grace: Any = body.get("gracePeriodSeconds")
    if request.param("gracePeriodSeconds"):
        try:
            grace = int(request.param("gracePeriodSeconds"))
        except ValueError as exc:
            raise StatusError.bad_request("gracePeriodSeconds must be an integer") from exc
    policy = body.get("propagationPolicy") or request.param("propagationPolicy")
    orphan = body.get("orphanDependents")
    if orphan is None and request.param("orphanDependents"):
        orphan = request.flag("orphanDependents")
    if orphan is not None and policy:
        raise StatusError.invalid(
            "DeleteOptions",
            "",
            [
                Cause(
                    "FieldValueInvalid",
                    f'Invalid value: "{policy}": orphanDependents and deletionPropagation'
                    " cannot be both set",
                    "propagationPolicy",
                )
            ],
            group="meta.k8s.io",
        )
    if orphan is not None:
        policy = "Orphan" if orphan else "Background"
    if policy and policy not in ("Orphan", "Background", "Foreground"):
        raise StatusError.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values:'
            ' "Foreground", "Background", "Orphan"'
        )
    dry = list(request.query.get("dryRun", [])) + list(body.get("dryRun") or [])
    for value in dry:
        if value != "All":
            raise StatusError.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    return DeleteOptions(
        grace_period_seconds=grace if isinstance(grace, int) else None,
        uid=str(pre.get("uid") or ""),
        resource_version=str(pre.get("resourceVersion") or ""),
        propagation_policy=str(policy or ""),
        dry_run=bool(dry),
        user=user,
        annotations=request.annotations,
    )


# The type a DELETE body decodes as, whatever resource it deletes.
DELETE_OPTIONS = ResourceType(
    group="meta.k8s.io",
    version="v1",
    kind="DeleteOptions",
    plural="",
    singular="",
    namespaced=False,
)
