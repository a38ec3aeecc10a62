"""The type of every field, as structured merge sees it: scalar, map (struct or string-keyed
map, granular or atomic), or list (atomic, set, or map keyed by fields), built from the same
OpenAPI schemas kube-apiserver converts (kube-openapi's schemaconv).

Lists take their relationship from `x-kubernetes-list-type` (and `x-kubernetes-list-map-keys`);
without it a list whose patch strategy is `merge` is associative by its patch merge key, any
other list is atomic. Maps are granular unless `x-kubernetes-map-type: atomic`. A schema that
says nothing more than "object" (RawExtension, `x-kubernetes-preserve-unknown-fields`) is
*deduced*: maps inside it are granular, lists atomic, the shape taken from the value.

Atoms are built lazily and memoized per schema node: the built-in definitions are shared and
never mutated, so one converter serves them for the life of the process; a CRD version gets a
converter of its own, kept in a small LRU keyed by the CRD's uid and resourceVersion.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any

from strom.registry.schemas import definition_name, definitions, resolve

__all__ = ["DEDUCED", "Atom", "root_atom"]

SCALAR, MAP, LIST, DEDUCED_KIND = range(4)

# Key fields kube's OpenAPI gives a default (`+default="TCP"`) that the packaged schemas lack:
# a container port without `protocol` is keyed {containerPort, protocol: TCP} all the same.
_KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class Atom:
    """One node of the type tree. `fields` (declared struct fields) and `element` (map values,
    list items) resolve lazily through the converter that made the atom."""

    __slots__ = (
        "_conv",
        "_element",
        "_field_atoms",
        "_fields",
        "atomic",
        "key_defaults",
        "keys",
        "kind",
    )

    def __init__(
        self,
        kind: int,
        *,
        conv: _Converter | None = None,
        fields: dict[str, Any] | None = None,
        element: Any = None,
        atomic: bool = False,
        keys: tuple[str, ...] = (),
        key_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.atomic = atomic
        self.keys = keys
        self.key_defaults = key_defaults or {}
        self._conv = conv
        self._fields = fields or {}
        self._element = element  # a schema dict, an Atom, or None
        self._field_atoms: dict[str, Atom] = {}

    @property
    def associative(self) -> bool:
        return self.kind == LIST and not self.atomic

    def field(self, name: str) -> Atom | None:
        """The declared field's type, or None when the map declares no such field."""
        atom = self._field_atoms.get(name)
        if atom is not None:
            return atom
        schema = self._fields.get(name)
        if schema is None:
            return None
        atom = schema if isinstance(schema, Atom) else self._resolve(schema)
        self._field_atoms[name] = atom
        return atom

    def has_field(self, name: str) -> bool:
        return name in self._fields

    def element(self) -> Atom:
        el = self._element
        if el is None:
            return DEDUCED if self.kind == DEDUCED_KIND else UNTYPED
        if isinstance(el, Atom):
            return el
        atom = self._resolve(el)
        self._element = atom
        return atom

    def child(self, name: str) -> Atom:
        """The type of map key `name`: its declared field, else the map's element type."""
        return self.field(name) or self.element()

    def _resolve(self, schema: dict[str, Any]) -> Atom:
        assert self._conv is not None
        return self._conv.atom(schema)


DEDUCED = Atom(DEDUCED_KIND)
UNTYPED = Atom(SCALAR)  # untyped atomic: whatever the value, a leaf


def _types(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if x != "null"}
    return set()


