"""Columns and cells of the platform kinds: flow control, dynamic resource allocation, service
IP ranges, API services and component statuses (kube's `printers.go`, and kube-aggregator's
APIService printer). Same contract as `_core`: object and request time in, cells out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from strom.registry.tables._columns import column, doc, meta_doc
from strom.registry.tables._core import Printer
from strom.registry.tables._format import age_of, as_dict, as_list, meta_of, name_of

__all__ = ["PLATFORM_PRINTERS", "platform_columns", "sort_for_table"]

_FLOW = "flowcontrol.apiserver.k8s.io"
_RESOURCE = "resource.k8s.io"
_NETWORKING = "networking.k8s.io"
_AGGREGATOR = "apiregistration.k8s.io"


@functools.cache
def platform_columns() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Column definitions by (group, kind); built lazily since the docs load the schemas."""

    def name() -> dict[str, Any]:
        return column("Name", "string", meta_doc("name"), format_="name")

    def age() -> dict[str, Any]:
        return column("Age", "string", meta_doc("creationTimestamp"))

    queuing = "flowcontrol.v1.QueuingConfiguration"
    return {
        (_FLOW, "FlowSchema"): [
            name(),
            column(
                "PriorityLevel",
                "string",
                doc("flowcontrol.v1.PriorityLevelConfigurationReference", "name"),
            ),
            column(
                "MatchingPrecedence",
                "string",
                doc("flowcontrol.v1.FlowSchemaSpec", "matchingPrecedence"),
            ),
            column(
                "DistinguisherMethod",
                "string",
                doc("flowcontrol.v1.FlowSchemaSpec", "distinguisherMethod"),
            ),
            age(),
            column(
                "MissingPL",
                "string",
                "references a broken or non-existent PriorityLevelConfiguration",
            ),
        ],
        (_FLOW, "PriorityLevelConfiguration"): [
            name(),
            column("Type", "string", doc("flowcontrol.v1.PriorityLevelConfigurationSpec", "type")),
            column(
                "NominalConcurrencyShares",
                "string",
                doc("flowcontrol.v1.LimitedPriorityLevelConfiguration", "nominalConcurrencyShares"),
            ),
            column("Queues", "string", doc(queuing, "queues")),
            column("HandSize", "string", doc(queuing, "handSize")),
            column("QueueLengthLimit", "string", doc(queuing, "queueLengthLimit")),
            age(),
        ],
        (_RESOURCE, "DeviceClass"): [name(), age()],
        (_RESOURCE, "ResourceClaim"): [
            name(),
            column(
                "State",
                "string",
                "A summary of the current state (allocated, pending, reserved, etc.).",
            ),
            age(),
        ],
        (_RESOURCE, "ResourceClaimTemplate"): [name(), age()],
        (_RESOURCE, "ResourceSlice"): [
            name(),
            column("Node", "string", doc("resource.v1.ResourceSliceSpec", "nodeName")),
            column("Driver", "string", doc("resource.v1.ResourceSliceSpec", "driver")),
            column("Pool", "string", doc("resource.v1.ResourcePool", "name")),
            age(),
        ],
        (_NETWORKING, "ServiceCIDR"): [
            name(),
            column("CIDRs", "string", doc("networking.v1.ServiceCIDRSpec", "cidrs")),
            age(),
        ],
        # Upstream defines two columns and fills three cells (the age has no column).
        (_NETWORKING, "IPAddress"): [
            name(),
            column("ParentRef", "string", doc("networking.v1.IPAddressSpec", "parentRef")),
        ],
        ("", "ComponentStatus"): [
            name(),
            column("Status", "string", "Status of the component conditions"),
            column("Message", "string", "Message of the component conditions"),
            column("Error", "string", "Error of the component conditions"),
        ],
        (_AGGREGATOR, "APIService"): [
            name(),
            column(
                "Service",
                "string",
                "The reference to the service that hosts this API endpoint.",
            ),
            column("Available", "string", "Whether this service is available."),
            column("Age", "date", meta_doc("creationTimestamp")),
        ],
    }


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(obj.get("spec"))


