"""Turn the JSON-Schema `$defs` strom ships back into kube-apiserver's OpenAPI schemas.

`strom.registry.schemas` holds Kubernetes' definitions as kubernetes-validate rewrote them for
JSON Schema: nullable type arrays, `#/$defs/` refs, a one-value `enum` pinned on every kind's
apiVersion/kind, and Quantity/IntOrString flattened to bare `oneOf`s. OpenAPI v2 and v3 clients
(kubectl explain, client-side apply's patch strategies) want kube's own spelling back, with
keys in the order kube-openapi writes them. Custom resource schemas get the wrapping
apiextensions-apiserver gives them (apiVersion/kind/metadata, GVK extension, a List schema).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from strom.registry import schemas
from strom.registry.kinds import ResourceType

__all__ = [
    "V2_PREFIX",
    "V3_PREFIX",
    "builtin_definition",
    "crd_definition_name",
    "crd_definitions",
    "ref_closure",
]

V2_PREFIX = "#/definitions/"
V3_PREFIX = "#/components/schemas/"
_DEFS_PREFIX = "#/$defs/"

# kube-openapi marshals SchemaProps in struct-field order, then `$ref`, then extensions.
_KEY_ORDER = (
    "description",
    "type",
    "nullable",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "$ref",
)
_KEY_RANK = {key: rank for rank, key in enumerate(_KEY_ORDER)}
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY_DOC = (
    "Quantity is a fixed-point representation of a number. It provides convenient "
    "marshaling/unmarshaling in JSON and YAML, in addition to String() and Int64() "
    "accessors.\n\nThe serialization format is:\n\n<quantity>        ::= "
    '<signedNumber><suffix>\n  (Note that <suffix> may be empty, from the "" case in '
    "<decimalSI>.)\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= "
    "<digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | "
    '<digits>. | .<digits> <sign>            ::= "+" | "-" <signedNumber>    ::= '
    "<number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> "
    "| <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n  "
    "(International System of units; See: "
    'http://physics.nist.gov/cuu/Units/binary.html)\n<decimalSI>       ::= m | "" | k '
    "| M | G | T | P | E\n  (Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the "
    'capitalization.)\n<decimalExponent> ::= "e" <signedNumber> | "E" '
    "<signedNumber>\n\nNo matter which of the three exponent forms is used, no "
    "quantity may represent a number greater than 2^63-1 in magnitude, nor may it "
    "have more than 3 decimal places. Numbers larger or more precise will be capped "
    "or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the "
    "future if we require larger or smaller quantities.\n\nWhen a Quantity is parsed "
    "from a string, it will remember the type of suffix it had, and will use the "
    "same type again when it is serialized.\n\nBefore serializing, Quantity will be "
    'put in "canonical form". This means that Exponent/suffix will be adjusted up or '
    "down (with a corresponding increase or decrease in Mantissa) such that:\n  a. No "
    "precision is lost\n  b. No fractional digits will be emitted\n  c. The exponent "
    "(or suffix) is as large as possible.\nThe sign will be omitted unless the number "
    'is negative.\n\nExamples:\n  1.5 will be serialized as "1500m"\n  1.5Gi will be '
    'serialized as "1536Mi"\n\nNote that the quantity will NEVER be internally '
    "represented by a floating point number. That is the whole point of this "
    "exercise.\n\nNon-canonical values will still parse as long as they are well "
    "formed, but will be re-emitted in their canonical form. (So always use "
    "canonical form, or don't diff.)\n\nThis format is intended to make it difficult "
    "to use these numbers without writing some sort of special handling code in the "
    "hopes that that will cause implementors to also use a fixed point "
    "implementation."
)
_INT_OR_STRING_DOC = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
    "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to "
    "have, for example, a JSON field that can accept a name or number."
)
# kube-openapi's OpenAPISchemaType / OpenAPIV3OneOfTypes for the two special scalar types.
_SPECIAL: dict[str, dict[int, dict[str, Any]]] = {
    _QUANTITY: {
        2: {"description": _QUANTITY_DOC, "type": "string"},
        3: {
            "description": _QUANTITY_DOC,
            "oneOf": [{"type": "string"}, {"type": "number"}],
        },
    },
    _INT_OR_STRING: {
        2: {"description": _INT_OR_STRING_DOC, "type": "string", "format": "int-or-string"},
        3: {
            "description": _INT_OR_STRING_DOC,
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        },
    },
}

_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DOC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_METADATA_DOC = (
    "Standard list metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    """Keys as kube-openapi writes them: known props in order, then extensions by name."""
    known = sorted((k for k in schema if k in _KEY_RANK), key=_KEY_RANK.__getitem__)
    rest = sorted(k for k in schema if k not in _KEY_RANK)
    return {key: schema[key] for key in (*known, *rest)}


def _convert(node: Any, *, version: int, prefix: str) -> Any:
    """One JSON-Schema node to OpenAPI `version` (2 or 3), recursively."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            out[key] = next((t for t in value if t != "null"), "object")
        elif key == "$ref" and isinstance(value, str):
            out[key] = prefix + value.removeprefix(_DEFS_PREFIX).removeprefix(prefix)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {
                name: _convert(value[name], version=version, prefix=prefix)
                for name in sorted(value)
            }
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_convert(v, version=version, prefix=prefix) for v in value]
        elif key in ("items", "additionalProperties", "not", "additionalItems"):
            out[key] = _convert(value, version=version, prefix=prefix)
        else:
            out[key] = value
    if version == 3 and "$ref" in out and len(out) > 1:
        # OpenAPI v3 ignores siblings of $ref; kube wraps the ref in allOf to keep them.
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return _ordered(out)


