"""Small tools the defaulters share: walking a JSON object, and kube's key order.

kube-apiserver answers with objects it re-encoded from Go structs, so keys come out in struct
field order and non-pointer struct fields come out even when empty (`"resources":{}`,
`"status":{}`). The defaulters mirror both: `conform` puts the keys of a struct they visit in
Go field order (unknown keys keep their relative order after the known ones), `struct` stands
in for a non-pointer struct field. The order tables live in `_order`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strom.registry.defaults._order import ORDER

Obj = dict[str, Any]

__all__ = ["ORDER", "Obj", "child", "conform", "items", "struct"]


def child(obj: Obj, key: str) -> Obj | None:
    """The object under `key`, or None when absent, null or not an object."""
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def items(obj: Obj, key: str) -> Iterator[Obj]:
    """The objects of the list under `key` (non-object entries are validation's business)."""
    value = obj.get(key)
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict):
                yield entry


def struct(obj: Obj, key: str) -> Obj | None:
    """A non-pointer Go struct field: absent or null decodes to, and encodes as, `{}`.

    Returns None (and leaves the value alone) when the field holds something other than an
    object, so that validation still sees and reports it.
    """
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else None


def conform(obj: Obj, order: tuple[str, ...]) -> None:
    """Reorder `obj`'s keys in place to Go struct field order."""
    rank = {name: i for i, name in enumerate(order)}
    keys = list(obj)
    ordered = sorted(keys, key=lambda k: rank.get(k, len(order)))
    if ordered == keys:
        return
    values = [(k, obj[k]) for k in ordered]
    obj.clear()
    obj.update(values)
