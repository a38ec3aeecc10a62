"""Core kinds with rules beyond ObjectMeta: ConfigMap, Secret, Service, Lease.

Sizes count decoded bytes, as kube does after conversion: Secret data and ConfigMap
binaryData arrive base64-encoded on the wire, and Secret stringData has already been
merged into data by the time kube validates.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from strom.errors import Cause

from . import fielderrors as fe
from .formats import (
    is_config_map_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
)
from .meta import (
    FIELD_IMMUTABLE,
    as_list,
    as_map,
    validate_labels,
)

__all__ = [
    "MAX_SECRET_SIZE",
    "validate_config_map",
    "validate_config_map_update",
    "validate_lease",
    "validate_secret",
    "validate_secret_update",
    "validate_service",
    "validate_service_update",
]

MAX_SECRET_SIZE = 1 * 1024 * 1024
_IMMUTABLE_SET = "field is immutable when `immutable` is set"
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")


def _decoded_len(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value, validate=False))
    except (binascii.Error, ValueError):
        return len(value.encode())


def _key_causes(path: str, key: str) -> list[Cause]:
    return [fe.invalid(f"{path}[{key}]", key, m) for m in is_config_map_key(key)]


def validate_config_map(obj: Mapping[str, Any]) -> list[Cause]:
    """ValidateConfigMap (after ObjectMeta): keys, data/binaryData overlap, 1 MiB total."""
    causes: list[Cause] = []
    data, binary = as_map(obj.get("data")), as_map(obj.get("binaryData"))
    total = 0
    for key, value in data.items():
        causes += _key_causes("data", key)
        if key in binary:
            causes.append(fe.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += len(str(value or "").encode())
    for key, value in binary.items():
        causes += _key_causes("binaryData", key)
        total += _decoded_len(value)
    if total > MAX_SECRET_SIZE:
        # kube passes an empty path here, which it renders as "[]".
        causes.append(fe.too_long("[]", MAX_SECRET_SIZE))
    return causes


def _immutable_update(
    new: Mapping[str, Any], old: Mapping[str, Any], keys: tuple[str, ...]
) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    causes: list[Cause] = []
    if new.get("immutable") is not True:
        causes.append(fe.forbidden("immutable", _IMMUTABLE_SET))
    for key in keys:
        if as_map(new.get(key)) != as_map(old.get(key)):
            causes.append(fe.forbidden(key, _IMMUTABLE_SET))
    return causes


def validate_config_map_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _immutable_update(new, old, ("data", "binaryData")) + validate_config_map(new)


def _secret_data(obj: Mapping[str, Any]) -> dict[str, int]:
    """Key -> decoded size, stringData merged over data as conversion does."""
    sizes = {key: _decoded_len(value) for key, value in as_map(obj.get("data")).items()}
    for key, value in as_map(obj.get("stringData")).items():
        sizes[key] = len(str(value or "").encode())
    return sizes


def _secret_json_error(obj: Mapping[str, Any], key: str) -> str:
    """Go's json.Unmarshal complaint for a docker config that is not a JSON object."""
    raw = as_map(obj.get("stringData")).get(key)
    if raw is None:
        encoded = as_map(obj.get("data")).get(key)
        try:
            raw = base64.b64decode(str(encoded or "")).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raw = ""
    text = str(raw)
    if not text.strip():
        return "unexpected end of JSON input"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        bad = text[exc.pos] if exc.pos < len(text) else ""
        if not bad:
            return "unexpected end of JSON input"
        return f"invalid character {_go_char(bad)} looking for beginning of value"
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return ""


