"""NodePort allocation for Services, as kube-apiserver's portallocator hands them out.

A Service of type NodePort (or LoadBalancer with `allocateLoadBalancerNodePorts` not false)
gets a free port from `--service-node-port-range` (default 30000-32767) for every port that
names none; a port the user names must be in the range and free. An update keeps the ports it
had (matched by port and protocol), a type that needs no node ports drops them, and a deleted
Service frees its ports: what is allocated is read from the Services in the watch cache, plus
the ports handed out to writes still on their way to storage, so nothing leaks and nothing
is kept beyond the Services themselves.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from strom.errors import Cause, StatusError

__all__ = ["NodePortAllocator", "parse_port_range"]

_PENDING_SECONDS = 30.0  # a write that allocated is in the cache well before this


def parse_port_range(text: str) -> tuple[int, int]:
    """`30000-32767` (or a single port, or `base+size`) as utilnet.ParsePortRange reads it."""
    text = text.strip()
    try:
        if "+" in text:
            base, size = text.split("+", 1)
            low = int(base)
            high = low + int(size)
        elif "-" in text:
            first, last = text.split("-", 1)
            low, high = int(first), int(last)
        else:
            low = high = int(text)
    except ValueError as exc:
        raise ValueError(f"unable to parse port range: {text}") from exc
    if not (0 <= low <= high <= 65535):
        raise ValueError(f"unable to parse port range: {text}")
    return low, high


def needs_node_ports(spec: dict[str, Any]) -> bool:
    kind = spec.get("type") or "ClusterIP"
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False


def _ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in spec.get("ports") or () if isinstance(p, dict)]


def _used_by(obj: dict[str, Any]) -> set[int]:
    spec = obj.get("spec") or {}
    used = {p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int)}
    if isinstance(spec.get("healthCheckNodePort"), int):
        used.add(spec["healthCheckNodePort"])
    used.discard(0)
    return used


class NodePortAllocator:
    def __init__(self, port_range: tuple[int, int] = (30000, 32767)) -> None:
        self.low, self.high = port_range
        # port -> (namespace/name of the Service, when handed out): ports given to writes not
        # yet in the cache; once the Service is there, the cache is the truth.
        self._pending: dict[int, tuple[str, float]] = {}

    @property
    def range_text(self) -> str:
        return f"{self.low}-{self.high}"

    def assign(
        self,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        services: Iterable[dict[str, Any]],
    ) -> None:
        """Fill in and check `obj`'s node ports in place; 422 as kube words it."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        old_spec = (old or {}).get("spec") or {}
        name = str((obj.get("metadata") or {}).get("name", ""))
        if not needs_node_ports(spec):
            if old is not None and needs_node_ports(old_spec) and _same_node_ports(spec, old_spec):
                for port in _ports(spec):
                    port.pop("nodePort", None)  # the type changed: its node ports go
            return
        mine = _used_by(old) if old is not None else set()
        now = time.monotonic()
        me = _key(obj)
        taken: set[int] = set()
        cached: set[str] = set()
        for other in services:
            key = _key(other)
            cached.add(key)
            if key != me:
                taken |= _used_by(other)
        self._pending = {
            port: (key, when)
            for port, (key, when) in self._pending.items()
            if now - when < _PENDING_SECONDS and key not in cached
        }
        taken |= {port for port, (key, _) in self._pending.items() if key != me}
        taken -= mine
        old_by_port = {
            (p.get("port"), p.get("protocol") or "TCP"): p.get("nodePort")
            for p in _ports(old_spec)
            if p.get("nodePort")
        }
        causes: list[Cause] = []
        claimed: set[int] = set()
        for index, port in enumerate(_ports(spec)):
            wanted = port.get("nodePort")
            if not wanted:
                wanted = old_by_port.get((port.get("port"), port.get("protocol") or "TCP"))
                if wanted and wanted not in claimed:
                    port["nodePort"] = wanted
                    claimed.add(wanted)
                    continue
                free = self._free(taken | claimed)
                if free is None:
                    raise StatusError.internal("failed to allocate a nodePort: range is full")
                port["nodePort"] = free
                claimed.add(free)
                continue
            if not isinstance(wanted, int) or isinstance(wanted, bool):
                continue  # the type check reports it
            # One port may serve TCP and UDP of the same Service: only others' ports count.
            problem = self._problem(wanted, taken)
            if problem:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {wanted}: {problem}",
                        f"spec.ports[{index}].nodePort",
                    )
                )
            claimed.add(wanted)
        if causes:
            raise StatusError.invalid("Service", name, causes)
        for handed in claimed:
            self._pending[handed] = (me, now)

    def _problem(self, port: int, taken: set[int]) -> str:
        if not self.low <= port <= self.high:
            return (
                "provided port is not in the valid range. The range of valid ports is"
                f" {self.range_text}"
            )
        if port in taken:
            return "provided port is already allocated"
        return ""

    def _free(self, taken: set[int]) -> int | None:
        size = self.high - self.low + 1
        if len(taken) >= size:
            return None
        start = secrets.randbelow(size)
        for step in range(size):
            port = self.low + (start + step) % size
            if port not in taken:
                return port
        return None


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _same_node_ports(spec: dict[str, Any], old_spec: dict[str, Any]) -> bool:
    new = [p.get("nodePort") for p in _ports(spec)]
    old = [p.get("nodePort") for p in _ports(old_spec)]
    return new == old
