"""Field paths and sets of them, as structured-merge-diff's `fieldpath` defines them.

A path element names one step into an object: a field of a map (`f:name`), an item of an
associative list by its key fields (`k:{"name":"nginx"}`), an item of a set by its value
(`v:"a"`), or a list index (`i:0`, never produced for the lists kube serves, but readable).
A `FieldSet` is a tree: `members` are the paths that end at this node, `children` the
sub-sets one element further down. `managedFields[].fieldsV1` is exactly this tree as JSON,
with `"."` marking a node that is a member and also has children.

Elements are tuples so they hash and compare cheaply; `sort_key` gives smd's order (fields,
then keys, then values, then indices; values ordered numbers < strings < bools < lists <
maps < null), which is the order fieldsV1 is written in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from strom.gofmt import go_float, go_json_marshal, go_quote

__all__ = [
    "FieldSet",
    "PathElement",
    "field_pe",
    "key_pe",
    "path_string",
    "value_pe",
]

# (0, name) | (1, ((field, value), ...)) | (2, value) | (3, index). Values inside key and
# value elements are wrapped by `_wrap` as (rank, payload) so that 1, 1.0 and True stay apart
# and order the way Go's value.Compare orders them.
PathElement = tuple[int, Any]

_FIELD, _KEY, _VALUE, _INDEX = 0, 1, 2, 3


def _wrap(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if value is None:
        return (6, None)
    if isinstance(value, list):
        return (4, tuple(_wrap(v) for v in value))
    if isinstance(value, dict):
        return (5, tuple(sorted((k, _wrap(v)) for k, v in value.items())))
    return (2, str(value))


def _unwrap(wrapped: tuple[int, Any]) -> Any:
    rank, payload = wrapped
    if rank == 4:
        return [_unwrap(v) for v in payload]
    if rank == 5:
        return {k: _unwrap(v) for k, v in payload}
    return payload


def field_pe(name: str) -> PathElement:
    return (_FIELD, name)


def key_pe(fields: list[tuple[str, Any]]) -> PathElement:
    return (_KEY, tuple(sorted((name, _wrap(value)) for name, value in fields)))


def value_pe(value: Any) -> PathElement:
    return (_VALUE, _wrap(value))


def _serialize(pe: PathElement) -> str:
    tag, payload = pe
    if tag == _FIELD:
        return "f:" + str(payload)
    if tag == _KEY:
        inner = ",".join(
            go_json_marshal(name) + ":" + go_json_marshal(_unwrap(value)) for name, value in payload
        )
        return "k:{" + inner + "}"
    if tag == _VALUE:
        return "v:" + go_json_marshal(_unwrap(payload))
    return f"i:{payload}"


def _deserialize(text: str) -> PathElement:
    if len(text) < 2 or text[1] != ":":
        raise ValueError(f"invalid path element {text!r}")
    tag, rest = text[0], text[2:]
    if tag == "f":
        return (_FIELD, rest)
    if tag == "k":
        fields = orjson.loads(rest)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key {text!r}")
        return key_pe(list(fields.items()))
    if tag == "v":
        return value_pe(orjson.loads(rest))
    if tag == "i":
        return (_INDEX, int(rest))
    raise ValueError(f"unknown path element type {text!r}")


def _value_string(wrapped: tuple[int, Any]) -> str:
    """value.ToString: strings quoted as Go's %q, numbers and bools bare."""
    rank, payload = wrapped
    if rank == 2:
        return go_quote(payload)
    if rank == 3:
        return "true" if payload else "false"
    if rank == 1:
        return go_float(payload) if isinstance(payload, float) else str(payload)
    if rank == 6:
        return "null"
    if rank == 4:
        return "[" + ",".join(_value_string(v) for v in payload) + "]"
    return "{" + ";".join(f"{k}={_value_string(v)}" for k, v in payload) + "}"


def element_string(pe: PathElement) -> str:
    tag, payload = pe
    if tag == _FIELD:
        return "." + str(payload)
    if tag == _KEY:
        return "[" + ",".join(f"{k}={_value_string(v)}" for k, v in payload) + "]"
    if tag == _VALUE:
        return "[=" + _value_string(payload) + "]"
    return f"[{payload}]"


