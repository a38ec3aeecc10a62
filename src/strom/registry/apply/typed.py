"""Structured merge over plain JSON values: the field set of a value, the comparison of two,
the merge of an applied configuration into a live object, and the removal of field paths
(structured-merge-diff's `typed` package, written for strom's dict/list objects).

`ABSENT` stands for "no value here", which differs from a JSON null. Values are never
mutated; results share untouched sub-values with their inputs, so callers copy before
changing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from .fieldpath import FieldSet, PathElement, field_pe, key_pe, path_string, value_pe
from .schema import DEDUCED, DEDUCED_KIND, LIST, MAP, SCALAR, Atom

__all__ = [
    "ABSENT",
    "Comparison",
    "TypedError",
    "check",
    "compare",
    "ensure_named_fields_are_members",
    "merge",
    "remove_items",
    "to_field_set",
]


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()

_DEDUCED_MAP = Atom(MAP, element=DEDUCED)
_DEDUCED_LIST = Atom(LIST, element=DEDUCED, atomic=True)
_LEAF = Atom(SCALAR)


def _shape(atom: Atom, value: Any) -> Atom:
    """deduceAtom: the atom that applies to this value (a leaf where the shapes disagree)."""
    if atom.kind == DEDUCED_KIND:
        if isinstance(value, dict):
            return _DEDUCED_MAP
        if isinstance(value, list):
            return _DEDUCED_LIST
        return _LEAF
    if atom.kind == MAP and not (value is None or isinstance(value, dict)):
        return _LEAF
    if atom.kind == LIST and not (value is None or isinstance(value, list)):
        return _LEAF
    return atom


class TypedError(ValueError):
    """A value that does not fit its schema for structured merge (smd's ValidationError):
    the message starts with the path."""


def item_pe(atom: Atom, item: Any, path: tuple[PathElement, ...]) -> PathElement:
    """The path element of an associative list's item: its key fields, or its value."""
    if atom.keys:
        if not isinstance(item, dict):
            raise _invalid(path, "associative list with keys may not have non-map elements")
        fields = []
        for key in atom.keys:
            if key in item:
                fields.append((key, item[key]))
            elif key in atom.key_defaults:
                fields.append((key, atom.key_defaults[key]))
        if not fields:
            raise _invalid(
                path,
                "associative list with keys has an element that omits all key fields "
                + "["
                + " ".join(f'"{k}"' for k in atom.keys)
                + "]"
                + " (and doesn't have default values for any key fields)",
            )
        return key_pe(fields)
    if isinstance(item, dict):
        raise _invalid(path, "associative list without keys has an element that's a map type")
    return value_pe(item)


def _invalid(path: tuple[PathElement, ...], message: str) -> TypedError:
    where = path_string(path) or "."
    return TypedError(f"{where}: {message}")


def _empty(value: Any) -> bool:
    return value is ABSENT or value is None or (isinstance(value, dict | list) and not value)


# --- field sets --------------------------------------------------------------------------
def to_field_set(value: Any, atom: Atom) -> FieldSet:
    """ToFieldSet: every leaf, every list item, every map key the schema does not declare, and
    every null or empty map; an atomic list or map is one member."""
    _, sub = _tfs(value, atom, ())
    return sub or FieldSet()


def _tfs(value: Any, atom: Atom, path: tuple[PathElement, ...]) -> tuple[bool, FieldSet | None]:
    a = _shape(atom, value)
    if a.kind == SCALAR:
        return True, None
    if a.atomic:
        return True, None
    if a.kind == LIST:
        if not isinstance(value, list):
            return False, None
        out = FieldSet()
        pes = [item_pe(a, item, path) for item in value]
        seen: set[PathElement] = set()
        duplicates: set[PathElement] = set()
        for pe in pes:
            if pe in seen:
                duplicates.add(pe)
            seen.add(pe)
        element = a.element()
        for pe, item in zip(pes, value, strict=True):
            out.members.add(pe)
            if pe in duplicates:
                continue
            _, sub = _tfs(item, element, (*path, pe))
            if sub is not None and not sub.empty():
                out.children[pe] = sub
        return False, out
    if not isinstance(value, dict):
        return False, None
    out = FieldSet()
    for key, val in value.items():
        pe = field_pe(key)
        declared = a.field(key)
        member, sub = _tfs(val, declared or a.element(), (*path, pe))
        if val is None or (isinstance(val, dict) and not val) or declared is None:
            member = True
        if member:
            out.members.add(pe)
        if sub is not None and not sub.empty():
            out.children[pe] = sub
    return False, out


def ensure_named_fields_are_members(fields: FieldSet, atom: Atom) -> FieldSet:
    """A declared struct field with children becomes a member too, so that removing the
    field's children can remove the field."""
    out = FieldSet()
    out.members = set(fields.members)
    for pe, sub in fields.children.items():
        if pe[0] == 0:
            child = atom.child(pe[1]) if atom.kind == MAP else DEDUCED
            if atom.kind == MAP and atom.has_field(pe[1]):
                out.members.add(pe)
        else:
            child = atom.element() if atom.kind == LIST else DEDUCED
        out.children[pe] = ensure_named_fields_are_members(sub, child)
    return out


# --- comparison --------------------------------------------------------------------------
@dataclass(slots=True)
class Comparison:
    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def changed(self) -> FieldSet:
        """Modified and added: what a writer takes from other managers."""
        return self.modified.union(self.added)

    def exclude(self, ignored: FieldSet) -> Comparison:
        return Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )


