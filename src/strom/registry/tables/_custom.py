"""Tables for custom resources, from the CRD version's `additionalPrinterColumns`.

Mirrors apiextensions-apiserver's `tableconvertor`: a Name column, then one column per declared
printer column (a version without any gets the logically defaulted "Age" column). Each cell is
the first value the column's JSONPath selects, shaped by the column type; a path that selects
nothing, or fails, gives a null cell.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from strom.gofmt import go_float, go_json_marshal
from strom.registry.tables._columns import column, meta_doc
from strom.registry.tables._format import age, as_dict, as_list, parse_time
from strom.registry.tables._jsonpath import Path, PathError, compile_path

__all__ = ["custom_cells", "custom_columns"]


def _printer_columns(version: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    declared = [as_dict(c) for c in as_list(version.get("additionalPrinterColumns"))]
    if declared:
        return declared
    # serveDefaultColumnsIfEmpty: the logical default, not stored in the CRD.
    return [
        {
            "name": "Age",
            "type": "date",
            "description": meta_doc("creationTimestamp"),
            "jsonPath": ".metadata.creationTimestamp",
        }
    ]


@functools.lru_cache(maxsize=1024)
def _compiled(json_path: str) -> Path | None:
    """The compiled path, None where it cannot be parsed.

    Upstream drops the columns from the first unparsable path on, but CRD validation already
    rejects such paths; one strom cannot parse is more likely valid syntax it lacks, so the
    column stays and its cells are null.
    """
    try:
        return compile_path(json_path)
    except PathError:
        return None


def custom_columns(version: Mapping[str, Any]) -> list[dict[str, Any]]:
    columns = [column("Name", "string", meta_doc("name"), format_="name")]
    for spec in _printer_columns(version):
        path = str(spec.get("jsonPath", ""))
        description = str(spec.get("description") or "")
        if not description:
            description = f"Custom resource definition column (in JSONPath format): {path}"
        columns.append(
            column(
                str(spec.get("name", "")),
                str(spec.get("type", "")),
                description,
                priority=int(spec.get("priority") or 0),
                format_=str(spec.get("format") or ""),
            )
        )
    return columns


def custom_cells(version: Mapping[str, Any], obj: Mapping[str, Any], now: datetime) -> list[Any]:
    cells: list[Any] = [as_dict(obj.get("metadata")).get("name", "")]
    for spec in _printer_columns(version):
        path = _compiled(str(spec.get("jsonPath", "")))
        try:
            found = path.find(obj) if path is not None else []
        except PathError:
            found = []
        if not found:
            cells.append(None)
        elif spec.get("type") == "string":
            cells.append(_text(found[0]))
        else:
            cells.append(_typed(str(spec.get("type", "")), found[0], now))
    return cells


def _text(value: Any) -> str:
    """What client-go's JSONPath printer writes for one value."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    return go_json_marshal(value)


def _typed(type_: str, value: Any, now: datetime) -> Any:
    """`cellForJSONValue`: values of the wrong JSON type give null cells."""
    if value is None:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == "integer" and is_number:
        return int(value) if math.isfinite(value) else None
    if type_ == "number" and is_number:
        number = float(value)
        # Go writes a whole float64 without a fraction ("3", not "3.0").
        return int(number) if number.is_integer() and abs(number) < 1e21 else number
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if type_ == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        return "<invalid>" if parse_time(value) is None else age(value, now)
    return None