def _flow_schema(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    method = as_dict(spec.get("distinguisherMethod"))
    missing = "?"
    for condition in as_list(as_dict(obj.get("status")).get("conditions")):
        if as_dict(condition).get("type") == "Dangling":
            missing = str(as_dict(condition).get("status", ""))
            break
    return [
        name_of(obj),
        as_dict(spec.get("priorityLevelConfiguration")).get("name", ""),
        spec.get("matchingPrecedence", 0),
        method.get("type", "") if spec.get("distinguisherMethod") is not None else "<none>",
        age_of(obj, now),
        missing,
    ]


def _priority_level(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand_size: Any = "<none>"
    length_limit: Any = "<none>"
    limited = spec.get("limited")
    if isinstance(limited, Mapping):
        shares = limited.get("nominalConcurrencyShares", 0)
        queuing = as_dict(limited.get("limitResponse")).get("queuing")
        if isinstance(queuing, Mapping):
            queues = queuing.get("queues", 0)
            hand_size = queuing.get("handSize", 0)
            length_limit = queuing.get("queueLengthLimit", 0)
    return [
        name_of(obj),
        spec.get("type", ""),
        shares,
        queues,
        hand_size,
        length_limit,
        age_of(obj, now),
    ]


def _name_age(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), age_of(obj, now)]


def _resource_claim(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    deleted = bool(meta_of(obj).get("deletionTimestamp"))
    status = as_dict(obj.get("status"))
    states = ["deleted"] if deleted else []
    if status.get("allocation") is None:
        if not deleted:
            states.append("pending")
    else:
        states.append("allocated")
        if as_list(status.get("reservedFor")):
            states.append("reserved")
    return [name_of(obj), ",".join(states), age_of(obj, now)]


def _resource_slice(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    return [
        name_of(obj),
        spec.get("nodeName", ""),
        spec.get("driver", ""),
        as_dict(spec.get("pool")).get("name", ""),
        age_of(obj, now),
    ]


def _service_cidr(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    cidrs = ",".join(str(c) for c in as_list(_spec(obj).get("cidrs")))
    return [name_of(obj), cidrs, age_of(obj, now)]


def _ip_address(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    parent = _spec(obj).get("parentRef")
    text = "<none>"
    if isinstance(parent, Mapping):
        group, resource = parent.get("group", ""), parent.get("resource", "")
        text = (f"{resource}.{group}" if group else str(resource)).lower()
        if parent.get("namespace"):
            text += f"/{parent['namespace']}"
        text += f"/{parent.get('name', '')}"
    return [name_of(obj), text, age_of(obj, now)]


def _component_status(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    del now
    status, message, error = "Unknown", "", ""
    for condition in as_list(obj.get("conditions")):
        condition = as_dict(condition)
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message = condition.get("message", "")
            error = condition.get("error", "")
            break
    return [name_of(obj), status, message, error]


def _api_service(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    del now
    service = _spec(obj).get("service")
    where = "Local"
    if isinstance(service, Mapping):
        where = f"{service.get('namespace', '')}/{service.get('name', '')}"
    available = "Unknown"
    for condition in as_list(as_dict(obj.get("status")).get("conditions")):
        condition = as_dict(condition)
        if condition.get("type") == "Available":
            available = str(condition.get("status", ""))
            if available != "True":
                available = f"{available} ({condition.get('reason', '')})"
            break
    return [name_of(obj), where, available, meta_of(obj).get("creationTimestamp")]


PLATFORM_PRINTERS: dict[tuple[str, str], Printer] = {
    (_FLOW, "FlowSchema"): _flow_schema,
    (_FLOW, "PriorityLevelConfiguration"): _priority_level,
    (_RESOURCE, "DeviceClass"): _name_age,
    (_RESOURCE, "ResourceClaim"): _resource_claim,
    (_RESOURCE, "ResourceClaimTemplate"): _name_age,
    (_RESOURCE, "ResourceSlice"): _resource_slice,
    (_NETWORKING, "ServiceCIDR"): _service_cidr,
    (_NETWORKING, "IPAddress"): _ip_address,
    ("", "ComponentStatus"): _component_status,
    (_AGGREGATOR, "APIService"): _api_service,
}


def sort_for_table(group: str, kind: str, objects: list[Mapping[str, Any]]) -> None:
    """kube prints FlowSchemas in matching order (precedence, then name), not by key."""
    if (group, kind) == (_FLOW, "FlowSchema"):
        objects.sort(key=lambda o: (_spec(o).get("matchingPrecedence", 0), str(name_of(o) or "")))
