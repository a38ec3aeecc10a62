"""A Service's addresses on create and update: ClusterIPs and node ports, allocated against
what the watch cache holds (other Services, IPAddress reservations, extra ServiceCIDRs)."""

from __future__ import annotations

from typing import Any

from strom.cache.state import StateCache
from strom.registry.cluster_ips import ClusterIPAllocator
from strom.registry.kinds import BUILTIN
from strom.registry.node_ports import NodePortAllocator

__all__ = ["assign_service_addresses"]

_SERVICES = next(t for t in BUILTIN if t.group == "" and t.plural == "services")
_IP_ADDRESSES = next(t for t in BUILTIN if t.plural == "ipaddresses")
_SERVICE_CIDRS = next(t for t in BUILTIN if t.plural == "servicecidrs")


def assign_service_addresses(
    cache: StateCache,
    cluster_ips: ClusterIPAllocator,
    node_ports: NodePortAllocator,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
) -> None:
    """Fill in (and check) `obj`'s ClusterIPs and node ports in place; 422 as kube words it."""
    state = cache.state(_SERVICES.key_prefix)
    services = [e.obj for e in state.entries.values()] if state is not None else []
    existing = set(state.entries) if state is not None else set()
    meta = obj.get("metadata") or {}
    me = _SERVICES.key(str(meta.get("namespace", "")), str(meta.get("name", "")))
    cluster_ips.assign(
        obj,
        old,
        services,
        reserved=_reserved_ips(cache, me, existing),
        extra_cidrs=_service_cidrs(cache),
    )
    node_ports.assign(obj, old, services)


def _reserved_ips(cache: StateCache, me: str, services: set[str]) -> list[str]:
    """Addresses IPAddress objects hold for another parent. One whose Service is gone is
    about to be collected (service_ips controller) and holds nothing any more."""
    state = cache.state(_IP_ADDRESSES.key_prefix)
    out = []
    for entry in state.entries.values() if state is not None else ():
        parent = (entry.obj.get("spec") or {}).get("parentRef") or {}
        if parent.get("resource") == "services" and not parent.get("group"):
            key = _SERVICES.key(str(parent.get("namespace", "")), str(parent.get("name", "")))
            if key == me or key not in services:
                continue
        out.append(str(entry.obj["metadata"]["name"]))
    return out


def _service_cidrs(cache: StateCache) -> list[str]:
    state = cache.state(_SERVICE_CIDRS.key_prefix)
    out: list[str] = []
    for entry in state.entries.values() if state is not None else ():
        if not (entry.obj.get("metadata") or {}).get("deletionTimestamp"):
            out += [str(c) for c in (entry.obj.get("spec") or {}).get("cidrs") or ()]
    return out
