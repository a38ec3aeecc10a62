"""`metadata.managedFields`: who owns which fields, decoded into sets and written back.

An entry is one manager's ownership: its name, the operation (`Apply` or `Update`), the
apiVersion it wrote (part of the identity for `Update` only, as BuildManagerIdentifier has
it), the subresource, the time of its last change and the field set. Entries are written in
kube's order (Apply before Update, then oldest first, then by name, version, subresource);
past 10 `Update` managers the oldest are merged into an `ancient-changes` entry per version.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson

from strom.errors import Cause, StatusError
from strom.gofmt import go_quote

from .fieldpath import FieldSet, path_string

__all__ = ["Identity", "ManagedEntry", "Managers", "conflict_error", "decode", "encode"]

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"

# (manager, operation, apiVersion for Update else "", subresource)
Identity = tuple[str, str, str, str]


@dataclass(slots=True)
class ManagedEntry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet
    # The fieldsV1 this entry was decoded from, reused on encode while `fields` is still the
    # set decoded from it (most writes leave most managers' sets alone).
    raw: tuple[FieldSet, dict[str, Any]] | None = field(default=None, compare=False)

    @property
    def identity(self) -> Identity:
        version = self.api_version if self.operation == UPDATE else ""
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """printManager: how a conflict names this manager."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
            if self.time:
                text += f" at {self.time}"
        return text


Managers = dict[Identity, ManagedEntry]


def decode(entries: Any) -> Managers:
    """managedFields to sets; ValueError for an entry kube would not decode."""
    out: Managers = {}
    if not entries:
        return out
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = raw.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType")
        if fields_type != "FieldsV1":
            raise ValueError(f"invalid fieldsType in managed fields entry {i}")
        time = raw.get("time")
        entry = ManagedEntry(
            manager=str(raw.get("manager") or ""),
            operation=operation,
            api_version=api_version,
            subresource=str(raw.get("subresource") or ""),
            time=time if isinstance(time, str) else None,
            fields=FieldSet(),
        )
        fields_v1 = raw.get("fieldsV1") or {}
        entry.fields = _decode_fields(fields_v1)
        entry.raw = (entry.fields, fields_v1)
        out[entry.identity] = entry
    return out


# Decoded field sets by their JSON: every write decodes every manager's set, and most sets
# are the same from one write of an object to the next. Sets are never mutated once built.
_DECODED: OrderedDict[bytes, FieldSet] = OrderedDict()
_DECODED_MAX = 2048
_DECODED_MAX_KEY = 16 * 1024  # larger sets are decoded each time rather than kept


def _decode_fields(fields_v1: Any) -> FieldSet:
    key = orjson.dumps(fields_v1)
    cached = _DECODED.get(key)
    if cached is not None:
        _DECODED.move_to_end(key)
        return cached
    fields = FieldSet.from_fields_v1(fields_v1)
    if len(key) <= _DECODED_MAX_KEY:
        _DECODED[key] = fields
        if len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    return fields


def _sort_key(entry: ManagedEntry) -> tuple[str, str, str, str, str]:
    return (entry.operation, entry.time or "", entry.manager, entry.api_version, entry.subresource)


def cap_update_managers(managers: Managers) -> None:
    """capManagersManager: past the cap, the oldest Update entries of each version are merged
    into that version's `ancient-changes` entry."""
    updaters = sorted(
        (e for e in managers.values() if e.operation == UPDATE), key=lambda e: e.time or ""
    )
    count = len(updaters)
    first_of_version: dict[str, ManagedEntry] = {}
    for entry in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        bucket_id: Identity = (ANCIENT_CHANGES, UPDATE, entry.api_version, "")
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = entry
            continue
        bucket = managers.get(bucket_id)
        if bucket is None:
            managers.pop(first.identity, None)
            bucket = ManagedEntry(
                ANCIENT_CHANGES, UPDATE, entry.api_version, "", first.time, first.fields
            )
            managers[bucket_id] = bucket
        bucket.fields = entry.fields.union(bucket.fields)
        bucket.time = entry.time
        managers.pop(entry.identity, None)
        count -= 1


def encode(managers: Managers) -> list[dict[str, Any]]:
    out = []
    for entry in sorted(managers.values(), key=_sort_key):
        item: dict[str, Any] = {}
        if entry.manager:
            item["manager"] = entry.manager
        item["operation"] = entry.operation
        item["apiVersion"] = entry.api_version
        if entry.time:
            item["time"] = entry.time
        item["fieldsType"] = "FieldsV1"
        if entry.raw is not None and entry.raw[0] is entry.fields:
            item["fieldsV1"] = entry.raw[1]
        else:
            item["fieldsV1"] = entry.fields.to_fields_v1()
        if entry.subresource:
            item["subresource"] = entry.subresource
        out.append(item)
    return out


def conflict_error(conflicts: dict[Identity, FieldSet], managers: Managers) -> StatusError:
    """409 as NewConflictError words it: one cause per conflicting field and manager."""
    rows: list[tuple[str, str]] = []
    for identity in sorted(conflicts):
        who = managers[identity].describe()
        rows.extend((who, path_string(p)) for p in conflicts[identity].paths())
    causes = [Cause("FieldManagerConflict", f"conflict with {who}", path) for who, path in rows]
    if len(rows) == 1:
        message = f"Apply failed with 1 conflict: conflict with {rows[0][0]}: {rows[0][1]}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for who, path in rows:
            by_manager.setdefault(who, []).append(path)
        for who in by_manager:  # in the order of the managers' identities, as kube sorts them
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path}" for path in by_manager[who])
        message = f"Apply failed with {len(rows)} conflicts: " + "\n".join(lines)
    return StatusError.apply_conflict(causes, message)