def _go_char(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"


def validate_secret(obj: Mapping[str, Any]) -> list[Cause]:
    """ValidateSecret (after ObjectMeta): keys, 1 MiB total, type-specific required keys."""
    causes: list[Cause] = []
    sizes = _secret_data(obj)
    for key in sizes:
        causes += _key_causes("data", key)
    if sum(sizes.values()) > MAX_SECRET_SIZE:
        causes.append(fe.too_long("data", MAX_SECRET_SIZE))
    secret_type = obj.get("type") or "Opaque"
    annotations = as_map(as_map(obj.get("metadata")).get("annotations"))
    if secret_type == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(fe.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if secret_type == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in sizes:
            causes.append(fe.required(f"data[{key}]"))
        elif problem := _secret_json_error(obj, key):
            causes.append(fe.invalid(f"data[{key}]", "<secret contents redacted>", problem))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in sizes and "password" not in sizes:
            causes += [fe.required("data[username]"), fe.required("data[password]")]
    elif secret_type == "kubernetes.io/ssh-auth":
        if not sizes.get("ssh-privatekey"):
            causes.append(fe.required("data[ssh-privatekey]"))
    elif secret_type == "kubernetes.io/tls":
        causes += [fe.required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in sizes]
    return causes


def validate_secret_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    new_type, old_type = new.get("type") or "Opaque", old.get("type") or "Opaque"
    if new_type != old_type:
        causes.append(fe.invalid("type", new_type, FIELD_IMMUTABLE))
    return causes + _immutable_update(new, old, ("data",)) + validate_secret(new)


def _validate_service_port(port: Mapping[str, Any], path: str, *, several: bool) -> list[Cause]:
    causes: list[Cause] = []
    name = str(port.get("name") or "")
    if several and not name:
        causes.append(fe.required(f"{path}.name"))
    elif name:
        causes += [fe.invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    number = port.get("port")
    if isinstance(number, int):
        causes += [fe.invalid(f"{path}.port", number, m) for m in is_valid_port_num(number)]
    protocol = port.get("protocol")
    if protocol == "":
        causes.append(fe.required(f"{path}.protocol"))
    elif protocol is not None and protocol not in _PROTOCOLS:
        causes.append(fe.not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, int) and target != 0:
        causes += [fe.invalid(f"{path}.targetPort", target, m) for m in is_valid_port_num(target)]
    elif isinstance(target, str) and target:
        causes += [fe.invalid(f"{path}.targetPort", target, m) for m in is_valid_port_name(target)]
    return causes


def validate_service(obj: Mapping[str, Any]) -> list[Cause]:
    """ValidateService (after ObjectMeta): type, ports, selector, ExternalName."""
    spec = as_map(obj.get("spec"))
    causes: list[Cause] = []
    service_type = spec.get("type") or "ClusterIP"
    ports = as_list(spec.get("ports"))
    headless = spec.get("clusterIP") == "None"
    if service_type == "ExternalName":
        external = str(spec.get("externalName") or "")
        if not external:
            causes.append(fe.required("spec.externalName"))
        else:
            causes += [
                fe.invalid("spec.externalName", external, m)
                for m in is_dns1123_subdomain(external.rstrip("."))
            ]
    elif not ports and not headless:
        causes.append(fe.required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for index, port in enumerate(ports):
        port = as_map(port)
        path = f"spec.ports[{index}]"
        causes += _validate_service_port(port, path, several=len(ports) > 1)
        name = str(port.get("name") or "")
        if name and name in names:
            causes.append(fe.duplicate(f"{path}.name", name))
        names.add(name)
        key = (port.get("port"), port.get("protocol") or "TCP")
        if key in seen:
            causes.append(fe.duplicate(path, _go_service_port(key)))
        seen.add(key)
    if service_type not in _SERVICE_TYPES:
        causes.append(fe.not_supported("spec.type", service_type, _SERVICE_TYPES))
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        causes.append(fe.not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    return causes + validate_labels(spec.get("selector"), "spec.selector")


def _go_service_port(key: tuple[Any, Any]) -> dict[str, Any]:
    """The internal core.ServicePort{Protocol, Port} kube reports for a duplicate, as JSON."""
    return {
        "Name": "",
        "Protocol": key[1],
        "AppProtocol": None,
        "Port": key[0],
        "TargetPort": 0,
        "NodePort": 0,
    }


def validate_service_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """A set clusterIP never changes (kube reports it against clusterIPs[0])."""
    causes: list[Cause] = []
    new_spec, old_spec = as_map(new.get("spec")), as_map(old.get("spec"))
    old_ip, new_ip = old_spec.get("clusterIP"), new_spec.get("clusterIP")
    changing_to_external = new_spec.get("type") == "ExternalName"
    if old_ip and new_ip and new_ip != old_ip and not changing_to_external:
        new_ips = as_list(new_spec.get("clusterIPs")) or [new_ip]
        causes.append(fe.invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes + validate_service(new)


def validate_lease(obj: Mapping[str, Any]) -> list[Cause]:
    spec = as_map(obj.get("spec"))
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(fe.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(
            fe.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    return causes