def path_string(path: tuple[PathElement, ...]) -> str:
    """fieldpath.Path.String(): `.spec.containers[name="nginx"].image`."""
    return "".join(element_string(pe) for pe in path)


class FieldSet:
    """A set of field paths stored as a tree (fieldpath.Set): built with `insert`/`child`,
    then never changed (the algebra below shares subtrees between sets)."""

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    # --- building ------------------------------------------------------------------------
    def child(self, pe: PathElement) -> FieldSet:
        sub = self.children.get(pe)
        if sub is None:
            sub = self.children[pe] = FieldSet()
        return sub

    def insert(self, path: tuple[PathElement, ...]) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            node = node.child(pe)
        node.members.add(path[-1])

    # --- queries -------------------------------------------------------------------------
    def empty(self) -> bool:
        if self.members:
            return False
        return all(c.empty() for c in self.children.values())

    def paths(self, prefix: tuple[PathElement, ...] = ()) -> Iterator[tuple[PathElement, ...]]:
        """Every member path, members of a node before its children's, each sorted."""
        for pe in sorted(self.members):
            yield (*prefix, pe)
        for pe in sorted(self.children):
            yield from self.children[pe].paths((*prefix, pe))

    # --- algebra ---------------------------------------------------------------------------
    # Sets are never changed once built, so results share untouched subtrees with their
    # operands, and an operation that changes nothing returns its left operand itself (so a
    # manager's unchanged set keeps the fieldsV1 it was decoded from). Empty children go.
    def union(self, other: FieldSet) -> FieldSet:
        if other is self or other.empty():
            return self
        members = self.members | other.members
        children = dict(self.children)
        same = len(members) == len(self.members)
        for pe, b in other.children.items():
            a = children.get(pe)
            merged = b if a is None else a.union(b)
            if merged is not a:
                if merged.empty():
                    continue
                children[pe] = merged
                same = False
        if same:
            return self
        return _make(members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        if other is self:
            return self
        out = FieldSet()
        out.members = self.members & other.members
        for pe, a in self.children.items():
            b = other.children.get(pe)
            if b is not None:
                both = a.intersection(b)
                if not both.empty():
                    out.children[pe] = both
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of `other` are removed; a member of `other` does not remove children."""
        return self._minus(other, recursive=False)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, and a member of `other` also removes everything below it."""
        return self._minus(other, recursive=True)

    def _minus(self, other: FieldSet, *, recursive: bool) -> FieldSet:
        if not other.members and not other.children:
            return self
        members = self.members - other.members if other.members else self.members
        same = len(members) == len(self.members)
        children: dict[PathElement, FieldSet] = {}
        for pe, a in self.children.items():
            if recursive and pe in other.members:
                same = False
                continue
            b = other.children.get(pe)
            rest = a if b is None else a._minus(b, recursive=recursive)
            if rest is not a:
                same = False
                if rest.empty():
                    continue
            children[pe] = rest
        if same:
            return self
        return _make(members, children)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return list(self.paths()) == list(other.paths())

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self.paths()]})"

    # --- fieldsV1 ------------------------------------------------------------------------
    def to_fields_v1(self) -> dict[str, Any]:
        return self._emit(include_self=False)

    def _emit(self, *, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and (self.members or self.children):
            out["."] = {}
        for pe in sorted(self.members | self.children.keys()):
            sub = self.children.get(pe)
            if sub is None:
                out[_serialize(pe)] = {}
            else:
                out[_serialize(pe)] = sub._emit(include_self=pe in self.members)
        return out

    @classmethod
    def from_fields_v1(cls, data: Any) -> FieldSet:
        if not isinstance(data, dict):
            raise ValueError("fieldsV1 must be an object")
        out = cls()
        for text, sub in data.items():
            if text == ".":
                continue
            pe = _deserialize(text)
            if not isinstance(sub, dict):
                raise ValueError("fieldsV1 entries must be objects")
            if not sub or "." in sub:
                out.members.add(pe)
            if any(k != "." for k in sub):
                out.children[pe] = cls.from_fields_v1(sub)
        return out


def _make(members: set[PathElement], children: dict[PathElement, FieldSet]) -> FieldSet:
    out = FieldSet()
    out.members = members
    out.children = children
    return out