def compare(lhs: Any, rhs: Any, atom: Atom) -> Comparison:
    out = Comparison()
    _cmp(lhs, rhs, atom, (), out)
    return out


def _leaf(lhs: Any, rhs: Any, path: tuple[PathElement, ...], out: Comparison) -> None:
    if lhs is ABSENT:
        out.added.insert(path)
    elif rhs is ABSENT:
        out.removed.insert(path)
    elif lhs != rhs or type(lhs) is not type(rhs):
        out.modified.insert(path)


def _cmp(lhs: Any, rhs: Any, atom: Atom, path: tuple[PathElement, ...], out: Comparison) -> None:
    al = _shape(atom, lhs) if lhs is not ABSENT else None
    ar = _shape(atom, rhs) if rhs is not ABSENT else None
    a = ar or al
    assert a is not None
    if al is not None and ar is not None and al is not ar:
        out.modified.insert(path)  # the value changed shape: one leaf changed
        return
    if a.kind == SCALAR or a.atomic or (_empty(lhs) and _empty(rhs)):
        _leaf(lhs, rhs, path, out)
        return
    if lhs is not ABSENT and lhs == rhs:
        return  # an unchanged subtree (compared in C): nothing below was added, changed or removed
    if a.kind == LIST:
        _cmp_list(
            lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], a, path, out
        )
    else:
        left = lhs if isinstance(lhs, dict) else {}
        right = rhs if isinstance(rhs, dict) else {}
        for key, lv in left.items():
            rv = right.get(key, ABSENT)
            if rv is lv or (rv == lv and type(rv) is type(lv)):
                continue  # unchanged: nothing to walk
            _cmp(lv, rv, a.child(key), (*path, field_pe(key)), out)
        for key, rv in right.items():
            if key not in left:
                _cmp(ABSENT, rv, a.child(key), (*path, field_pe(key)), out)
    if lhs is ABSENT:
        out.added.insert(path)
    elif rhs is ABSENT:
        out.removed.insert(path)


def _index(
    atom: Atom, items: list[Any], path: tuple[PathElement, ...]
) -> dict[PathElement, list[Any]]:
    index: dict[PathElement, list[Any]] = {}
    for item in items:
        index.setdefault(item_pe(atom, item, path), []).append(item)
    return index


def _cmp_list(
    lhs: list[Any], rhs: list[Any], atom: Atom, path: tuple[PathElement, ...], out: Comparison
) -> None:
    left, right = _index(atom, lhs, path), _index(atom, rhs, path)
    element = atom.element()
    for pe in (*left, *(p for p in right if p not in left)):
        ls, rs = left.get(pe, []), right.get(pe, [])
        sub = (*path, pe)
        if len(ls) <= 1 and len(rs) <= 1:
            _cmp(ls[0] if ls else ABSENT, rs[0] if rs else ABSENT, element, sub, out)
        elif len(ls) >= 2 and len(rs) >= 2:
            if ls != rs:
                out.modified.insert(sub)
        elif len(ls) >= 2:
            out.removed.insert(sub)
        else:
            out.added.insert(sub)


# --- merge -------------------------------------------------------------------------------
def check(value: Any, atom: Atom, path: tuple[PathElement, ...] = ()) -> None:
    """An applied configuration's associative lists: every item keyed, no key twice."""
    a = _shape(atom, value)
    if a.kind == SCALAR or a.atomic or _empty(value):
        return
    if a.kind == LIST:
        seen: set[PathElement] = set()
        element = a.element()
        for item in value:
            pe = item_pe(a, item, path)
            if pe in seen:
                raise _invalid(path, f"duplicate entries for key {path_string((pe,))}")
            seen.add(pe)
            check(item, element, (*path, pe))
        return
    for key, val in value.items():
        check(val, a.child(key), (*path, field_pe(key)))


