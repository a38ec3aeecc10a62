"""Service IP objects as kube-apiserver v1.36 keeps them (the MultiCIDRServiceAllocator model):

- the default ServiceCIDR `kubernetes` holds `--service-cluster-ip-range`, Ready;
- every ClusterIP a Service holds has an IPAddress named by the address, its `parentRef`
  naming the Service, labelled with its family and `ipallocator.k8s.io`; it goes with the
  Service or the address.

The allocator (registry/cluster_ips.py) treats IPAddresses as taken, so one created by hand
reserves its address, and allocates from ServiceCIDRs users add. strom writes the IPAddresses
from the change feed, a moment after the Service is stored, where kube writes them first.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from strom.cache.state import StateCache
from strom.controllers.queue import WorkQueue
from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import DeleteOptions, Registry, WriteOptions
from strom.storage.base import Change

__all__ = ["DEFAULT_SERVICE_CIDR", "MANAGED_BY", "ServiceIPs"]

log = logging.getLogger(__name__)

DEFAULT_SERVICE_CIDR = "kubernetes"
MANAGED_BY = "ipallocator.k8s.io"
_FAMILY_LABEL = "ipaddress.kubernetes.io/ip-family"
_MANAGED_LABEL = "ipaddress.kubernetes.io/managed-by"
SERVICES = next(t for t in BUILTIN if t.group == "" and t.plural == "services")
IP_ADDRESSES = next(t for t in BUILTIN if t.plural == "ipaddresses")
SERVICE_CIDRS = next(t for t in BUILTIN if t.plural == "servicecidrs")
_OPTS = WriteOptions(field_validation="Ignore")


def _addresses(service: dict[str, Any] | None) -> list[str]:
    if service is None:
        return []
    spec = service.get("spec") or {}
    return [ip for ip in spec.get("clusterIPs") or () if isinstance(ip, str) and ip != "None"]


class ServiceIPs:
    """Keeps IPAddresses in step with Services; `items` is worked by the controllers' loop."""

    def __init__(self, *, registry: Registry, cache: StateCache, cidrs: Sequence[str]) -> None:
        self.registry = registry
        self.cache = cache
        self.cidrs = list(cidrs)
        self.items = WorkQueue()  # "namespace/name" of Services

    def on_changes(self, changes: Sequence[Change]) -> None:
        services = SERVICES.key_prefix
        for change in changes:
            if change.key.startswith(services):
                self.items.add(change.key[len(services) :])

    async def start(self) -> None:
        await self._ensure_default_cidr()
        for key in self._state(SERVICES).entries:
            self.items.add(key[len(SERVICES.key_prefix) :])
        # Addresses whose Service is gone (deleted while strom was down): collect them too.
        for entry in list(self._state(IP_ADDRESSES).entries.values()):
            parent = (entry.obj.get("spec") or {}).get("parentRef") or {}
            if self._ours(entry.obj) and parent.get("resource") == "services":
                self.items.add(f"{parent.get('namespace', '')}/{parent.get('name', '')}")

    def _state(self, rt: ResourceType) -> Any:
        state = self.cache.state(rt.key_prefix)
        assert state is not None, rt.key_prefix
        return state

    @staticmethod
    def _ours(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return bool(labels.get(_MANAGED_LABEL) == MANAGED_BY)

    async def _ensure_default_cidr(self) -> None:
        if self.registry.lookup(SERVICE_CIDRS, "", DEFAULT_SERVICE_CIDR) is not None:
            return
        body = {"metadata": {"name": DEFAULT_SERVICE_CIDR}, "spec": {"cidrs": self.cidrs}}
        await self.registry.create_system(SERVICE_CIDRS, "", body)
        entry = self.registry.lookup(SERVICE_CIDRS, "", DEFAULT_SERVICE_CIDR)
        if entry is None:
            return
        current = self.registry.render_obj(SERVICE_CIDRS, entry.obj)
        current["status"] = {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastTransitionTime": self.registry.now(),
                    "reason": "",
                    "message": "Kubernetes default Service CIDR is ready",
                }
            ]
        }
        try:
            await self.registry.write_subresource(
                SERVICE_CIDRS, entry, current, _OPTS, subresource="status"
            )
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise

    async def sync_service(self, key: str) -> bool:
        """Create the Service's missing IPAddresses and delete those it no longer holds."""
        namespace, _, name = key.partition("/")
        entry = self.registry.lookup(SERVICES, namespace, name)
        wanted = _addresses(entry.obj if entry is not None else None)
        uid = (entry.obj.get("metadata") or {}).get("uid") if entry is not None else None
        again = False
        for ip in wanted:
            if self.registry.lookup(IP_ADDRESSES, "", ip) is None:
                again |= await self._create(ip, namespace, name, uid)
        for held in list(self._state(IP_ADDRESSES).entries.values()):
            parent = (held.obj.get("spec") or {}).get("parentRef") or {}
            ip = held.obj["metadata"]["name"]
            if (
                self._ours(held.obj)
                and parent.get("resource") == "services"
                and parent.get("namespace") == namespace
                and parent.get("name") == name
                and ip not in wanted
            ):
                try:
                    await self.registry.delete(IP_ADDRESSES, "", ip, DeleteOptions())
                except StatusError as exc:
                    if exc.code not in (404, 409):
                        raise
        return again

    async def _create(self, ip: str, namespace: str, name: str, uid: Any) -> bool:
        family = "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
        del uid  # kube's parentRef names the Service; it carries no uid
        body = {
            "metadata": {
                "name": ip,
                "labels": {_FAMILY_LABEL: family, _MANAGED_LABEL: MANAGED_BY},
            },
            "spec": {
                "parentRef": {
                    "group": "",
                    "resource": "services",
                    "namespace": namespace,
                    "name": name,
                }
            },
        }
        try:
            await self.registry.create(IP_ADDRESSES, "", body, _OPTS)
        except StatusError as exc:
            if exc.code == 409:
                return False  # someone holds it (a replica, or a user's reservation)
            log.warning("IPAddress %s for service %s/%s: %s", ip, namespace, name, exc)
            return True
        return False