def _unpin_type_meta(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the one-value enums kubernetes-validate pinned on a kind's apiVersion and kind."""
    props = schema.get("properties")
    if not schema.get("x-kubernetes-group-version-kind") or not isinstance(props, dict):
        return schema
    fixed = dict(props)
    for key in ("apiVersion", "kind"):
        if isinstance(fixed.get(key), dict) and "enum" in fixed[key]:
            fixed[key] = {k: v for k, v in fixed[key].items() if k != "enum"}
    return {**schema, "properties": fixed}


@functools.cache
def builtin_definition(name: str, version: int) -> dict[str, Any]:
    """kube's OpenAPI v2/v3 schema for a shipped definition. Shared; treat as read-only."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special[version]
    prefix = V2_PREFIX if version == 2 else V3_PREFIX
    converted: dict[str, Any] = _convert(
        _unpin_type_meta(schemas.definitions()[name]), version=version, prefix=prefix
    )
    return converted


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rpartition("/")[2])
            else:
                _collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, found)


@functools.cache
def _builtin_refs(name: str) -> frozenset[str]:
    found: set[str] = set()
    _collect_refs(schemas.definitions().get(name, {}), found)
    return frozenset(found)


def ref_closure(roots: Iterable[str], extra: dict[str, dict[str, Any]]) -> list[str]:
    """Every definition reachable from `roots`, sorted; `extra` holds non-shipped schemas."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in extra:
            found: set[str] = set()
            _collect_refs(extra[name], found)
            stack.extend(found)
        else:
            stack.extend(_builtin_refs(name))
    return sorted(seen)


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """apiextensions' name for a custom kind: the group reversed, `com.example.v1.Widget`."""
    reversed_group = ".".join(reversed(group.split(".")))
    return f"{reversed_group}.{version}.{kind}"


_V2_DROPPED = frozenset({"nullable", "oneOf", "anyOf", "not", "allOf", "x-kubernetes-validations"})


def _v2_compatible(node: Any) -> Any:
    """apiextensions' v2 projection: drop what Swagger 2.0 cannot say (nullable, oneOf, ...)."""
    if isinstance(node, list):
        return [_v2_compatible(v) for v in node]
    if not isinstance(node, dict):
        return node
    return {k: _v2_compatible(v) for k, v in node.items() if k not in _V2_DROPPED}


def _ref(name: str, *, version: int, description: str) -> dict[str, Any]:
    prefix = V2_PREFIX if version == 2 else V3_PREFIX
    if version == 3:
        return {"description": description, "allOf": [{"$ref": prefix + name}]}
    return {"description": description, "$ref": prefix + name}


def _gvk(group: str, version: str, kind: str) -> list[dict[str, str]]:
    return [{"group": group, "kind": kind, "version": version}]


def crd_definitions(rt: ResourceType, version: int) -> dict[str, dict[str, Any]]:
    """The kind and List schemas apiextensions-apiserver publishes for one custom resource."""
    crd = rt.crd or {}
    raw = crd.get("schema", {}).get("openAPIV3Schema") or {"type": "object"}
    if version == 2:
        raw = _v2_compatible(raw)
    kind_name = crd_definition_name(rt.group, rt.version, rt.kind)
    props = dict(raw.get("properties", {}))
    props["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
    props["kind"] = {"description": _KIND_DOC, "type": "string"}
    props["metadata"] = _ref(_OBJECT_META, version=version, description=_METADATA_DOC)
    kind_schema = _convert(
        {
            **raw,
            "type": "object",
            "properties": props,
            "x-kubernetes-group-version-kind": _gvk(rt.group, rt.version, rt.kind),
        },
        version=version,
        prefix=V2_PREFIX if version == 2 else V3_PREFIX,
    )
    items_ref = (V2_PREFIX if version == 2 else V3_PREFIX) + kind_name
    list_schema = _ordered(
        {
            "description": f"{rt.kind}List is a list of {rt.kind}",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
                "items": {
                    "description": f"List of {rt.plural}. More info: "
                    "https://git.k8s.io/community/contributors/devel/api-conventions.md",
                    "type": "array",
                    "items": {"$ref": items_ref},
                },
                "kind": {"description": _KIND_DOC, "type": "string"},
                "metadata": _ref(_LIST_META, version=version, description=_LIST_METADATA_DOC),
            },
            "x-kubernetes-group-version-kind": _gvk(rt.group, rt.version, rt.list_kind),
        }
    )
    return {kind_name: kind_schema, kind_name + "List": list_schema}
