"""ClusterIP allocation for Services, one range per IP family, as kube-apiserver allocates.

`--service-cluster-ip-range` names one CIDR (single-stack) or an IPv4 and an IPv6 one, the
first being the primary family (dual-stack). A Service's `ipFamilyPolicy` (SingleStack,
PreferDualStack, RequireDualStack) and `ipFamilies` decide how many addresses it gets and
from which range; a named `clusterIP`/`clusterIPs` must lie in its family's range and be free.
Headless Services (`clusterIP: None`) and ExternalName ones get no address. What is
allocated is read from the Services in the watch cache plus the addresses just handed to
writes on their way to storage, so a deleted Service frees its addresses at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import time
from collections.abc import Iterable
from typing import Any

from strom.errors import Cause, StatusError
from strom.gofmt import go_quote
from strom.registry.validation.fielderrors import go_value

__all__ = ["ClusterIPAllocator", "parse_cidrs"]

_PENDING_SECONDS = 30.0
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _family(net_or_ip: Any) -> str:
    return "IPv6" if net_or_ip.version == 6 else "IPv4"


def parse_cidrs(text: str) -> tuple[str, ...]:
    """One CIDR, or two of different families: ValueError as kube-apiserver refuses others."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not 1 <= len(parts) <= 2:
        raise ValueError("--service-cluster-ip-range takes one CIDR, or two for dual-stack")
    nets = [ipaddress.ip_network(p, strict=False) for p in parts]
    if len(nets) == 2 and nets[0].version == nets[1].version:
        raise ValueError("a dual-stack --service-cluster-ip-range needs one CIDR per IP family")
    return tuple(str(n) for n in nets)


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class ClusterIPAllocator:
    def __init__(self, cidrs: tuple[str, ...] = ("10.96.0.0/12",)) -> None:
        self.networks: list[_Network] = [ipaddress.ip_network(c) for c in cidrs]
        self.by_family = {_family(n): n for n in self.networks}
        self.families = [_family(n) for n in self.networks]
        self._pending: dict[str, tuple[str, float]] = {}  # ip -> (service key, when)

    @property
    def dual_stack(self) -> bool:
        return len(self.networks) == 2

    def assign(
        self,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        services: Iterable[dict[str, Any]],
        *,
        reserved: Iterable[str] = (),
        extra_cidrs: Iterable[str] = (),
    ) -> None:
        """Fill in and check `obj`'s families and addresses in place; 422 as kube words it.

        `reserved` are addresses held by IPAddress objects of other parents; `extra_cidrs`
        the ranges of ServiceCIDRs beyond the default one, used once the default is full and
        for addresses a Service names."""
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
            return
        old_spec = (old or {}).get("spec") or {}
        if old is not None and old_spec.get("clusterIP") and old_spec.get("type") != "ExternalName":
            return  # addresses are kept (and may not change: validation says so)
        ips = [ip for ip in spec.get("clusterIPs") or () if isinstance(ip, str) and ip]
        if not ips and isinstance(spec.get("clusterIP"), str) and spec["clusterIP"]:
            ips = [spec["clusterIP"]]
        name = str((obj.get("metadata") or {}).get("name", ""))
        headless = ips[:1] == ["None"]
        if headless and not spec.get("selector"):
            return  # headless without selector: families as the defaults give them
        policy, families = self._families(spec, ips, name)
        spec["ipFamilyPolicy"] = policy
        spec["ipFamilies"] = families
        if headless:
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return
        extra: dict[str, list[_Network]] = {}
        for cidr in extra_cidrs:
            with contextlib.suppress(ValueError):
                net = ipaddress.ip_network(cidr)
                if net not in self.networks:
                    extra.setdefault(_family(net), []).append(net)
        spec["clusterIPs"] = self._addresses(
            obj, families, ips, services, name, set(reserved), extra
        )
        spec["clusterIP"] = spec["clusterIPs"][0]

    def _families(self, spec: dict[str, Any], ips: list[str], name: str) -> tuple[str, list[str]]:
        families = [f for f in spec.get("ipFamilies") or () if isinstance(f, str)]
        policy = spec.get("ipFamilyPolicy")
        if policy is None:
            policy = "RequireDualStack" if len(families) == 2 or len(ips) == 2 else "SingleStack"
        causes: list[Cause] = []
        if policy == "RequireDualStack" and not self.dual_stack:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {go_quote(policy)}: this cluster is not configured for"
                    " dual-stack services",
                    "spec.ipFamilyPolicy",
                )
            )
        for index, family in enumerate(families):
            if family not in self.by_family:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {go_quote(family)}: not configured on this cluster",
                        f"spec.ipFamilies[{index}]",
                    )
                )
        if causes:
            raise StatusError.invalid("Service", name, causes)
        if not families:
            from_ips = []
            for ip in ips:
                if ip != "None":
                    with contextlib.suppress(ValueError):  # validation reports a bad address
                        from_ips.append(_family(ipaddress.ip_address(ip)))
            families = from_ips or [self.families[0]]
        if policy != "SingleStack" and self.dual_stack and len(families) == 1:
            families.append(next(f for f in self.families if f != families[0]))
        return policy, families

    def _addresses(
        self,
        obj: dict[str, Any],
        families: list[str],
        ips: list[str],
        services: Iterable[dict[str, Any]],
        name: str,
        reserved: set[str],
        extra: dict[str, list[_Network]],
    ) -> list[str]:
        me = _key(obj)
        now = time.monotonic()
        taken: set[str] = set(reserved)
        cached: set[str] = set()
        for other in services:
            key = _key(other)
            cached.add(key)
            if key != me:
                taken |= set((other.get("spec") or {}).get("clusterIPs") or ())
        self._pending = {
            ip: (key, when)
            for ip, (key, when) in self._pending.items()
            if now - when < _PENDING_SECONDS and key not in cached
        }
        taken |= {ip for ip, (key, _) in self._pending.items() if key != me}
        out: list[str] = []
        for index, family in enumerate(families):
            network = self.by_family[family]
            if index < len(ips):
                ip = ips[index]
                for candidate in extra.get(family, ()):
                    with contextlib.suppress(ValueError):
                        if ipaddress.ip_address(ip) in candidate:
                            network = candidate
                problem = self._problem(ip, network, taken)
                if problem:
                    raise StatusError.invalid(
                        "Service",
                        name,
                        [
                            Cause(
                                "FieldValueInvalid",
                                f"Invalid value: {go_value(ips)}: failed to allocate IP {ip}:"
                                f" {problem}",
                                "spec.clusterIPs",
                            )
                        ],
                    )
            else:
                ip = self._free_in([network, *extra.get(family, ())], taken)
            out.append(ip)
            taken.add(ip)
        for ip in out:
            self._pending[ip] = (me, now)
        return out

    @staticmethod
    def _problem(ip: str, network: _Network, taken: set[str]) -> str:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ""  # validation reports a malformed address
        if address not in network or address in (network.network_address,):
            return (
                f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is"
                f" {network}"
            )
        if ip in taken:
            return "provided IP is already allocated"
        return ""

    @classmethod
    def _free_in(cls, networks: list[_Network], taken: set[str]) -> str:
        for network in networks[:-1]:
            with contextlib.suppress(StatusError):
                return cls._free(network, taken)
        return cls._free(networks[-1], taken)

    @staticmethod
    def _free(network: _Network, taken: set[str]) -> str:
        size = network.num_addresses
        usable = min(size - 2, 1 << 20) if size > 4 else max(size - 1, 1)
        for _ in range(64):
            ip = str(network[1 + secrets.randbelow(usable)])
            if ip not in taken:
                return ip
        for offset in range(1, size - 1 if size > 2 else size):
            ip = str(network[offset])
            if ip not in taken:
                return ip
        raise StatusError.internal("failed to allocate a serviceIP: range is full")
