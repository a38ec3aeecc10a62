"""ObjectMeta rules every kind shares (apimachinery/pkg/api/validation/objectmeta.go).

Built-in kinds go through core's ValidateObjectMeta, which adds a finalizer-name check on top
(`kube=True`); CRDs and custom resources use the generic one. A namespace sent on a
cluster-scoped kind never reaches validation: the registry clears it first, as kube's
BeforeCreate does, so it is not checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strom.errors import Cause

from . import fielderrors as fe
from .formats import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_value,
    is_path_segment_name,
    is_qualified_name,
    mask_trailing_dash,
)

__all__ = [
    "NameFn",
    "as_list",
    "as_map",
    "name_is_dns1035_label",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "name_is_path_segment",
    "normalized",
    "semantic_equal",
    "validate_annotations",
    "validate_finalizer_names",
    "validate_label_selector",
    "validate_labels",
    "validate_object_meta",
    "validate_object_meta_update",
    "validate_template_meta",
]

NameFn = Callable[[str, bool], list[str]]
"""A name rule: (name, is_generate_name_prefix) -> problems."""

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
IS_NEGATIVE_MSG = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    return is_path_segment_name(name, prefix=prefix)


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def normalized(value: Any) -> Any:
    """Drop nulls and empty maps/lists, the way apimachinery's Semantic equality ignores them."""
    if isinstance(value, Mapping):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def semantic_equal(a: Any, b: Any) -> bool:
    return bool(normalized(a) == normalized(b))


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in as_map(labels).items():
        causes.extend(fe.invalid(path, key, m) for m in is_qualified_name(key))
        if isinstance(value, str):
            causes.extend(fe.invalid(path, value, m) for m in is_label_value(value))
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for key, value in as_map(annotations).items():
        # Annotation keys are qualified names, except that case does not matter.
        causes.extend(fe.invalid(path, key, m) for m in is_qualified_name(key.lower()))
        total += len(key.encode()) + len(str(value or "").encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _validate_owner_references(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    first_controller = ""
    for ref in as_list(refs):
        ref = as_map(ref)
        api_version = str(ref.get("apiVersion") or "")
        if not api_version.rpartition("/")[2]:
            causes.append(
                fe.invalid(f"{path}.apiVersion", api_version, "version must not be empty")
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                causes.append(
                    fe.invalid(f"{path}.{key}", str(ref.get(key) or ""), "must not be empty")
                )
        if api_version == "v1" and ref.get("kind") == "Event":
            causes.append(
                fe.invalid(path, dict(ref), "/v1, Kind=Event is disallowed from being an owner")
            )
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                causes.append(
                    fe.invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in'
                        f" references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return causes


def _validate_finalizers(finalizers: Any, path: str, *, kube: bool) -> list[Cause]:
    names = [f for f in as_list(finalizers) if isinstance(f, str)]
    causes = [fe.invalid(path, f, m) for f in names for m in is_qualified_name(f)]
    if "orphan" in names and "foregroundDeletion" in names:
        causes.append(
            fe.invalid(path, names, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    if kube:
        causes += validate_finalizer_names(names, path)
    return causes


def validate_finalizer_names(finalizers: Any, path: str) -> list[Cause]:
    """validateFinalizerName for each entry: a qualified name, standard or with a '/'."""
    causes: list[Cause] = []
    for index, name in enumerate(as_list(finalizers)):
        if not isinstance(name, str):
            continue
        item = f"{path}[{index}]"
        causes.extend(fe.invalid(item, name, m) for m in is_qualified_name(name))
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            causes.append(
                fe.invalid(
                    item,
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return causes


def _validate_common(meta: Mapping[str, Any], *, kube: bool) -> list[Cause]:
    causes: list[Cause] = []
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(fe.invalid("metadata.generation", generation, IS_NEGATIVE_MSG))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += _validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    causes += _validate_finalizers(meta.get("finalizers"), "metadata.finalizers", kube=kube)
    return causes


def validate_object_meta(
    meta: Mapping[str, Any], *, namespaced: bool, name_fn: NameFn, kube: bool = True
) -> list[Cause]:
    """ValidateObjectMeta on create: name (or generateName), namespace, labels, annotations...

    kube generates the name from generateName before validating; an object still waiting for
    its generated name is not reported as nameless.
    """
    causes: list[Cause] = []
    generate_name = str(meta.get("generateName") or "")
    name = str(meta.get("name") or "")
    if generate_name:
        causes += [
            fe.invalid("metadata.generateName", generate_name, m)
            for m in name_fn(generate_name, True)
        ]
    if not name and not generate_name:
        causes.append(fe.required("metadata.name", "name or generateName is required"))
    elif name:
        causes += [fe.invalid("metadata.name", name, m) for m in name_fn(name, False)]
    if namespaced:
        namespace = str(meta.get("namespace") or "")
        if not namespace:
            causes.append(fe.required("metadata.namespace"))
        else:
            causes += [
                fe.invalid("metadata.namespace", namespace, m)
                for m in name_is_dns_label(namespace, False)
            ]
    return causes + _validate_common(meta, kube=kube)


def validate_object_meta_update(
    new: Mapping[str, Any], old: Mapping[str, Any], *, kube: bool = True
) -> list[Cause]:
    """ValidateObjectMetaUpdate: identity fields are immutable, the rest validated as on create."""
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(as_list(new.get("finalizers"))) - set(as_list(old.get("finalizers"))))
        if added:
            go_list = "[]string{" + ", ".join(fe.go_quote(f) for f in added) + "}"
            causes.append(
                fe.forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new"
                    f" finalizers {go_list}",
                )
            )
    new_generation, old_generation = new.get("generation") or 0, old.get("generation") or 0
    decremented = isinstance(new_generation, int) and isinstance(old_generation, int)
    if decremented and new_generation < old_generation:
        causes.append(fe.invalid("metadata.generation", new_generation, "must not be decremented"))
    for key in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        if not semantic_equal(new.get(key), old.get(key)):
            value = new.get(key)
            causes.append(
                fe.invalid(
                    f"metadata.{key}",
                    "" if value is None and key in _STRINGS else value,
                    FIELD_IMMUTABLE,
                )
            )
    return causes + _validate_common(new, kube=kube)


_STRINGS = frozenset({"name", "namespace", "uid"})


def validate_template_meta(meta: Mapping[str, Any], path: str) -> list[Cause]:
    """ValidateTemplateObjectMeta: a pod template's metadata carries labels and annotations."""
    return validate_labels(meta.get("labels"), f"{path}.labels") + validate_annotations(
        meta.get("annotations"), f"{path}.annotations"
    )


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    """metav1 ValidateLabelSelector: matchLabels plus well-formed matchExpressions."""
    causes: list[Cause] = []
    selector = as_map(selector)
    for index, requirement in enumerate(as_list(selector.get("matchExpressions"))):
        causes += _validate_requirement(as_map(requirement), f"{path}.matchExpressions[{index}]")
    return causes + validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")


def _validate_requirement(requirement: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    operator = requirement.get("operator")
    values = as_list(requirement.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(
                fe.required(
                    f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(
                fe.forbidden(
                    f"{path}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        causes.append(fe.invalid(f"{path}.operator", operator, "not a valid selector operator"))
    key = str(requirement.get("key") or "")
    causes += [fe.invalid(f"{path}.key", key, m) for m in is_qualified_name(key)]
    for index, value in enumerate(values):
        if isinstance(value, str):
            causes += [
                fe.invalid(f"{path}.values[{index}]", value, m) for m in is_label_value(value)
            ]
    return causes
