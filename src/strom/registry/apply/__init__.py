"""Field ownership and server-side apply (k8s.io/apiserver's fieldmanager over
sigs.k8s.io/structured-merge-diff, written for strom's plain JSON objects).

Every write records who changed which fields in `metadata.managedFields`:

- an **update** (create, PUT, JSON/merge/strategic patch) compares the live object with the
  new one; the writer (`fieldManager`, else the User-Agent's product token) takes every field
  it added or changed from whoever owned it, and removed fields leave every owner;
- an **apply** merges the applied configuration into the live object, makes the applier the
  owner of exactly the fields it applied, removes fields the applier applied last time and
  nobody owns any more, and refuses (409) to change a field another manager owns unless
  `force=true`.

Fields a write of this endpoint cannot set (status on the main resource, everything but status
on `/status`) are owned by nobody through it (the strategy's reset fields), and identity
fields (name, uid, resourceVersion, ...) are owned by nobody at all.
"""

from __future__ import annotations

from typing import Any

import orjson

from strom.errors import Cause
from strom.gofmt import go_json_marshal, go_quote
from strom.registry.validation.fielderrors import too_long

from .fieldpath import FieldSet, field_pe
from .managers import (
    APPLY,
    UPDATE,
    Identity,
    ManagedEntry,
    Managers,
    cap_update_managers,
    decode,
    encode,
)
from .managers import conflict_error as _conflict_error
from .schema import Atom, root_atom
from .typed import (
    ABSENT,
    Comparison,
    TypedError,
    check,
    compare,
    ensure_named_fields_are_members,
    merge,
    remove_items,
    to_field_set,
)

__all__ = ["FieldManager", "TypedError", "manager_name", "validate_field_manager"]

_BEFORE_FIRST_APPLY = "before-first-apply"
_KUBECTL = "kubectl"  # the one manager the client-side apply hand-over is for
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_CURRENT = ("current-operation", UPDATE, "", "")
FIELD_MANAGER_MAX_LENGTH = 128


def _strip_set() -> FieldSet:
    out = FieldSet()
    out.members |= {field_pe("apiVersion"), field_pe("kind"), field_pe("metadata")}
    meta = out.child(field_pe("metadata"))
    for name in (
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ):
        meta.members.add(field_pe(name))
    return out


_STRIP = _strip_set()


def manager_name(field_manager: str, user_agent: str) -> str:
    """managerOrUserAgent: the fieldManager, else the User-Agent up to its first '/',
    printable characters only, at most 128 bytes."""
    if field_manager:
        return field_manager
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        n = len(ch.encode())
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


def validate_field_manager(value: str) -> list[Cause]:
    causes: list[Cause] = []
    if len(value.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    for i, ch in enumerate(value):
        if not ch.isprintable():
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {go_quote(value)}: invalid character U+{ord(ch):04X}"
                    f" (at position {len(value[:i].encode())})",
                    "fieldManager",
                )
            )
    return causes


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


