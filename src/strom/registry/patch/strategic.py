"""Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch applies it server-side.

A strategic merge patch is a JSON merge patch that knows the schema: lists whose field says
`x-kubernetes-patch-strategy: merge` are merged item by item (maps by their
`x-kubernetes-patch-merge-key`, primitives as a set) instead of replaced, and the patch may carry
directives (`$patch`, `$retainKeys`, `$deleteFromPrimitiveList/<f>`, `$setElementOrder/<f>`).
kube-apiserver reads strategies from Go struct tags; strom reads the same tags from the OpenAPI
definitions in `strom.registry.schemas`, walking the schema alongside the document.

The code follows upstream's `mergeMap`/`mergeSlice` (apimachinery v0.36) step by step, including
its ordering rules and its quirks (`$patch: merge` is refused, a new value loses its nulls and
every map holding a `$patch`), because clients such as kubectl depend on the exact result.
Upstream's errors keep their codes: bad directive formats are 400, lists of lists 422, and
everything else a bare 500 with Go's message, as kube-apiserver answers for non-API errors.
"""

from __future__ import annotations

from typing import Any

from strom.errors import StatusError

from .gojson import go_sprint
from .strategic_support import (  # the helpers, split out to keep one job per module
    _BAD_ORDER_LIST,
    _BAD_PRIMITIVE_LIST,
    _BAD_RETAIN_KEYS,
    Schema,
    _bad_arg_type,
    _bad_patch_type,
    _field_meta,
    _FieldMeta,
    _go_kind,
    _identity,
    _internal,
    _items_schema,
    _no_merge_key,
    _Positions,
)

__all__ = ["strategic_merge"]


_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PREFIX = "$deleteFromPrimitiveList"
_ORDER_PREFIX = "$setElementOrder"


def strategic_merge(
    original: dict[str, Any], patch: dict[str, Any], schema: Schema
) -> dict[str, Any]:
    """Apply `patch` to `original` (both are consumed: pass copies) under `schema`.

    Returns the merged document. Directive keys that upstream leaves in values it takes as they
    are (a `replace` strategy, `$patch: replace`) are dropped where the schema says the value is
    a struct, as decoding the result into the Go type does.
    """
    merged = _merge_map(original, patch, schema)
    _strip_directives(merged, schema)
    return merged


