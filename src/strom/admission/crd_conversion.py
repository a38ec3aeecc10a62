"""CRD conversion webhooks: ConversionReview v1 out, converted objects checked and returned.

A custom resource whose CRD says `conversion.strategy: Webhook` is stored in its storage
version and shown in the version the client asked for; every change of version goes through
the webhook, as apiextensions-apiserver's webhook converter does: objects already in the
desired version are not sent, the answer must hold as many objects as were sent, each in the
desired apiVersion and kind, with the same name, namespace and uid; labels and annotations are
taken from the answer, the rest of the metadata stays the original's. A failure is kube's
500 (`conversion webhook for <group/version, Kind=...> failed: ...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.cache.state import StateCache
from strom.errors import StatusError
from strom.registry.kinds import ResourceType
from strom.uids import random_uuid

from .webhook_client import CallError, decode_ca_bundle, post_json
from .webhook_target import TargetError, resolve_target

__all__ = ["WebhookConverter"]

_TIMEOUT_SECONDS = 30  # kube's conversion webhook timeout (not configurable)
_KEPT = ("name", "namespace", "uid")


class _Failed(Exception):
    pass


def _gvk(rt: ResourceType, api_version: str) -> str:
    return f"{api_version}, Kind={rt.kind}"


class WebhookConverter:
    def __init__(self, cache: StateCache) -> None:
        self.cache = cache

    async def convert(
        self, rt: ResourceType, objects: list[dict[str, Any]], api_version: str
    ) -> list[dict[str, Any]]:
        """`objects` (stored or as a client sent them) in `api_version` (group/version)."""
        pending = [i for i, o in enumerate(objects) if o.get("apiVersion") != api_version]
        if not pending or rt.conversion is None:
            return [dict(o, apiVersion=api_version) for o in objects]
        sent = [objects[i] for i in pending]
        source = str(sent[0].get("apiVersion") or "")
        try:
            converted = await self._call(rt.conversion, sent, api_version)
        except _Failed as exc:
            raise StatusError.internal(
                f"conversion webhook for {_gvk(rt, source)} failed: {exc}"
            ) from exc
        if len(converted) != len(sent):
            raise StatusError.internal(
                f"conversion webhook for {_gvk(rt, source)} returned {len(converted)} objects,"
                f" expected {len(sent)}"
            )
        out = list(objects)
        for position, index in enumerate(pending):
            out[index] = _checked(rt, sent[position], converted[position], api_version, index)
        return out

    async def _call(
        self, webhook: Mapping[str, Any], objects: list[dict[str, Any]], api_version: str
    ) -> list[Any]:
        client = webhook.get("clientConfig") or {}
        ca_bundle = decode_ca_bundle(client.get("caBundle"))
        try:
            target = resolve_target(
                self.cache,
                str(client.get("url") or ""),
                client.get("service"),
                ca_bundle,
                _TIMEOUT_SECONDS,
            )
        except TargetError as exc:
            raise _Failed(str(exc)) from exc
        uid = random_uuid()
        review = {
            "kind": "ConversionReview",
            "apiVersion": "apiextensions.k8s.io/v1",
            "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": objects},
        }
        try:
            answer = await post_json(target, review, float(_TIMEOUT_SECONDS))
        except CallError as exc:
            raise _Failed(str(exc)) from exc
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise _Failed("conversion webhook response was absent")
        if response.get("uid") != uid:
            raise _Failed(f'expected response.uid="{uid}", got "{response.get("uid") or ""}"')
        raw_result = response.get("result")
        result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
        if result.get("status") != "Success":
            raise _Failed(str(result.get("message") or "conversion failed"))
        converted = response.get("convertedObjects")
        if not isinstance(converted, list):
            raise _Failed("response.convertedObjects must be a list")
        return converted


def _checked(
    rt: ResourceType, original: dict[str, Any], result: Any, api_version: str, index: int
) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise StatusError.internal(f"invalid converted object at index {index}: not an object")
    if result.get("apiVersion") != api_version:
        raise StatusError.internal(
            f"invalid converted object at index {index}: invalid apiVersion"
            f' "{result.get("apiVersion") or ""}", expected "{api_version}"'
        )
    if result.get("kind") != rt.kind:
        raise StatusError.internal(
            f'invalid converted object at index {index}: invalid kind "{result.get("kind") or ""}",'
            f' expected "{rt.kind}"'
        )
    meta = dict(original.get("metadata") or {})
    raw_meta = result.get("metadata")
    converted_meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    for key in _KEPT:
        if (converted_meta.get(key) or "") != (meta.get(key) or ""):
            raise StatusError.internal(
                f"invalid metadata in converted object at index {index}: must not change"
                f" metadata.{key}"
            )
    for key in ("labels", "annotations"):
        if converted_meta.get(key):
            meta[key] = converted_meta[key]
        else:
            meta.pop(key, None)
    out = dict(result)
    out["metadata"] = meta
    return out
