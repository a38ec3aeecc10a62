"""Server-side printing: objects as `meta.k8s.io/v1` Tables, the way `kubectl get` asks for them.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints whatever
columns and cells come back, so the columns, their order, descriptions and the cell text of
kube-apiserver's printers (`pkg/printers/internalversion`) are reproduced here. Three sources:

* built-in kinds with a printer upstream: `_core`, `_pods`, `_groups` (wide columns included;
  kube-apiserver always renders with `Wide: true` and kubectl hides priority > 0 columns);
* built-in kinds without one (Roles, LimitRanges, CRDs): the generic Name / Created At table;
* custom resources: the CRD version's `additionalPrinterColumns` (`_custom`).

Each row carries the object as `includeObject` asks: a PartialObjectMetadata (the default),
the whole object, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from strom.errors import StatusError
from strom.gofmt import go_quote
from strom.registry.kinds import ResourceType
from strom.registry.meta import META_ORDER
from strom.registry.tables._columns import builtin_columns, default_columns
from strom.registry.tables._core import CORE_PRINTERS, Printer
from strom.registry.tables._custom import custom_cells, custom_columns
from strom.registry.tables._format import as_dict, human_duration, parse_time
from strom.registry.tables._groups import GROUP_PRINTERS
from strom.registry.tables._platform import PLATFORM_PRINTERS, platform_columns, sort_for_table
from strom.registry.tables._pods import pod_cells, pod_conditions

__all__ = [
    "INCLUDE_OBJECT_VALUES",
    "human_duration",
    "table_columns",
    "table_row",
    "to_table",
    "validate_include_object",
]

INCLUDE_OBJECT_VALUES = ("", "Metadata", "None", "Object")
"""The values `includeObject` accepts ("" means Metadata), sorted as upstream lists them."""

_TABLE_API_VERSION = "meta.k8s.io/v1"
_PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): pod_cells,
    **CORE_PRINTERS,
    **GROUP_PRINTERS,
    **PLATFORM_PRINTERS,
}


def _builtin_columns(rt: ResourceType) -> list[dict[str, Any]] | None:
    columns = builtin_columns(rt.group, rt.kind)
    return columns if columns is not None else platform_columns().get((rt.group, rt.kind))


def validate_include_object(value: str) -> None:
    """Reject an `includeObject` value with kube-apiserver's 400 message."""
    if value in INCLUDE_OBJECT_VALUES:
        return
    supported = ", ".join(go_quote(v) for v in INCLUDE_OBJECT_VALUES)
    raise StatusError.bad_request(
        "Unable to convert to Table as requested: includeObject: Unsupported value: "
        f"{go_quote(value)}: supported values: {supported}"
    )


def table_columns(rt: ResourceType) -> list[dict[str, Any]]:
    """The `columnDefinitions` of a Table of this resource."""
    if rt.crd is not None:
        return custom_columns(rt.crd)
    columns = _builtin_columns(rt)
    return [dict(c) for c in (columns if columns is not None else default_columns())]


def table_row(
    rt: ResourceType, obj: Mapping[str, Any], *, include_object: str, now: datetime
) -> dict[str, Any]:
    """One row (`cells`, `conditions` when set, `object`), as used for lists and watch events."""
    validate_include_object(include_object)
    row: dict[str, Any] = {"cells": _cells(rt, obj, now)}
    if rt.crd is None and (rt.group, rt.kind) == ("", "Pod"):
        conditions = pod_conditions(obj)
        if conditions is not None:
            row["conditions"] = [dict(c) for c in conditions]
    row["object"] = _row_object(obj, include_object)
    return row


def to_table(
    *,
    rt: ResourceType,
    objects: Sequence[Mapping[str, Any]],
    include_object: str,
    resource_version: str,
    continue_token: str = "",
    remaining: int | None = None,
    now: datetime,
    no_headers: bool = False,
) -> dict[str, Any]:
    """A whole Table for a list (or a single object, as a one-element list).

    `no_headers` is TableOptions' `noHeaders`: columnDefinitions are then null, which watch
    streams use after the first event.
    """
    validate_include_object(include_object)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    if rt.crd is None:
        objects = list(objects)
        sort_for_table(rt.group, rt.kind, objects)
    rows: list[dict[str, Any]] | None = [
        table_row(rt, obj, include_object=include_object, now=now) for obj in objects
    ]
    if not rows and rt.crd is None and _builtin_columns(rt) is None:
        # The generic convertor appends to a nil slice: an empty table has "rows": null.
        rows = None
    return {
        "kind": "Table",
        "apiVersion": _TABLE_API_VERSION,
        "metadata": metadata,
        "columnDefinitions": None if no_headers else table_columns(rt),
        "rows": rows,
    }


def _cells(rt: ResourceType, obj: Mapping[str, Any], now: datetime) -> list[Any]:
    if rt.crd is not None:
        return custom_cells(rt.crd, obj, now)
    printer = _PRINTERS.get((rt.group, rt.kind))
    if printer is not None:
        return printer(obj, now)
    meta = as_dict(obj.get("metadata"))
    return [meta.get("name", ""), _created_at(meta.get("creationTimestamp"))]


def _created_at(value: Any) -> str:
    """`Time.UTC().Format(time.RFC3339)`; the zero time for a missing timestamp."""
    created = parse_time(value)
    if created is None:
        return "0001-01-01T00:00:00Z"
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row_object(obj: Mapping[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": _TABLE_API_VERSION,
        "metadata": _ordered_meta(as_dict(obj.get("metadata"))),
    }


def _ordered_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    ordered = {key: meta[key] for key in META_ORDER if key in meta}
    ordered.update((key, value) for key, value in meta.items() if key not in ordered)
    return ordered
