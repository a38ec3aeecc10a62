"""gRPC plumbing for the etcd store: one channel per endpoint, failover and retries.

etcd3aio supplies the generated etcd v3 API (`etcd3aio._protobuf`: messages and stubs). Its own
service wrappers retry inside the call, which hides from us whether an earlier attempt of a
write may already have been applied; so every call goes through `Connection.call` here, which
reports that ("ambiguous") to the write path. One channel per endpoint (rather than one
round-robin channel) lets each TLS member be verified under its own name, and failover is
explicit: a transient error moves the connection to the next endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped]
import grpc.aio  # type: ignore[import-untyped]
from etcd3aio._protobuf import KVStub, MaintenanceStub, StatusRequest, WatchStub

from strom.storage.base import StorageError

__all__ = [
    "Connection",
    "EtcdError",
    "EtcdUnavailable",
    "ServerVersion",
    "Stubs",
    "TlsFiles",
    "is_compacted",
    "is_future_revision",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long one call keeps retrying transient failures (leader election, a member dying).
RETRY_DEADLINE = 20.0
_BACKOFF_START = 0.05
_BACKOFF_MAX = 1.0
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_CHANNEL_OPTIONS = [
    # Lists of many objects come back in one message: no client-side cap (kube does the same).
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # Notice a silently dead member (no RST) within ~15 s.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


class EtcdError(StorageError):
    """etcd refused a request for a reason that is not one of the storage contract's."""


class EtcdUnavailable(EtcdError):
    """No endpoint answered within the retry deadline."""


def is_compacted(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and "compacted" in (exc.details() or "")


def is_future_revision(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and "future revision" in (exc.details() or "")


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _TRANSIENT


@dataclass(frozen=True, slots=True)
class ServerVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> ServerVersion:
        parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in text.split(".")[:3]]
        parts += [0] * (3 - len(parts))
        return cls(parts[0], parts[1], parts[2])

    @property
    def progress_notify_reliable(self) -> bool:
        """Whether RequestWatchProgress can be trusted (kube-apiserver's own threshold)."""
        v = (self.major, self.minor, self.patch)
        return v >= (3, 6, 0) or (3, 5, 13) <= v < (3, 6, 0) or (3, 4, 31) <= v < (3, 5, 0)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def credentials(self) -> Any:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.key_file),
            certificate_chain=read(self.cert_file),
        )


@dataclass(slots=True)
class Stubs:
    """The API stubs on one endpoint's channel."""

    endpoint: str
    channel: Any
    kv: Any
    watch: Any
    maintenance: Any


def _split_endpoint(endpoint: str) -> tuple[bool, str]:
    """("https://h:p" | "http://h:p" | "h:p") -> (tls requested, "h:p")."""
    for scheme, tls in (("https://", True), ("http://", False)):
        if endpoint.startswith(scheme):
            return tls, endpoint[len(scheme) :].rstrip("/")
    return False, endpoint.rstrip("/")


class Connection:
    """Channels to every endpoint; calls go to the current one and fail over on errors."""

    def __init__(self, endpoints: list[str], tls: TlsFiles) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is required")
        use_tls = tls.ca_file is not None or tls.cert_file is not None
        self._stubs: list[Stubs] = []
        for endpoint in endpoints:
            https, target = _split_endpoint(endpoint)
            if https or use_tls:
                channel = grpc.aio.secure_channel(
                    target, tls.credentials(), options=_CHANNEL_OPTIONS
                )
            else:
                channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
            self._stubs.append(
                Stubs(
                    target, channel, KVStub(channel), WatchStub(channel), MaintenanceStub(channel)
                )
            )
        self._current = 0

    @property
    def endpoints(self) -> list[str]:
        return [s.endpoint for s in self._stubs]

    def current(self) -> tuple[int, Stubs]:
        return self._current, self._stubs[self._current]

    def failover(self, index: int) -> None:
        """Move off endpoint `index` unless another caller already did."""
        if self._current == index and len(self._stubs) > 1:
            self._current = (index + 1) % len(self._stubs)
            log.warning(
                "etcd endpoint %s failed; now using %s",
                self._stubs[index].endpoint,
                self._stubs[self._current].endpoint,
            )

    async def call(
        self, fn: Callable[[Stubs], Awaitable[T]], *, deadline: float = RETRY_DEADLINE
    ) -> tuple[T, bool]:
        """Run `fn` on the current endpoint, retrying transient failures on the next ones.

        Returns the result and whether an earlier attempt failed in a way that may still have
        been applied (the write path then checks whether the write is already there).
        Non-transient gRPC errors propagate unchanged for the caller to translate.
        """
        give_up = time.monotonic() + deadline
        ambiguous = False
        backoff = _BACKOFF_START
        failures = 0
        while True:
            index, stubs = self.current()
            try:
                return await fn(stubs), ambiguous
            except grpc.aio.AioRpcError as exc:
                if not _is_transient(exc):
                    raise
                if time.monotonic() > give_up:
                    raise EtcdUnavailable(f"etcd unavailable: {exc.details()}") from exc
                ambiguous = True
                failures += 1
                self.failover(index)
                # A fresh endpoint is tried at once; a full round of failures waits first.
                if failures % len(self._stubs) == 0:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX)

    async def server_version(self, *, timeout: float) -> ServerVersion:
        async def status(stubs: Stubs) -> Any:
            return await stubs.maintenance.Status(StatusRequest(), timeout=timeout)

        resp, _ = await self.call(status)
        return ServerVersion.parse(resp.version)

    async def close(self) -> None:
        for stubs in self._stubs:
            await stubs.channel.close()
