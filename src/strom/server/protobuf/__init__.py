"""Reading `application/vnd.kubernetes.protobuf` request bodies.

kubectl and client-go send typed creates, updates and deletes as Kubernetes protobuf (magic
`k8s\\x00` + a `runtime.Unknown` envelope around the object's message) and do not retry with
JSON when refused, so strom must read it. It never writes it: clients accept JSON answers.
`decode_k8s_protobuf` turns such a body into the dict the JSON form of the request would be.
"""

from __future__ import annotations

from strom.server.protobuf.decode import MAGIC, decode_k8s_protobuf
from strom.server.protobuf.schema import KINDS

__all__ = ["MAGIC", "SUPPORTED_KINDS", "decode_k8s_protobuf"]

#: (apiVersion, kind) pairs that `decode_k8s_protobuf` can decode; others get a 415.
SUPPORTED_KINDS: frozenset[tuple[str, str]] = frozenset(KINDS)
