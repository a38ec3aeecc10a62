"""CustomResourceDefinition rules (apiextensions-apiserver .../apiextensions/validation).

Covers the spec (group, names, scope, versions, schemas required) and the structural-schema
checks most CRDs trip over, compiles the CEL rules (`x-kubernetes-validations`), and checks
the conversion webhook's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.errors import Cause

from . import fielderrors as fe
from .admissionregistration import validate_client_config
from .cel_rules import check_rules
from .formats import is_dns1035_label, is_dns1123_subdomain
from .meta import (
    FIELD_IMMUTABLE,
    as_list,
    as_map,
    validate_object_meta,
    validate_object_meta_update,
)

__all__ = ["validate_crd", "validate_crd_update"]

_SCOPES = ("Cluster", "Namespaced")
_ROOT, _ITEM, _FIELD = "root", "item", "field"
_EMPTY_TYPE = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}


def _crd_name_fn(spec: Mapping[str, Any]) -> Any:
    names = as_map(spec.get("names"))
    required_name = f"{names.get('plural') or ''}.{spec.get('group') or ''}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        problems = is_dns1123_subdomain(name)
        if name != required_name:
            problems.append('must be spec.names.plural+"."+spec.group')
        return problems

    return name_fn


def _validate_group(group: str) -> list[Cause]:
    if not group:
        return [fe.required("spec.group")]
    problems = is_dns1123_subdomain(group)
    if problems:
        return [fe.invalid("spec.group", group, ",".join(problems))]
    if "." not in group:
        return [fe.invalid("spec.group", group, "should be a domain with at least one dot")]
    return []


def _validate_names(names: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "singular"):
        value = str(names.get(key) or "")
        if value and (problems := is_dns1035_label(value)):
            causes.append(fe.invalid(f"{path}.{key}", value, ",".join(problems)))
    for key in ("kind", "listKind"):
        value = str(names.get(key) or "")
        if value and (problems := is_dns1035_label(value.lower())):
            detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
            causes.append(fe.invalid(f"{path}.{key}", value, detail))
    for key in ("shortNames", "categories"):
        for index, value in enumerate(as_list(names.get(key))):
            if problems := is_dns1035_label(str(value)):
                causes.append(fe.invalid(f"{path}.{key}[{index}]", value, ",".join(problems)))
    kind = names.get("kind")
    if kind and kind == names.get("listKind"):
        causes.append(fe.invalid(f"{path}.listKind", kind, "kind and listKind may not be the same"))
    return causes


def _structural(schema: Mapping[str, Any], path: str, level: str) -> list[Cause]:
    """The structural-schema rules: every node typed, object at the root."""
    causes: list[Cause] = []
    node_type = schema.get("type") or ""
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if schema.get("x-kubernetes-embedded-resource") is True and node_type != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        causes.append(
            fe.invalid(f"{path}.type", node_type, detail)
            if node_type
            else fe.required(f"{path}.type", detail)
        )
    elif not node_type and not int_or_string and not preserve:
        causes.append(fe.required(f"{path}.type", _EMPTY_TYPE[level]))
    if level == _ROOT and node_type and node_type != "object":
        causes.append(fe.invalid(f"{path}.type", node_type, "must be object at the root"))
    for name, sub in as_map(schema.get("properties")).items():
        causes += _structural(as_map(sub), f"{path}.properties[{name}]", _FIELD)
    items = schema.get("items")
    if isinstance(items, Mapping):
        causes += _structural(items, f"{path}.items", _ITEM)
    additional = schema.get("additionalProperties")
    if isinstance(additional, Mapping):
        causes += _structural(additional, f"{path}.additionalProperties", _FIELD)
    return causes


def _openapi_rules(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """ValidateCustomResourceDefinitionOpenAPISchema's checks that apply to every node."""
    causes: list[Cause] = []
    if "$ref" in schema:
        causes.append(fe.forbidden(f"{path}.$ref", "$ref is not supported"))
    if schema.get("uniqueItems") is True:
        causes.append(
            fe.forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    additional = schema.get("additionalProperties")
    has_properties = bool(as_map(schema.get("properties")))
    if has_properties and (additional is False or isinstance(additional, Mapping)):
        causes.append(
            fe.forbidden(
                f"{path}.additionalProperties",
                "additionalProperties and properties are mutual exclusive",
            )
        )
    if isinstance(additional, Mapping):
        causes += _openapi_rules(additional, f"{path}.additionalProperties")
    for name, sub in as_map(schema.get("properties")).items():
        causes += _openapi_rules(as_map(sub), f"{path}.properties[{name}]")
    if isinstance(schema.get("items"), Mapping):
        causes += _openapi_rules(schema["items"], f"{path}.items")
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(
            fe.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    return causes


def _validate_versions(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    versions = as_list(spec.get("versions"))
    preserve_unknown = spec.get("preserveUnknownFields") is True
    for index, version in enumerate(versions):
        version = as_map(version)
        schema = as_map(version.get("schema")).get("openAPIV3Schema")
        if schema is None and not preserve_unknown:
            causes.append(
                fe.required(
                    f"spec.versions[{index}].schema.openAPIV3Schema", "schemas are required"
                )
            )
    seen: set[str] = set()
    unique = True
    for index, version in enumerate(versions):
        version = as_map(version)
        name = str(version.get("name") or "")
        unique = unique and name not in seen
        seen.add(name)
        if problems := is_dns1035_label(name):
            causes.append(fe.invalid(f"spec.versions[{index}].name", name, ",".join(problems)))
    for path, schema in _schemas(versions):
        rules = _openapi_rules(schema, path)
        if schema.get("nullable") is True:
            rules.insert(0, fe.forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
        # The structural pass only runs once the generic schema checks pass, the CEL rules
        # only once the schema is structural.
        causes += rules or _structural(schema, path, _ROOT) or check_rules(schema, path)
    if not unique:
        causes.append(fe.invalid("spec.versions", versions, "must contain unique version names"))
    if sum(1 for v in versions if as_map(v).get("storage") is True) != 1:
        causes.append(
            fe.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    return causes


def _schemas(versions: list[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Each version's schema with the path kube reports it under: kube's internal form keeps
    one top-level `spec.validation` when every version has the same schema."""
    schemas = [as_map(as_map(v).get("schema")).get("openAPIV3Schema") for v in versions]
    present = [(i, s) for i, s in enumerate(schemas) if isinstance(s, Mapping)]
    if present and len(present) == len(schemas) and all(s == present[0][1] for _, s in present):
        return [("spec.validation.openAPIV3Schema", present[0][1])]
    return [(f"spec.versions[{i}].schema.openAPIV3Schema", s) for i, s in present]


def _defaulted_names(names: Mapping[str, Any]) -> dict[str, Any]:
    """SetDefaults_CustomResourceDefinitionSpec: singular and listKind follow from kind."""
    out = dict(names)
    kind = str(names.get("kind") or "")
    if kind and not out.get("singular"):
        out["singular"] = kind.lower()
    if kind and not out.get("listKind"):
        out["listKind"] = kind + "List"
    return out


def _validate_conversion(spec: Mapping[str, Any]) -> list[Cause]:
    """kube's conversion rules (paths as its internal type names them:
    `webhookClientConfig`, `conversionReviewVersions`); strom speaks ConversionReview v1."""
    conversion = as_map(spec.get("conversion"))
    strategy = conversion.get("strategy") or "None"
    webhook = conversion.get("webhook")
    if strategy not in ("None", "Webhook"):
        return [fe.not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]
    if strategy == "None":
        if isinstance(webhook, Mapping) and webhook.get("clientConfig") is not None:
            return [
                fe.forbidden(
                    "spec.conversion.webhookClientConfig",
                    "should not be set when strategy is not set to Webhook",
                )
            ]
        return []
    webhook = as_map(webhook)
    causes: list[Cause] = []
    client = webhook.get("clientConfig")
    if not isinstance(client, Mapping):
        causes.append(
            fe.required(
                "spec.conversion.webhookClientConfig", "required when strategy is set to Webhook"
            )
        )
    else:
        causes += validate_client_config(client, "spec.conversion.webhookClientConfig")
    versions = [str(v) for v in as_list(webhook.get("conversionReviewVersions"))]
    path = "spec.conversion.conversionReviewVersions"
    if not versions:
        causes.append(fe.required(path, "must specify one of v1, v1beta1"))
    elif "v1" not in versions:
        detail = (
            "strom sends apiextensions.k8s.io/v1 only: must include v1"
            if "v1beta1" in versions
            else "must include at least one of v1, v1beta1"
        )
        causes.append(fe.invalid(path, versions, detail))
    return causes


def _validate_spec(spec: Mapping[str, Any]) -> list[Cause]:
    causes = _validate_group(str(spec.get("group") or ""))
    scope = spec.get("scope") or ""
    if not scope:
        causes.append(fe.required("spec.scope"))
    elif scope not in _SCOPES:
        causes.append(fe.not_supported("spec.scope", scope, _SCOPES))
    causes += _validate_versions(spec)
    causes += _validate_conversion(spec)
    names = _defaulted_names(as_map(spec.get("names")))
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            causes.append(fe.required(f"spec.names.{key}"))
    return causes + _validate_names(names, "spec.names")


def validate_crd(obj: Mapping[str, Any]) -> list[Cause]:
    spec = as_map(obj.get("spec"))
    meta = as_map(obj.get("metadata"))
    causes = validate_object_meta(meta, namespaced=False, name_fn=_crd_name_fn(spec), kube=False)
    return causes + _validate_spec(spec)


def _established(obj: Mapping[str, Any]) -> bool:
    for condition in as_list(as_map(obj.get("status")).get("conditions")):
        condition = as_map(condition)
        if condition.get("type") == "Established" and condition.get("status") == "True":
            return True
    return False


def validate_crd_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    causes = validate_object_meta_update(
        as_map(new.get("metadata")), as_map(old.get("metadata")), kube=False
    )
    new_spec, old_spec = as_map(new.get("spec")), as_map(old.get("spec"))
    causes += _validate_spec(new_spec)
    new_names, old_names = as_map(new_spec.get("names")), as_map(old_spec.get("names"))
    immutable: list[tuple[str, Any, Any]] = []
    if _established(old):
        immutable += [
            ("spec.scope", new_spec.get("scope"), old_spec.get("scope")),
            ("spec.names.kind", new_names.get("kind"), old_names.get("kind")),
        ]
    immutable += [
        ("spec.group", new_spec.get("group"), old_spec.get("group")),
        ("spec.names.plural", new_names.get("plural"), old_names.get("plural")),
    ]
    for path, new_value, old_value in immutable:
        if (new_value or "") != (old_value or ""):
            causes.append(fe.invalid(path, new_value or "", FIELD_IMMUTABLE))
    return causes
