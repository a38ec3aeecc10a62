"""ObjectMeta handling shared by every kind: system fields, key order, timestamps, names."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from strom.uids import random_uuid

__all__ = [
    "META_ORDER",
    "canonical",
    "fill_create_fields",
    "generate_name",
    "now_rfc3339",
    "type_prefix",
]

# ObjectMeta's Go field order: kube-apiserver emits metadata keys in this order.
META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
_META_RANK = {k: i for i, k in enumerate(META_ORDER)}

# utilrand's alphabet: no vowels (no words) and no look-alikes (0/o, 1/l).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    """`generateName` + 5 random characters, as kube's SimpleNameGenerator does."""
    base = prefix[: 63 - 5]
    return base + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def canonical(obj: dict[str, Any], *, with_type: bool) -> dict[str, Any]:
    """A copy with kube's key order: kind, apiVersion, metadata first, status last.

    `with_type=False` drops kind and apiVersion: built-in objects are stored without them
    (typed list items carry none) and get them back as a byte prefix on output.
    A `resourceVersion` slot is kept so the store's assignment lands in Go's order.
    """
    out: dict[str, Any] = {}
    if with_type:
        if "kind" in obj:
            out["kind"] = obj["kind"]
        if "apiVersion" in obj:
            out["apiVersion"] = obj["apiVersion"]
    meta = obj.get("metadata") or {}
    meta = dict(meta)
    meta.setdefault("resourceVersion", "")
    out["metadata"] = {k: meta[k] for k in sorted(meta, key=lambda k: _META_RANK.get(k, 99))}
    for key, value in obj.items():
        if key not in ("kind", "apiVersion", "metadata", "status"):
            out[key] = value
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def fill_create_fields(meta: dict[str, Any], *, with_generation: bool) -> None:
    """System fields a create sets (rest.FillObjectMetaSystemFields + BeforeCreate)."""
    meta["uid"] = random_uuid()
    meta["creationTimestamp"] = now_rfc3339()
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    meta.pop("selfLink", None)
    if with_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)


def type_prefix(kind: str, api_version: str) -> bytes:
    """`{"kind":"X","apiVersion":"v",` — prepended to stored bytes of built-in objects."""
    return b'{"kind":"%s","apiVersion":"%s",' % (kind.encode(), api_version.encode())
