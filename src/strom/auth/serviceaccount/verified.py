"""Tokens whose signature already checked out, so a client reusing its token (every client
does, for every request) costs one hash lookup instead of a signature verification.

Only the pure part of verification is remembered: that these exact bytes were signed by one of
our keys and decode to these claims. That can never go stale while the keys are the ones the
server started with, so issuer, audience and time checks, and the live-object lookups of the
caller, still run on every request: nothing is accepted that an uncached check would refuse.
(kube-apiserver instead caches whole authentication results for 10 s, so a token keeps working
for up to 10 s after its Pod or Secret is gone; strom refuses it at once.)

Memory is bounded in bytes: each entry is charged the token's length (its claims are decoded
from it and no larger), least recently used entries go first. Keys are SHA-256 digests, so
tokens themselves are not kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["DEFAULT_BUDGET_BYTES", "VerifiedTokens"]

DEFAULT_BUDGET_BYTES = 8 * 1024 * 1024
_ENTRY_OVERHEAD = 512  # the digest, the OrderedDict node and the claims' own objects

T = TypeVar("T")


class VerifiedTokens(Generic[T]):
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._entries: OrderedDict[bytes, tuple[int, T]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> T | None:
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, token: str, value: T) -> None:
        cost = len(token) + _ENTRY_OVERHEAD
        if cost > self._budget:
            return
        key = self._key(token)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._used -= old[0]
            self._entries[key] = (cost, value)
            self._used += cost
            while self._used > self._budget:
                _, (freed, _) = self._entries.popitem(last=False)
                self._used -= freed

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used_bytes(self) -> int:
        return self._used