def merge(lhs: Any, rhs: Any, atom: Atom) -> Any:
    """The applied configuration `rhs` merged into the live value `lhs`: rhs wins at leaves,
    maps merge key by key, associative lists item by item in an order both sides agree on."""
    return _merge(lhs, rhs, atom, ())


def _merge(lhs: Any, rhs: Any, atom: Atom, path: tuple[PathElement, ...]) -> Any:
    if rhs is ABSENT:
        return lhs
    if lhs is ABSENT:
        check(rhs, atom, path)
        return rhs
    al, ar = _shape(atom, lhs), _shape(atom, rhs)
    if al is not ar or ar.kind == SCALAR or ar.atomic or (_empty(lhs) and _empty(rhs)):
        return rhs
    if ar.kind == LIST:
        return _merge_list(lhs or [], rhs or [], ar, path)
    left: dict[str, Any] = lhs or {}
    right: dict[str, Any] = rhs or {}
    out: dict[str, Any] = {}
    for key in (*left, *(k for k in right if k not in left)):
        merged = _merge(
            left.get(key, ABSENT), right.get(key, ABSENT), ar.child(key), (*path, field_pe(key))
        )
        if merged is not ABSENT:
            out[key] = merged
    return out if out else ABSENT


def _merge_list(lhs: list[Any], rhs: list[Any], atom: Atom, path: tuple[PathElement, ...]) -> Any:
    element = atom.element()
    rhs_pes = [item_pe(atom, item, path) for item in rhs]
    observed_rhs: dict[PathElement, Any] = {}
    for pe, item in zip(rhs_pes, rhs, strict=True):
        if pe in observed_rhs:
            raise _invalid(path, f"duplicate entries for key {path_string((pe,))}")
        observed_rhs[pe] = item
    lhs_pes = [item_pe(atom, item, path) for item in lhs]
    observed_lhs: dict[PathElement, Any] = {}
    for pe, item in zip(lhs_pes, lhs, strict=True):
        observed_lhs[pe] = ABSENT if pe in observed_lhs else item  # duplicates: merge as absent

    # Items on both sides keep the applied order; live-only items stay where they were.
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    next_shared = 0
    merged_rhs: set[PathElement] = set()
    out: list[Any] = []

    def emit(pe: PathElement, left: Any, right: Any) -> None:
        value = _merge(left, right, element, (*path, pe))
        if value is not ABSENT:
            out.append(value)

    li = ri = 0
    while li < len(lhs_pes) or ri < len(rhs_pes):
        if li < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                emit(pe, observed_lhs[pe], observed_rhs[pe])
                li += 1
                ri += 1
                next_shared += 1
                continue
            if pe in observed_rhs and next_shared < len(shared) and shared[next_shared] != pe:
                li += 1
                continue
        if li < len(lhs_pes):
            pe = lhs_pes[li]
            if pe not in observed_rhs:
                emit(pe, lhs[li], ABSENT)
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            emit(pe, observed_lhs.get(pe, ABSENT), observed_rhs[pe])
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == pe:
                next_shared += 1
    return out if out else ABSENT


# --- removal -----------------------------------------------------------------------------
def remove_items(
    value: Any, fields: FieldSet, atom: Atom, path: tuple[PathElement, ...] = ()
) -> Any:
    """The value without the paths in `fields`: a member removes its whole value, children
    remove inside it. A map or list left empty by the removal goes too (ABSENT)."""
    a = _shape(atom, value)
    if a.kind == SCALAR or a.atomic or _empty(value):
        return value
    if a.kind == LIST:
        element = a.element()
        items = []
        for item in value:
            pe = item_pe(a, item, path)
            if pe in fields.members:
                continue
            sub = fields.children.get(pe)
            if sub is not None and not sub.empty():
                item = remove_items(item, sub, element, (*path, pe))
                if item is ABSENT:
                    continue
            items.append(item)
        return items if items else ABSENT
    out: dict[str, Any] = {}
    for key, val in value.items():
        pe = field_pe(key)
        if pe in fields.members:
            continue
        sub = fields.children.get(pe)
        if sub is not None and not sub.empty():
            val = remove_items(val, sub, a.child(key), (*path, pe))
            if val is ABSENT:
                continue
        out[key] = val
    return out if out else ABSENT
