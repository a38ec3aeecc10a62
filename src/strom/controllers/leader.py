"""Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does it:
several strom replicas on one etcd, exactly one of which runs the garbage collector.

The leader renews `kube-system/strom-controllers` every `retry` seconds; another replica takes
the Lease over once `renewTime + leaseDurationSeconds` has passed without a renewal. Every
write carries the Lease's resourceVersion, so of two replicas trying at once one wins. A
leader that cannot renew within the lease duration steps down. On a single SQLite store
there is one process, which leads without a Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from strom.errors import StatusError
from strom.registry.kinds import BUILTIN
from strom.registry.rest import Registry, WriteOptions

__all__ = ["LeaderElection"]

log = logging.getLogger(__name__)

LEASES = next(t for t in BUILTIN if t.plural == "leases")
LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "strom-controllers"


def _micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
    return None


class LeaderElection:
    def __init__(
        self,
        *,
        registry: Registry,
        enabled: bool,
        lease_seconds: int = 15,
        retry_seconds: float = 2.0,
        on_started_leading: Callable[[], None] = lambda: None,
    ) -> None:
        self.registry = registry
        self.enabled = enabled
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"
        self.lease_seconds = lease_seconds
        self.retry_seconds = retry_seconds
        self.on_started_leading = on_started_leading
        self.leading = not enabled
        self._renewed = datetime.min.replace(tzinfo=UTC)

    async def run(self) -> None:
        """Try to acquire or renew forever (a task of the controllers)."""
        if not self.enabled:
            return
        while True:
            try:
                await self._try()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader election: renewing the lease failed")
            now = datetime.now(UTC)
            if self.leading and now - self._renewed > timedelta(seconds=self.lease_seconds):
                log.warning("leader election: lease not renewed in time; stepping down")
                self.leading = False
            await asyncio.sleep(self.retry_seconds)  # the retry period between attempts

    async def _try(self) -> None:
        now = datetime.now(UTC)
        entry = self.registry.lookup(LEASES, LEASE_NAMESPACE, LEASE_NAME)
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "renewTime": _micro(now),
        }
        opts = WriteOptions(field_validation="Ignore", user_agent="strom-leader-election")
        if entry is None:
            spec.update(acquireTime=_micro(now), leaseTransitions=0)
            body = {"metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE}, "spec": spec}
            await self._write(self.registry.create(LEASES, LEASE_NAMESPACE, body, opts), now)
            return
        current = dict(entry.obj.get("spec") or {})
        holder = current.get("holderIdentity")
        renewed = _parse(current.get("renewTime")) or datetime.min.replace(tzinfo=UTC)
        duration = int(current.get("leaseDurationSeconds") or self.lease_seconds)
        if holder != self.identity and holder and now < renewed + timedelta(seconds=duration):
            self.leading = False
            return  # someone else holds a live lease
        if holder == self.identity:
            spec["acquireTime"] = current.get("acquireTime") or _micro(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0)
        else:
            spec["acquireTime"] = _micro(now)
            spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        body = self.registry.render_obj(LEASES, entry.obj)
        body["spec"] = spec
        body["metadata"]["resourceVersion"] = str(entry.rev)
        update = self.registry.update(LEASES, LEASE_NAMESPACE, LEASE_NAME, body, opts)
        await self._write(update, now)

    async def _write(self, write: Any, now: datetime) -> None:
        try:
            await write
        except StatusError as exc:
            if exc.code in (409, 404):
                return  # another replica wrote first; look again next round
            raise
        self._renewed = now
        if not self.leading:
            self.leading = True
            log.info("leader election: %s leads the controllers", self.identity)
            self.on_started_leading()