class FieldManager:
    """Field ownership for writes of one kind at one version through one endpoint."""

    def __init__(
        self,
        *,
        group: str,
        version: str,
        kind: str,
        crd_version: dict[str, Any] | None,
        subresource: str = "",
        has_status: bool = False,
        only: tuple[str, ...] | None = None,
    ) -> None:
        self.atom: Atom = root_atom(group, version, kind, crd_version)
        self.api_version = f"{group}/{version}" if group else version
        self.subresource = subresource
        self.has_status = has_status
        # A subresource that sets one field (scale: the replicas) owns that field only.
        self.only: FieldSet | None = None
        if only:
            self.only = FieldSet()
            self.only.insert(tuple(field_pe(name) for name in only))

    def _reset(self, *objs: Any) -> FieldSet:
        """The strategy's reset fields: what this endpoint never sets."""
        out = FieldSet()
        if self.subresource == "status":
            for obj in objs:
                if isinstance(obj, dict):
                    out.members |= {field_pe(k) for k in obj if k not in ("status", "metadata")}
        elif self.has_status:
            out.members.add(field_pe("status"))
        return out

    # --- update ---------------------------------------------------------------------------
    def update(
        self,
        live: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str,
        now: str,
        *,
        sent: Any = None,
    ) -> list[dict[str, Any]]:
        """The managedFields of `new` after `manager` wrote it over `live` (None: a create).
        `sent` is the managedFields the client sent, which replace the live ones when they
        decode (a client may edit ownership; `[{}]` clears it)."""
        managers = self._base_managers(live, sent)
        live_value = _without_managed_fields(live) if live is not None else {}
        new_value = _without_managed_fields(new)
        self._record_update(live_value, new_value, managers, manager, now)
        cap_update_managers(managers)
        return encode(managers)

    def _base_managers(self, live: dict[str, Any] | None, sent: Any) -> Managers:
        if sent == [{}]:
            return {}
        if sent and not self.subresource:
            try:
                managers = decode(sent)
            except ValueError:
                managers = {}
            if managers:
                return managers
        return self._live_managers(live)

    @staticmethod
    def _live_managers(live: dict[str, Any] | None) -> Managers:
        if live is None:
            return {}
        try:
            return decode((live.get("metadata") or {}).get("managedFields"))
        except ValueError:
            return {}

    def _record_update(
        self, live: Any, new: Any, managers: Managers, manager: str, now: str
    ) -> None:
        cmp = self._take(live, new, managers, _CURRENT, force=True)
        owned = cmp.changed().recursive_difference(self._reset(live, new)).difference(_STRIP)
        if self.only is not None:
            owned = owned.intersection(self.only)
        if owned.empty():
            return
        identity = (manager, UPDATE, self.api_version, self.subresource)
        previous = managers.get(identity)
        fields = previous.fields.union(owned) if previous is not None else owned
        managers[identity] = ManagedEntry(
            manager,
            UPDATE,
            self.api_version,
            self.subresource,
            now,
            fields,
            raw=previous.raw if previous is not None else None,
        )

    def _take(
        self,
        live: Any,
        new: Any,
        managers: Managers,
        writer: tuple[str, str, str, str],
        *,
        force: bool,
    ) -> Comparison:
        """Updater.update: the writer takes what it changed from every other manager (or, for
        an apply without force, fails on the first such field); removed fields leave all."""
        cmp = compare(live, new, self.atom)
        reset = self._reset(live, new)
        if not reset.empty():
            cmp = cmp.exclude(reset)
        changed = cmp.changed()
        conflicts: dict[tuple[str, str, str, str], FieldSet] = {}
        for identity, entry in managers.items():
            if identity == writer:
                continue
            taken = entry.fields.intersection(changed)
            if not taken.empty():
                conflicts[identity] = taken
        if conflicts and not force:
            raise _Conflicts(conflicts)
        for identity, entry in list(managers.items()):
            if identity == writer:
                continue
            fields = entry.fields
            if identity in conflicts:
                fields = fields.difference(conflicts[identity])
            if not cmp.removed.empty():
                fields = fields.difference(cmp.removed)
            if fields.empty():
                del managers[identity]
            else:
                entry.fields = fields
        return cmp

    # --- apply ----------------------------------------------------------------------------
    def apply(
        self,
        live: dict[str, Any] | None,
        config: dict[str, Any],
        manager: str,
        now: str,
        *,
        force: bool,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """Merge `config` into `live` as `manager`: (the new object, its managedFields, whether
        the object itself changed). Raises 409 on conflicts, TypedError on a configuration
        that does not fit the schema."""
        check(config, self.atom)
        managers = self._live_managers(live)
        live_value: dict[str, Any] = _without_managed_fields(live) if live is not None else {}
        if not managers and live is not None:
            # An object nobody owns yet: what is there belongs to `before-first-apply`.
            self._record_update({}, live_value, managers, _BEFORE_FIRST_APPLY, now)
        identity = (manager, APPLY, "", self.subresource)
        merged = merge(live_value, config, self.atom)
        if merged is ABSENT:
            merged = {}
        last = managers.get(identity)
        applied = to_field_set(config, self.atom).recursive_difference(self._reset(config))
        if self.only is not None:
            applied = applied.intersection(self.only)
        managers[identity] = ManagedEntry(
            manager, APPLY, self.api_version, self.subresource, last.time if last else None, applied
        )
        merged = self._prune(merged, managers, last.fields if last is not None else None)
        try:
            self._take(live_value, merged, managers, identity, force=force)
        except _Conflicts as err:
            conflicts = self._beyond_client_side_apply(err.conflicts, manager, live_value)
            if conflicts:
                raise _conflict_error(conflicts, managers) from None
            self._take(live_value, merged, managers, identity, force=True)
        if manager == _KUBECTL:
            merged = _sync_last_applied(merged, config)
        entry = managers[identity]
        entry.fields = entry.fields.difference(_STRIP)
        changed = merged != live_value
        if entry.fields.empty():
            del managers[identity]
        elif changed or last is None:
            entry.time = now
        cap_update_managers(managers)
        return merged, encode(managers), changed

    def _beyond_client_side_apply(
        self, conflicts: dict[Identity, FieldSet], manager: str, live: dict[str, Any]
    ) -> dict[Identity, FieldSet]:
        """lastAppliedManager: `kubectl apply --server-side` may take over, without force,
        the fields an earlier client-side `kubectl apply` set (its last-applied annotation)
        that still hold the values it set; the conflicts left are the others."""
        if manager != _KUBECTL:
            return conflicts
        text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
        if not isinstance(text, str) or not text:
            return conflicts
        try:
            last_applied = orjson.loads(text)
        except orjson.JSONDecodeError:
            return conflicts
        if not isinstance(last_applied, dict):
            return conflicts
        try:
            allowed = to_field_set(last_applied, self.atom).difference(
                compare(last_applied, live, self.atom).modified
            )
        except TypedError:
            return conflicts
        left = {identity: fields.difference(allowed) for identity, fields in conflicts.items()}
        return {identity: fields for identity, fields in left.items() if not fields.empty()}

    def _prune(self, merged: Any, managers: Managers, last: FieldSet | None) -> Any:
        """Remove what the applier applied last time, no longer applies, and nobody else
        owns (Updater.prune with addBackOwnedItems and addBackDanglingItems)."""
        if last is None or last.empty():
            return merged
        atom = self.atom

        def ensure(fields: FieldSet) -> FieldSet:
            return ensure_named_fields_are_members(fields, atom)

        def field_set(value: Any) -> FieldSet:
            return ensure(to_field_set(value, atom)) if value is not ABSENT else FieldSet()

        last_m = ensure(last)
        pruned = remove_items(merged, last_m, atom)
        owned = FieldSet()
        for entry in managers.values():
            owned = owned.union(entry.fields)
        merged_set = field_set(merged)
        pruned = remove_items(
            merged, merged_set.difference(field_set(pruned).union(ensure(owned))), atom
        )
        result = remove_items(
            merged, merged_set.difference(field_set(pruned)).intersection(last_m), atom
        )
        return result if result is not ABSENT else {}


class _Conflicts(Exception):
    """Fields another manager owns that an apply without force would change."""

    def __init__(self, conflicts: dict[Identity, FieldSet]) -> None:
        super().__init__("apply conflicts")
        self.conflicts = conflicts


def _sync_last_applied(merged: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """lastAppliedUpdater: where an object still carries kubectl's client-side
    last-applied annotation, a server-side apply by kubectl rewrites it to the configuration
    just applied, so a later client-side apply computes its patch from the right base."""
    meta = merged.get("metadata")
    annotations = (meta or {}).get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return merged
    applied = dict(config)
    applied_meta = dict(applied.get("metadata") or {})
    applied_annotations = {
        k: v for k, v in (applied_meta.get("annotations") or {}).items() if k != LAST_APPLIED
    }
    if applied_annotations:
        applied_meta["annotations"] = applied_annotations
    else:
        applied_meta.pop("annotations", None)
    applied["metadata"] = applied_meta
    out = dict(merged)
    out["metadata"] = {
        **meta,  # type: ignore[dict-item]
        "annotations": {**annotations, LAST_APPLIED: go_json_marshal(applied) + "\n"},
    }
    return out
