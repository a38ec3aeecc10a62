"""etcd storage backend: `EtcdStore`, kube-apiserver's key layout and revision semantics.

Split into the connection layer (`_rpc`), the key/value codec (`_codec`), the change feed
(`_feed`: one watch on the whole prefix) and the store itself (`store`). See docs/etcd.md.
"""

from strom.storage.etcd._feed import ResetListener
from strom.storage.etcd._rpc import EtcdError, EtcdUnavailable, ServerVersion
from strom.storage.etcd.store import EtcdStore

__all__ = ["EtcdError", "EtcdStore", "EtcdUnavailable", "ResetListener", "ServerVersion"]
