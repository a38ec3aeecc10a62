"""Validation of the platform kinds strom stores for others to act on: resource.k8s.io (dynamic
resource allocation), networking.k8s.io IPAddress and ServiceCIDR, and apiregistration's
APIService (kube's validation packages of each group; the fields clients get wrong)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from strom.errors import Cause
from strom.registry.validation import fielderrors as fe
from strom.registry.validation.formats import is_dns1123_label, is_dns1123_subdomain

__all__ = ["CREATE_RULES", "UPDATE_RULES"]

_Obj = Mapping[str, Any]
_IMMUTABLE = "field is immutable"
_ALLOCATION_MODES = ["All", "ExactCount"]
_RESOURCE = "resource.k8s.io"
_NETWORKING = "networking.k8s.io"
_AGGREGATOR = "apiregistration.k8s.io"


def _map(value: Any) -> _Obj:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _name(value: Any, path: str, check: Callable[[str], list[str]]) -> list[Cause]:
    if not value:
        return [fe.required(path, "")]
    if not isinstance(value, str):
        return []
    return [fe.invalid(path, value, msg) for msg in check(value)]


# --- resource.k8s.io -------------------------------------------------------------------------
def _device_claim(claim: _Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, request in enumerate(_list(claim.get("requests"))):
        request = _map(request)
        request_path = f"{path}.requests[{i}]"
        name = request.get("name")
        causes += _name(name, f"{request_path}.name", is_dns1123_label)
        if isinstance(name, str) and name:
            if name in seen:
                causes.append(fe.duplicate(f"{request_path}.name", name))
            seen.add(name)
        exactly, first = request.get("exactly"), request.get("firstAvailable")
        if (exactly is None) == (first is None):
            causes.append(
                fe.required(
                    request_path, "exactly one of `exactly` or `firstAvailable` is required"
                )
            )
        if isinstance(exactly, Mapping):
            causes += _exact_request(exactly, f"{request_path}.exactly")
        for j, sub in enumerate(_list(first)):
            sub = _map(sub)
            sub_path = f"{request_path}.firstAvailable[{j}]"
            causes += _name(sub.get("name"), f"{sub_path}.name", is_dns1123_label)
            causes += _exact_request(sub, sub_path)
    return causes


def _exact_request(request: _Obj, path: str) -> list[Cause]:
    causes = _name(request.get("deviceClassName"), f"{path}.deviceClassName", is_dns1123_subdomain)
    mode = request.get("allocationMode")
    if mode is not None and mode not in _ALLOCATION_MODES:
        causes.append(fe.not_supported(f"{path}.allocationMode", mode, _ALLOCATION_MODES))
    count = request.get("count")
    if mode in (None, "ExactCount") and isinstance(count, int) and count <= 0:
        causes.append(fe.invalid(f"{path}.count", count, "must be greater than zero"))
    return causes


def _claim_spec(spec: _Obj, path: str) -> list[Cause]:
    return _device_claim(_map(spec.get("devices")), f"{path}.devices")


def validate_resource_claim(obj: _Obj) -> list[Cause]:
    return _claim_spec(_map(obj.get("spec")), "spec")


def validate_resource_claim_update(new: _Obj, old: _Obj) -> list[Cause]:
    causes = validate_resource_claim(new)
    if new.get("spec") != old.get("spec"):
        causes.append(fe.invalid("spec", new.get("spec"), _IMMUTABLE))
    return causes


def validate_resource_claim_template(obj: _Obj) -> list[Cause]:
    template = _map(obj.get("spec"))
    return _claim_spec(_map(template.get("spec")), "spec.spec")


def validate_resource_claim_template_update(new: _Obj, old: _Obj) -> list[Cause]:
    causes = validate_resource_claim_template(new)
    if new.get("spec") != old.get("spec"):
        causes.append(fe.invalid("spec", new.get("spec"), _IMMUTABLE))
    return causes


def validate_device_class(obj: _Obj) -> list[Cause]:
    causes: list[Cause] = []
    for i, selector in enumerate(_list(_map(obj.get("spec")).get("selectors"))):
        cel = _map(selector).get("cel")
        if cel is None:
            causes.append(fe.required(f"spec.selectors[{i}].cel", ""))
        elif not _map(cel).get("expression"):
            causes.append(fe.required(f"spec.selectors[{i}].cel.expression", ""))
    return causes


_NODE_CHOICES = ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection")


def validate_resource_slice(obj: _Obj) -> list[Cause]:
    spec = _map(obj.get("spec"))
    causes = _name(spec.get("driver"), "spec.driver", is_dns1123_subdomain)
    pool = _map(spec.get("pool"))
    if not pool.get("name"):
        causes.append(fe.required("spec.pool.name", ""))
    count = pool.get("resourceSliceCount", 0)
    if isinstance(count, int) and count <= 0:
        causes.append(
            fe.invalid("spec.pool.resourceSliceCount", count, "must be greater than zero")
        )
    generation = pool.get("generation", 0)
    if isinstance(generation, int) and generation < 0:
        causes.append(
            fe.invalid("spec.pool.generation", generation, "must be greater than or equal to 0")
        )
    chosen = [c for c in _NODE_CHOICES if spec.get(c) not in (None, "", False)]
    if len(chosen) != 1:
        wanted = ", ".join(f"`{c}`" for c in _NODE_CHOICES)
        detail = f"exactly one of {wanted} is required"
        causes.append(
            fe.required("spec", detail)
            if not chosen
            else fe.invalid("spec", "{" + ", ".join(f"`{c}`" for c in chosen) + "}", detail)
        )
    seen: set[str] = set()
    for i, device in enumerate(_list(spec.get("devices"))):
        name = _map(device).get("name")
        causes += _name(name, f"spec.devices[{i}].name", is_dns1123_label)
        if isinstance(name, str) and name in seen:
            causes.append(fe.duplicate(f"spec.devices[{i}].name", name))
        if isinstance(name, str):
            seen.add(name)
    return causes


def validate_resource_slice_update(new: _Obj, old: _Obj) -> list[Cause]:
    causes = validate_resource_slice(new)
    for field in ("nodeName", "driver"):
        value = _map(new.get("spec")).get(field)
        if value != _map(old.get("spec")).get(field):
            causes.append(fe.invalid(f"spec.{field}", value, _IMMUTABLE))
    return causes


# --- networking.k8s.io -----------------------------------------------------------------------
def validate_ip_address(obj: _Obj) -> list[Cause]:
    name = _map(obj.get("metadata")).get("name", "")
    causes: list[Cause] = []
    if isinstance(name, str) and name:
        try:
            parsed = ipaddress.ip_address(name)
        except ValueError:
            causes.append(
                fe.invalid(
                    "metadata.name",
                    name,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
        else:
            if str(parsed) != name:
                causes.append(
                    fe.invalid("metadata.name", name, f"must be in canonical form ({parsed!s})")
                )
    parent = _map(obj.get("spec")).get("parentRef")
    if parent is None:
        causes.append(fe.required("spec.parentRef", ""))
    else:
        for field in ("resource", "name"):
            if not _map(parent).get(field):
                causes.append(fe.required(f"spec.parentRef.{field}", ""))
    return causes


def validate_ip_address_update(new: _Obj, old: _Obj) -> list[Cause]:
    causes = validate_ip_address(new)
    if _map(new.get("spec")).get("parentRef") != _map(old.get("spec")).get("parentRef"):
        causes.append(
            fe.invalid("spec.parentRef", _map(new.get("spec")).get("parentRef"), _IMMUTABLE)
        )
    return causes


def validate_service_cidr(obj: _Obj) -> list[Cause]:
    cidrs = _list(_map(obj.get("spec")).get("cidrs"))
    causes: list[Cause] = []
    if not cidrs:
        return [fe.required("spec.cidrs", "at least one CIDR required")]
    if len(cidrs) > 2:
        return [fe.invalid("spec.cidrs", cidrs, "may only hold up to 2 values")]
    families = []
    for i, cidr in enumerate(cidrs):
        try:
            network = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError:
            causes.append(
                fe.invalid(
                    f"spec.cidrs[{i}]",
                    cidr,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )
            )
            continue
        families.append(network.version)
        if str(network) != cidr:
            causes.append(
                fe.invalid(f"spec.cidrs[{i}]", cidr, f"must be in canonical form ({network})")
            )
    if len(families) == 2 and families[0] == families[1]:
        causes.append(
            fe.invalid(
                "spec.cidrs",
                cidrs,
                "may specify no more than one IP for each IP family, "
                "i.e 192.168.0.0/24 and 2001:db8::/64",
            )
        )
    return causes


def validate_service_cidr_update(new: _Obj, old: _Obj) -> list[Cause]:
    causes = validate_service_cidr(new)
    new_cidrs = _list(_map(new.get("spec")).get("cidrs"))
    old_cidrs = _list(_map(old.get("spec")).get("cidrs"))
    # Only a single-stack range may gain its other family.
    if new_cidrs != old_cidrs and not (len(old_cidrs) == 1 and new_cidrs[:1] == old_cidrs):
        causes.append(fe.invalid("spec.cidrs", new_cidrs, _IMMUTABLE))
    return causes


# --- apiregistration.k8s.io ------------------------------------------------------------------
def validate_api_service(obj: _Obj) -> list[Cause]:
    name = _map(obj.get("metadata")).get("name", "")
    spec = _map(obj.get("spec"))
    group, version = spec.get("group", ""), spec.get("version", "")
    causes: list[Cause] = []
    expected = f"{version}.{group}" if group else f"{version}."
    if name != expected:
        causes.append(fe.invalid("metadata.name", name, 'must be `spec.version+"."+spec.group`'))
    if not version:
        causes.append(fe.required("spec.version", ""))
    minimum, priority = spec.get("groupPriorityMinimum", 0), spec.get("versionPriority", 0)
    if isinstance(minimum, int) and not 0 < minimum <= 20000:
        causes.append(
            fe.invalid("spec.groupPriorityMinimum", minimum, "must be positive and less than 20000")
        )
    if isinstance(priority, int) and not 0 < priority <= 1000:
        causes.append(
            fe.invalid("spec.versionPriority", priority, "must be positive and less than 1000")
        )
    if spec.get("service") is not None:
        # strom serves every API itself; it proxies to no aggregated API server.
        causes.append(
            fe.forbidden(
                "spec.service",
                "strom does not aggregate API servers: only local APIServices (no service) "
                "are served",
            )
        )
    return causes


CREATE_RULES: dict[tuple[str, str], Callable[[_Obj], list[Cause]]] = {
    (_RESOURCE, "DeviceClass"): validate_device_class,
    (_RESOURCE, "ResourceClaim"): validate_resource_claim,
    (_RESOURCE, "ResourceClaimTemplate"): validate_resource_claim_template,
    (_RESOURCE, "ResourceSlice"): validate_resource_slice,
    (_NETWORKING, "IPAddress"): validate_ip_address,
    (_NETWORKING, "ServiceCIDR"): validate_service_cidr,
    (_AGGREGATOR, "APIService"): validate_api_service,
}
UPDATE_RULES: dict[tuple[str, str], Callable[[_Obj, _Obj], list[Cause]]] = {
    (_RESOURCE, "DeviceClass"): lambda new, _old: validate_device_class(new),
    (_RESOURCE, "ResourceClaim"): validate_resource_claim_update,
    (_RESOURCE, "ResourceClaimTemplate"): validate_resource_claim_template_update,
    (_RESOURCE, "ResourceSlice"): validate_resource_slice_update,
    (_NETWORKING, "IPAddress"): validate_ip_address_update,
    (_NETWORKING, "ServiceCIDR"): validate_service_cidr_update,
    (_AGGREGATOR, "APIService"): lambda new, _old: validate_api_service(new),
}