# --- maps ----------------------------------------------------------------------------------
def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], schema: Schema
) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        return _map_directive(patch[_DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_element_orders(original, patch, schema)
    deletion_lists: list[tuple[str, Any]] = []
    for key, value in list(patch.items()):
        if key.startswith(_DELETE_PREFIX):
            # Upstream processes keys in Go's random map order; deletions last is the order
            # kubectl's patches (add, then delete from the same list) are written for.
            deletion_lists.append((_extract_key(key, _DELETE_PREFIX, _BAD_PRIMITIVE_LIST), value))
            continue
        _merge_field(original, key, value, schema, deletion=False)
    for key, value in deletion_lists:
        _merge_field(original, key, value, schema, deletion=True)
    return original


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace" and isinstance(directive, str):
        del patch[_DIRECTIVE]
        return patch
    if directive == "delete" and isinstance(directive, str):
        return {}
    raise _bad_patch_type(directive, patch)


def _extract_key(key: str, prefix: str, bad_format: str) -> str:
    head, slash, field = key.partition("/")
    if not slash or head != prefix:
        raise StatusError.bad_request(bad_format)
    return field


def _merge_field(
    original: dict[str, Any], key: str, value: Any, schema: Schema, *, deletion: bool
) -> None:
    if value is None:
        original.pop(key, None)
        return
    current = original.get(key)
    if key not in original or _go_kind(current) != _go_kind(value):
        if not deletion:  # deleting from a list the original lacks changes nothing
            _discard_nulls(value)
            _set_unless_directive(original, key, value)
        return
    meta = _field_meta(schema, key)
    if isinstance(current, dict):
        replace = meta.strategy == "replace"
        original[key] = value if replace else _merge_map(current, value, meta.schema)
    elif isinstance(current, list):
        original[key] = _merge_list_field(current, value, meta, deletion=deletion)
    else:
        original[key] = value


def _set_unless_directive(original: dict[str, Any], key: str, value: Any) -> None:
    cleaned, keep = _remove_directives(value)
    if keep:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _discard_nulls(value: Any) -> None:
    """discardNullValuesFromPatch: a new value keeps no null members, at any depth."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            _discard_nulls(item)
    elif isinstance(value, list):
        for item in value:
            _discard_nulls(item)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """removeDirectives: maps that carry a `$patch` are dropped from a new value (and the
    value itself is dropped when it is one)."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        for key in list(value):
            value[key], keep = _remove_directives(value[key])
            if not keep:
                del value[key]
        return value, True
    if isinstance(value, list):
        kept = [_remove_directives(item) for item in value]
        return [item for item, keep in kept if keep], True
    return value, True


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys`: every set field of the patch must be listed; unlisted fields are cleared."""
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise StatusError.bad_request(_BAD_RETAIN_KEYS)
    listed = {_identity(item) for item in retained}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if _identity(key) not in listed:
            raise StatusError.bad_request(_BAD_RETAIN_KEYS)
    for key in [k for k in original if _identity(k) not in listed]:
        del original[key]


# --- $setElementOrder ----------------------------------------------------------------------
def _merge_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> None:
    """Merge each list named by a `$setElementOrder/<field>`, then order it by that list."""
    for directive_key in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type([], order)
        field = _extract_key(directive_key, _ORDER_PREFIX, _BAD_ORDER_LIST)
        # A null in the stored object counts as absent (upstream's typed original has none).
        found_original = original.get(field) is not None
        found_patch = field in patch
        current = _as_list(original.get(field) if found_original else [])
        patch_list = _as_list(patch[field] if found_patch else [])
        meta = _field_meta(schema, field)
        _validate_order(patch_list, order, meta.merge_key)
        if found_original and found_patch:
            merged = _merge_list_field(current, patch_list, meta, deletion=False)
        elif found_original:
            merged = current
        elif found_patch:
            merged = _remove_directives(patch_list)[0]
        else:
            continue
        of_maps = bool(meta.merge_key)
        patch_items, server_only = _partition(merged, order, meta.merge_key, of_maps=of_maps)
        kind = _element_kind(current, patch_list)
        original[field] = _normalize_order(
            patch_items,
            server_only,
            patch_order=order,
            server_order=current,
            merge_key=meta.merge_key,
            of_maps=kind == "dict",
        )
        patch.pop(field, None)


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad_arg_type([], value)
    return value


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's items must appear in `$setElementOrder` and in the same relative order."""
    if not order or not patch_list:
        return
    kept = _without_deletes(patch_list) if merge_key else patch_list
    patch_at = order_at = 0
    while patch_at < len(kept) and order_at < len(order):
        item = kept[patch_at]
        if isinstance(item, dict) and _DIRECTIVE in item:
            patch_at += 1
            continue
        if _merge_key_equal(item, order[order_at], merge_key):
            patch_at += 1
        order_at += 1
    if patch_at < len(kept) and order_at >= len(order):
        raise _internal(
            f"The order in patch list:\n{go_sprint(patch_list)}\n doesn't match"
            f" {_ORDER_PREFIX} list:\n{go_sprint(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _identity(left) == _identity(right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _bad_arg_type({}, side)
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _identity(left[merge_key]) == _identity(right[merge_key])


def _without_deletes(items: list[Any]) -> list[Any]:
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type({}, item)
    return [item for item in items if item.get(_DIRECTIVE) != "delete"]


# --- lists ---------------------------------------------------------------------------------
def _merge_list_field(
    current: list[Any], patch: list[Any], meta: _FieldMeta, *, deletion: bool
) -> list[Any]:
    if meta.strategy != "merge" and not deletion:  # deletion lists apply to any list
        return patch
    return _merge_list(
        current, patch, _items_schema(meta.schema), meta.merge_key, deletion=deletion
    )


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: all items share one Go type, and that type is not a list."""
    kinds = {_go_kind(item) for items in lists for item in items}
    first = next((item for items in lists for item in items), None)
    if isinstance(first, list):
        raise StatusError.unprocessable()  # mergepatch.ErrNoListOfLists
    if len(kinds) > 1:
        shown = "[" + " ".join(go_sprint(items) for items in lists) + "]"
        raise _internal(f"list element types are not identical: {shown}")
    if not kinds:
        raise _internal("no elements in any of the given slices")
    return kinds.pop()


def _merge_list(
    original: list[Any], patch: list[Any], item_schema: Schema, merge_key: str, *, deletion: bool
) -> list[Any]:
    """mergeSlice. May rewrite `original` in place the way Go's shared slice array is rewritten
    (see _MapListMerge); callers that order by `original` afterwards rely on that."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "dict":
        if deletion:
            doomed = {_identity(item) for item in patch}
            return [item for item in original if _identity(item) not in doomed]
        merged = _dedupe(original + patch)
        server_order = original
    else:
        if not merge_key:
            element = "struct" if item_schema is not None else "interface"
            raise _internal(f"cannot merge lists without merge key for {element}")
        merge = _MapListMerge(original, merge_key)
        patch = merge.apply_directives(patch)
        server_order = merge.server_order()
        merged = merge.merge_items(patch, item_schema)
    of_maps = bool(merge_key)
    patch_items, server_only = _partition(merged, patch, merge_key, of_maps=of_maps)
    return _normalize_order(
        patch_items,
        server_only,
        patch_order=patch,
        server_order=server_order,
        merge_key=merge_key,
        of_maps=kind == "dict",
    )


def _dedupe(items: list[Any]) -> list[Any]:
    """Drop repeated primitives (their order is fixed afterwards by _normalize_order)."""
    seen: set[tuple[str, Any]] = set()
    unique = []
    for item in items:
        if _identity(item) not in seen:
            seen.add(_identity(item))
            unique.append(item)
    return unique


class _MapListMerge:
    """Merging a list of maps by merge key, as Go's slices do it, aliasing included.

    Upstream deletes items with `append(s[:i], s[i+1:]...)` and appends new items with
    `append(s, item)`, both of which write into the caller's array while it has room. The
    caller then orders the list by that array (with `$setElementOrder`), and its expected
    results depend on those writes, so `backing` is the caller's list itself, rewritten in
    place without changing its length, and `length` is the length of Go's working slice.
    Once an append outgrows the caller's array, Go copies; `backing` is then a private copy.
    """

    def __init__(self, original: list[Any], merge_key: str) -> None:
        self.backing = original
        self.length = len(original)
        self.merge_key = merge_key
        self.shared = True  # False once `backing` has been copied

    def _find(self, value: Any) -> int | None:
        wanted = _identity(value)
        for index in range(self.length):
            item = self.backing[index]
            if self.merge_key in item and _identity(item[self.merge_key]) == wanted:
                return index
        return None

    def _delete(self, index: int) -> None:
        self.backing[index : self.length - 1] = self.backing[index + 1 : self.length]
        self.length -= 1

    def _append(self, item: Any) -> None:
        if self.length < len(self.backing):
            self.backing[self.length] = item  # room left in the array: Go writes in place
        else:
            if self.shared:  # Go moves to a new array; the caller's is left alone
                self.backing = self.backing[: self.length]
                self.shared = False
            self.backing.append(item)
        self.length += 1

    def server_order(self) -> list[Any]:
        return self.backing[: self.length]

    def apply_directives(self, patch: list[Any]) -> list[Any]:
        """`$patch` items: delete drops matching items, replace makes the rest the whole list.

        Returns the patch without directive items (nothing to merge after a replace)."""
        plain: list[Any] = []
        replace = False
        for item in patch:
            if _DIRECTIVE not in item:
                plain.append(item)
                continue
            directive = item[_DIRECTIVE]
            if directive == "delete" and isinstance(directive, str):
                if self.merge_key not in item:
                    raise _no_merge_key(item, self.merge_key)
                while (index := self._find(item[self.merge_key])) is not None:
                    self._delete(index)
            elif directive == "replace" and isinstance(directive, str):
                replace = True  # keep scanning: the other directive items are dropped either way
            elif directive == "merge" and isinstance(directive, str):
                raise _internal("merging lists cannot yet be specified in the patch")
            else:
                raise _bad_patch_type(directive, item)
        if not replace:
            return plain
        self.backing, self.length, self.shared = plain, len(plain), False
        return []

    def merge_items(self, patch: list[Any], item_schema: Schema) -> list[Any]:
        """Merge each patch item into the item with its merge key, or append it."""
        for item in patch:
            if self.merge_key not in item:
                raise _no_merge_key(item, self.merge_key)
            index = self._find(item[self.merge_key])
            if index is None:
                self._append(item)
            else:
                self.backing[index] = _merge_map(self.backing[index], item, item_schema)
        return self.backing[: self.length]


def _partition(
    merged: list[Any], present_in: list[Any], merge_key: str, *, of_maps: bool
) -> tuple[list[Any], list[Any]]:
    """Split `merged` into items named by `present_in` and items only the server has."""
    if of_maps:
        for item in merged:
            if not isinstance(item, dict):
                raise _bad_arg_type({}, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        for item in present_in:
            if not isinstance(item, dict):
                raise _internal(f"value for key {present_in.index(item)} is not a map")
    positions = _Positions(present_in, merge_key, of_maps)
    named = [item for item in merged if positions.index(item) >= 0]
    server_only = [item for item in merged if positions.index(item) < 0]
    return named, server_only


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    *,
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    of_maps: bool,
) -> list[Any]:
    """normalizeElementOrder: patch items in patch order, server-only items in server order,
    then interleaved so each server-only item stays before the patch items it preceded."""
    patch_items = _sort_by(patch_items, patch_order, merge_key, of_maps=of_maps)
    server_only = _sort_by(server_only, server_order, merge_key, of_maps=of_maps)
    return _merge_sorted(server_only, patch_items, _Positions(server_order, merge_key, of_maps))


def _sort_by(items: list[Any], order: list[Any], merge_key: str, *, of_maps: bool) -> list[Any]:
    """normalizeSliceOrder: stable sort by position in `order`, `$patch: delete` items last."""
    doomed: list[Any] = []
    if of_maps:
        for item in [*items, *order]:
            if not isinstance(item, dict):
                raise _bad_arg_type({}, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        doomed = [item for item in items if item.get(_DIRECTIVE) == "delete"]
        items = [item for item in items if item.get(_DIRECTIVE) != "delete"]
    positions = _Positions(order, merge_key, of_maps)
    indexed = [(positions.index(item), item) for item in items]
    if all(index >= 0 for index, _ in indexed):
        ordered = [item for _, item in sorted(indexed, key=lambda pair: pair[0])]
    else:
        ordered = _go_insertion_sort(indexed)
    return ordered + doomed


def _go_insertion_sort(indexed: list[tuple[int, Any]]) -> list[Any]:
    """sort.SliceStable with upstream's comparator, which calls an unknown item "less".

    That comparator is not an ordering, so only Go's own algorithm (insertion sort for up to
    20 items) gives upstream's result; this path only runs when an item is not in the order.
    """

    def less(a: int, b: int) -> bool:
        return not (a >= 0 and b >= 0) or a < b

    items = list(indexed)
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j][0], items[j - 1][0]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return [item for _, item in items]


def _merge_sorted(left: list[Any], right: list[Any], server: _Positions) -> list[Any]:
    """mergeSortedSlice: take from `left` (server-only) while it precedes `right` on the server."""
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = server.index(left[i]), server.index(right[j])
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# --- cleanup -------------------------------------------------------------------------------
def _is_directive_key(key: str) -> bool:
    return key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_DELETE_PREFIX, _ORDER_PREFIX))


def _strip_directives(value: Any, schema: Schema) -> None:
    """Drop directive keys from struct-typed maps, as decoding into the Go type drops them."""
    if isinstance(value, list):
        item_schema = _items_schema(schema)
        for item in value:
            _strip_directives(item, item_schema)
        return
    if not isinstance(value, dict) or schema is None:
        return
    if isinstance(schema.get("properties"), dict):
        for key in [k for k in value if _is_directive_key(k)]:
            del value[key]
    for key, item in value.items():
        _strip_directives(item, _field_meta(schema, key).schema)