class _Converter:
    """Schema dicts to atoms, memoized by node identity (the root keeps the nodes alive)."""

    def __init__(self, root: Any, *, custom: bool) -> None:
        self._root = root
        self._custom = custom
        self._memo: dict[int, Atom] = {}

    def atom(self, schema: dict[str, Any]) -> Atom:
        atom = self._memo.get(id(schema))
        if atom is None:
            atom = self._memo[id(schema)] = self._make(schema)
        return atom

    def _make(self, prop: dict[str, Any]) -> Atom:
        target = resolve(prop) if not self._custom else prop

        def ext(key: str) -> Any:
            return prop.get(key, target.get(key))

        if "oneOf" in target or ext("x-kubernetes-int-or-string"):
            return Atom(SCALAR)
        types = _types(target)
        props = target.get("properties")
        additional = target.get("additionalProperties")
        preserve = bool(ext("x-kubernetes-preserve-unknown-fields"))
        if isinstance(props, dict) or isinstance(additional, dict) or additional is True:
            element: Any = None
            if isinstance(additional, dict):
                element = additional
            elif additional is True or preserve:
                element = DEDUCED
            return Atom(
                MAP,
                conv=self,
                fields=props if isinstance(props, dict) else {},
                element=element if element is not None else UNTYPED,
                atomic=ext("x-kubernetes-map-type") == "atomic",
            )
        if "array" in types or "items" in target:
            list_type = ext("x-kubernetes-list-type")
            keys: tuple[str, ...] = ()
            atomic = True
            if list_type in ("set", "map"):
                atomic = False
                if list_type == "map":
                    keys = tuple(ext("x-kubernetes-list-map-keys") or ())
            elif list_type is None and not self._custom:
                strategy = str(ext("x-kubernetes-patch-strategy") or "")
                if "merge" in strategy.split(","):
                    atomic = False
                    merge_key = ext("x-kubernetes-patch-merge-key")
                    keys = (merge_key,) if merge_key else ()
            items = target.get("items")
            item_schema = items if isinstance(items, dict) else {}
            return Atom(
                LIST,
                conv=self,
                element=item_schema,
                atomic=atomic,
                keys=keys,
                key_defaults=self._key_defaults(item_schema, keys),
            )
        if types & {"string", "integer", "number", "boolean"}:
            return Atom(SCALAR)
        return DEDUCED

    def _key_defaults(self, item_schema: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        if not keys:
            return {}
        item = resolve(item_schema) if not self._custom else item_schema
        item_name = _definition_of(item_schema)
        out: dict[str, Any] = {}
        for key in keys:
            prop = (item.get("properties") or {}).get(key) or {}
            if "default" in prop:
                out[key] = prop["default"]
            elif (item_name, key) in _KEY_DEFAULTS:
                out[key] = _KEY_DEFAULTS[(item_name, key)]
        return out


def _definition_of(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""


@functools.cache
def _builtin_converter() -> _Converter:
    return _Converter(definitions(), custom=False)


@functools.cache
def _builtin_root(group: str, version: str, kind: str) -> Atom:
    name = definition_name(group, version, kind)
    if name is None:
        return DEDUCED
    return _builtin_converter().atom(definitions()[name])


# id(version entry) -> (the entry, its root atom). The entry is held so its id cannot be
# reused while cached; a CRD update brings a new entry (and a new root) with it.
_CRD_ROOTS: OrderedDict[int, tuple[dict[str, Any], Atom]] = OrderedDict()
_CRD_ROOTS_MAX = 128


def _custom_root(crd_version: dict[str, Any], schema: dict[str, Any]) -> Atom:
    cached = _CRD_ROOTS.get(id(crd_version))
    if cached is not None and cached[0] is crd_version:
        _CRD_ROOTS.move_to_end(id(crd_version))
        return cached[1]
    conv = _Converter(schema, custom=True)
    fields: dict[str, Any] = dict(schema.get("properties") or {})
    fields["apiVersion"] = Atom(SCALAR)
    fields["kind"] = Atom(SCALAR)
    fields["metadata"] = _builtin_converter().atom(definitions()[_OBJECT_META])
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    root = Atom(MAP, conv=conv, fields=fields, element=DEDUCED if preserve else UNTYPED)
    _CRD_ROOTS[id(crd_version)] = (crd_version, root)
    if len(_CRD_ROOTS) > _CRD_ROOTS_MAX:
        _CRD_ROOTS.popitem(last=False)
    return root


def root_atom(
    group: str, version: str, kind: str, crd_version: dict[str, Any] | None = None
) -> Atom:
    """The type of a whole object of this kind (for a custom resource: from its CRD version
    entry, whose `schema.openAPIV3Schema` kube's structural schema is)."""
    if crd_version is None:
        return _builtin_root(group, version, kind)
    schema = (crd_version.get("schema") or {}).get("openAPIV3Schema") or {}
    return _custom_root(crd_version, schema)
