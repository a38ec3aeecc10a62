"""Keys and values between strom and etcd, laid out as kube-apiserver lays them out.

strom's keys start with `/registry/`; in etcd that leading `/registry` is replaced by the
configured prefix (`--etcd-prefix`, default `/registry`, so by default the keys are the same).
Values are the object's JSON without `metadata.resourceVersion` (kube-apiserver stores it empty
too): the revision is etcd's `mod_revision`, and decoding puts it back. Stored values are
always written with `resourceVersion` removed and decoded with it appended last in `metadata`,
so a write's result and the change-feed copy of it are the same bytes.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from strom.storage.base import Change, ChangeType, KeyValue

__all__ = ["KeyMap", "change_from_event", "decode", "encode_for_storage", "with_revision"]

log = logging.getLogger(__name__)

_STROM_ROOT = "/registry"
_EVENT_DELETE = 1  # mvccpb.Event.DELETE


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (etcd's range_end)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # the whole keyspace


class KeyMap:
    """strom key `/registry/<rest>` <-> etcd key `<prefix>/<rest>`."""

    def __init__(self, prefix: str) -> None:
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"etcd prefix must start with '/': {prefix!r}")
        self.prefix = prefix.rstrip("/")
        self._prefix_b = self.prefix.encode()
        # Every strom key in etcd is under `<prefix>/`; the feed watches exactly this range.
        self.root = self._prefix_b + b"/"
        self.root_end = prefix_end(self.root)

    def to_etcd(self, key: str) -> bytes:
        if not key.startswith(_STROM_ROOT + "/"):
            raise ValueError(f"storage key outside {_STROM_ROOT}/: {key!r}")
        return self._prefix_b + key[len(_STROM_ROOT) :].encode()

    def from_etcd(self, key: bytes) -> str:
        return _STROM_ROOT + key[len(self._prefix_b) :].decode()

    def owns(self, key: bytes) -> bool:
        return key.startswith(self.root)


def encode_for_storage(obj: dict[str, Any]) -> bytes:
    """The bytes etcd keeps: the object without metadata.resourceVersion."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta.pop("resourceVersion", None)
    return orjson.dumps(obj)


def with_revision(obj: dict[str, Any], rev: int) -> bytes:
    """Set resourceVersion on an object prepared by `encode_for_storage`; its client bytes."""
    obj["metadata"]["resourceVersion"] = str(rev)
    return orjson.dumps(obj)


def decode(stored: bytes, rev: int) -> tuple[bytes, dict[str, Any]]:
    """etcd value -> (client bytes, object), both with resourceVersion = `rev`."""
    obj = orjson.loads(stored)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta.pop("resourceVersion", None)
    meta["resourceVersion"] = str(rev)
    return orjson.dumps(obj), obj


def key_value(keys: KeyMap, kv: Any) -> KeyValue | None:
    """A mvccpb.KeyValue as the store's KeyValue; None (logged) if it is not JSON."""
    try:
        value, obj = decode(kv.value, kv.mod_revision)
    except orjson.JSONDecodeError:
        log.warning("etcd key %r holds a non-JSON value; skipped", kv.key)
        return None
    return KeyValue(keys.from_etcd(kv.key), kv.mod_revision, kv.create_revision, value, obj)


def change_from_event(keys: KeyMap, event: Any) -> Change | None:
    """A watch event (with prev_kv) as a Change; None (logged) if it cannot be decoded."""
    kv = event.kv
    rev = kv.mod_revision
    prev = event.prev_kv if event.HasField("prev_kv") else None
    try:
        prev_obj = decode(prev.value, prev.mod_revision)[1] if prev is not None else None
        if event.type == _EVENT_DELETE:
            if prev is None:
                # The previous value was compacted away before the watch caught up.
                obj: dict[str, Any] = {"metadata": {"resourceVersion": str(rev)}}
                value = orjson.dumps(obj)
            else:
                value, obj = decode(prev.value, rev)
            change_type = ChangeType.DELETE
        else:
            value, obj = decode(kv.value, rev)
            change_type = ChangeType.PUT
    except orjson.JSONDecodeError:
        log.warning("etcd key %r holds a non-JSON value; event skipped", kv.key)
        return None
    return Change(change_type, keys.from_etcd(kv.key), rev, value, obj, prev_obj)
