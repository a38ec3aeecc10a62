"""Message schemas for decoding Kubernetes protobuf: which field number is which JSON field.

Protobuf carries no names, and no PyPI package ships kube's current .proto files, so the
tables in `tables_core` / `tables_groups` spell out each message we decode, in a compact
notation parsed here once at import:

    [pkg]                          section: the messages below belong to package `pkg`
    Name field field ...           one message; indented lines continue it
    Name [type]                    a list wrapper (`+protobuf.nullable=true`, e.g. ExtraValue):
                                   one repeated field 1 whose JSON form is the bare list

    field := json=number:type flags
      json   the JSON name, or ^ for an embedded Go struct whose fields JSON inlines
      type   s string | b bytes (base64 in JSON) | i varint int32/int64 | t bool
             | Name (message in this section) | pkg.Name | [type] repeated | {type} map<string,_>
      flags  ? Go pointer: present on the wire means set, so emitted even when zero
             ! no omitempty: Go's encoding/json emits the zero value
             # omitzero

Fields are listed in Go struct order so decoded dicts have the key order a JSON client
sends. Messages with a custom JSON form (Time, IntOrString, Quantity, ...) are not in the
tables; `decode` implements them (`SPECIAL`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from strom.server.protobuf import tables_core, tables_groups

__all__ = ["KINDS", "MESSAGES", "SCALARS", "SPECIAL", "Field", "Message", "message_for"]

SCALARS = frozenset({"s", "b", "i", "t"})

# Messages whose Go types marshal JSON by hand; `decode` turns their wire form into JSON.
SPECIAL = frozenset(
    {
        "meta.Time",
        "meta.MicroTime",
        "meta.FieldsV1",
        "runtime.RawExtension",
        "intstr.IntOrString",
        "resource.Quantity",
    }
)

Shape = Literal["one", "list", "map"]


@dataclass(frozen=True, slots=True)
class Field:
    json_name: str  # "" for an inlined embedded struct
    number: int
    shape: Shape
    elem: str  # a SCALARS letter or a qualified message name ("core.PodSpec")
    pointer: bool
    omitempty: bool
    omitzero: bool


@dataclass(frozen=True, slots=True)
class Message:
    name: str
    fields: tuple[Field, ...]  # Go struct order
    by_number: dict[int, Field]
    list_of: str = ""  # element type when the message is a list wrapper


_FIELD_RE = re.compile(r"^([A-Za-z_]\w*|\^)=(\d+):([^?!#]+)([?!#]*)$")


def _qualify(package: str, elem: str) -> str:
    if elem in SCALARS or "." in elem:
        return elem
    return f"{package}.{elem}"


def _parse_type(package: str, token: str) -> tuple[Shape, str]:
    if token.startswith("[") and token.endswith("]"):
        return "list", _qualify(package, token[1:-1])
    if token.startswith("{") and token.endswith("}"):
        return "map", _qualify(package, token[1:-1])
    return "one", _qualify(package, token)


def _parse_field(package: str, token: str) -> Field:
    match = _FIELD_RE.match(token)
    if match is None:
        raise ValueError(f"bad field spec {token!r}")
    name, number, type_token, flags = match.groups()
    shape, elem = _parse_type(package, type_token)
    return Field(
        json_name="" if name == "^" else name,
        number=int(number),
        shape=shape,
        elem=elem,
        pointer="?" in flags,
        omitempty="!" not in flags,
        omitzero="#" in flags,
    )


def _parse_message(package: str, text: str) -> Message:
    name, *tokens = text.split()
    qualified = f"{package}.{name}"
    if len(tokens) == 1 and tokens[0].startswith("["):
        _, elem = _parse_type(package, tokens[0])
        wrapped = Field("items", 1, "list", elem, pointer=False, omitempty=True, omitzero=False)
        return Message(qualified, (wrapped,), {1: wrapped}, list_of=elem)
    fields = tuple(_parse_field(package, token) for token in tokens)
    return Message(qualified, fields, {f.number: f for f in fields})


def parse_tables(text: str) -> dict[str, Message]:
    """Messages by qualified name from one block of the notation above."""
    messages: dict[str, Message] = {}
    package = ""
    entries: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            package = line.strip("[] ")
        elif line.startswith(" "):
            entries[-1] += " " + line.strip()
        else:
            entries.append(f"{package} {line}")
    for entry in entries:
        package, _, body = entry.partition(" ")
        message = _parse_message(package, body)
        messages[message.name] = message
    return messages


MESSAGES: dict[str, Message] = {
    **parse_tables(tables_core.TABLES),
    **parse_tables(tables_groups.TABLES),
}

# apiVersion of each table package, and the kinds (top-level objects) decodable in it.
_PACKAGE_API_VERSIONS = {
    "core": "v1",
    "apps": "apps/v1",
    "batch": "batch/v1",
    "rbac": "rbac.authorization.k8s.io/v1",
    "scheduling": "scheduling.k8s.io/v1",
    "policy": "policy/v1",
    "networking": "networking.k8s.io/v1",
    "coordination": "coordination.k8s.io/v1",
    "events": "events.k8s.io/v1",
    "authorization": "authorization.k8s.io/v1",
    "authentication": "authentication.k8s.io/v1",
    "autoscaling": "autoscaling/v1",
    "autoscaling2": "autoscaling/v2",
    "storage": "storage.k8s.io/v1",
    "discovery": "discovery.k8s.io/v1",
    "certificates": "certificates.k8s.io/v1",
}
_PACKAGE_KINDS = {
    "core": "Namespace ConfigMap Secret ServiceAccount Service Pod ResourceQuota Event"
    " PersistentVolumeClaim PersistentVolume Endpoints LimitRange ReplicationController"
    " PodTemplate Binding Node",
    "apps": "Deployment ReplicaSet StatefulSet DaemonSet ControllerRevision",
    "batch": "Job CronJob",
    "rbac": "Role ClusterRole RoleBinding ClusterRoleBinding",
    "scheduling": "PriorityClass",
    "policy": "PodDisruptionBudget Eviction",
    "networking": "Ingress IngressClass NetworkPolicy",
    "coordination": "Lease",
    "events": "Event",
    "authorization": "SelfSubjectAccessReview SubjectAccessReview LocalSubjectAccessReview"
    " SelfSubjectRulesReview",
    "authentication": "SelfSubjectReview TokenReview TokenRequest",
    "autoscaling": "Scale HorizontalPodAutoscaler",
    "autoscaling2": "HorizontalPodAutoscaler",
    "storage": "StorageClass",
    "discovery": "EndpointSlice",
    "certificates": "CertificateSigningRequest",
}
# DeleteOptions is registered in every group version (and meta.k8s.io/v1): clients encode it
# with whichever apiVersion their clientset uses.
_EVERYWHERE = {"DeleteOptions": "meta.DeleteOptions"}

KINDS: dict[tuple[str, str], str] = {
    (_PACKAGE_API_VERSIONS[package], kind): f"{package}.{kind}"
    for package, kinds in _PACKAGE_KINDS.items()
    for kind in kinds.split()
}
for _api_version in [*_PACKAGE_API_VERSIONS.values(), "meta.k8s.io/v1"]:
    for _kind, _message in _EVERYWHERE.items():
        KINDS[(_api_version, _kind)] = _message


def message_for(api_version: str, kind: str) -> str | None:
    """The qualified message name of a top-level object, or None when we have no table."""
    found = KINDS.get((api_version, kind))
    if found is None and kind in _EVERYWHERE:
        return _EVERYWHERE[kind]
    return found


def _check_references() -> None:
    """Every message a table names must be a table or a SPECIAL one (fails at import)."""
    for message in [*MESSAGES.values()]:
        for f in message.fields:
            if f.elem not in SCALARS and f.elem not in MESSAGES and f.elem not in SPECIAL:
                raise ValueError(f"{message.name}.{f.json_name}: unknown message {f.elem}")
    for name in KINDS.values():
        if name not in MESSAGES:
            raise ValueError(f"kind message {name} has no table")


_check_references()
