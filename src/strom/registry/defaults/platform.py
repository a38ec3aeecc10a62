"""Defaults of the platform kinds: flowcontrol/v1 (defaults.go there), and the Go field order
and always-written empty structs of resource.k8s.io, networking IP ranges and APIServices."""

from __future__ import annotations

from typing import Any

from strom.registry.defaults._fields import Obj, child, conform, struct

__all__ = ["PLATFORM_DEFAULTERS", "PLATFORM_RESETS_STATUS"]

_OBJECT = ("kind", "apiVersion", "metadata", "spec", "status")
_FLOW = "flowcontrol.apiserver.k8s.io"
_FLOW_SCHEMA_SPEC = (
    "priorityLevelConfiguration",
    "matchingPrecedence",
    "distinguisherMethod",
    "rules",
)
_PRIORITY_SPEC = ("type", "limited", "exempt")
_LIMITED = ("nominalConcurrencyShares", "limitResponse", "lendablePercent", "borrowingLimitPercent")
_EXEMPT = ("nominalConcurrencyShares", "lendablePercent")
_QUEUING = ("queues", "handSize", "queueLengthLimit")
_DEFAULT_SHARES = 30
_DEFAULT_PRECEDENCE = 1000


def default_flow_schema(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        struct(spec, "priorityLevelConfiguration")
        if not spec.get("matchingPrecedence"):
            spec["matchingPrecedence"] = _DEFAULT_PRECEDENCE
        conform(spec, _FLOW_SCHEMA_SPEC)
    struct(obj, "status")
    conform(obj, _OBJECT)


def default_priority_level(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        limited = child(spec, "limited")
        if limited is not None:
            if limited.get("nominalConcurrencyShares") is None:
                limited["nominalConcurrencyShares"] = _DEFAULT_SHARES
            if limited.get("lendablePercent") is None:
                limited["lendablePercent"] = 0
            response = struct(limited, "limitResponse")
            queuing = child(response, "queuing") if response is not None else None
            if queuing is not None:
                for field, default in (("queues", 64), ("handSize", 8), ("queueLengthLimit", 50)):
                    if not queuing.get(field):
                        queuing[field] = default
                conform(queuing, _QUEUING)
            conform(limited, _LIMITED)
        exempt = child(spec, "exempt")
        if exempt is not None:
            for field in _EXEMPT:
                if exempt.get(field) is None:
                    exempt[field] = 0
            conform(exempt, _EXEMPT)
        conform(spec, _PRIORITY_SPEC)
    struct(obj, "status")
    conform(obj, _OBJECT)


def _spec_and_status(obj: Obj) -> None:
    struct(obj, "spec")
    struct(obj, "status")
    conform(obj, _OBJECT)


def _spec_only(obj: Obj) -> None:
    struct(obj, "spec")
    conform(obj, _OBJECT)


PLATFORM_DEFAULTERS: dict[tuple[str, str], Any] = {
    (_FLOW, "FlowSchema"): default_flow_schema,
    (_FLOW, "PriorityLevelConfiguration"): default_priority_level,
    ("resource.k8s.io", "DeviceClass"): _spec_only,
    ("resource.k8s.io", "ResourceClaim"): _spec_and_status,
    ("resource.k8s.io", "ResourceClaimTemplate"): _spec_only,
    ("resource.k8s.io", "ResourceSlice"): _spec_only,
    ("networking.k8s.io", "ServiceCIDR"): _spec_and_status,
    ("networking.k8s.io", "IPAddress"): _spec_only,
    ("apiregistration.k8s.io", "APIService"): _spec_and_status,
}
# Kinds whose PrepareForCreate starts status over.
PLATFORM_RESETS_STATUS = {
    (_FLOW, "FlowSchema"),
    (_FLOW, "PriorityLevelConfiguration"),
    ("resource.k8s.io", "ResourceClaim"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("apiregistration.k8s.io", "APIService"),
}
