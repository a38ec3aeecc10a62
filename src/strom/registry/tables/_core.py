"""Cell printers for core/v1 kinds other than Pod (`printers.go` in kube-apiserver).

Each printer takes the object as served (a JSON mapping) and the request time, and returns
the cells in column order, wide (priority 1) columns included: kube-apiserver always renders
tables with `Wide: true` and leaves hiding those columns to the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from strom.registry.tables._format import (
    age,
    age_of,
    as_dict,
    as_list,
    format_labels,
    join_containers,
    meta_of,
    name_of,
    parse_time,
)

__all__ = ["CORE_PRINTERS", "Printer"]

Printer = Callable[[Mapping[str, Any], datetime], list[Any]]

_LB_WIDTH = 16  # loadBalancerWidth: non-wide load-balancer text is clipped to this many bytes
_ROLE_PREFIX = "node-role.kubernetes.io/"


def _simple(*cells: Callable[[Mapping[str, Any]], Any]) -> Printer:
    """A printer of Name, the given cells, then Age: the shape most kinds share."""

    def printer(obj: Mapping[str, Any], now: datetime) -> list[Any]:
        return [name_of(obj), *(cell(obj) for cell in cells), age_of(obj, now)]

    return printer


def _count(*path: str) -> Callable[[Mapping[str, Any]], int]:
    def cell(obj: Mapping[str, Any]) -> int:
        value: Any = obj
        for key in path:
            value = as_dict(value).get(key)
        return len(value) if isinstance(value, list | dict) else 0

    return cell


def _lb_ingress_text(status: Mapping[str, Any], *, wide: bool) -> str:
    """`loadBalancerStatusStringer`: sorted unique IPs (else hostnames), clipped unless wide."""
    found = set()
    for entry in map(as_dict, as_list(as_dict(status.get("loadBalancer")).get("ingress"))):
        if entry.get("ip"):
            found.add(str(entry["ip"]))
        elif entry.get("hostname"):
            found.add(str(entry["hostname"]))
    text = ",".join(sorted(found))
    if not wide and len(text) > _LB_WIDTH:
        text = text[: _LB_WIDTH - 3] + "..."
    return text


def _service_external_ip(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    external = [str(ip) for ip in as_list(spec.get("externalIPs"))]
    match spec.get("type"):
        case "ClusterIP" | "NodePort":
            return ",".join(external) if external else "<none>"
        case "LoadBalancer":
            # The server renders with Wide set, so the text is never clipped.
            lb_ips = _lb_ingress_text(status, wide=True)
            if external:
                return ",".join([*(lb_ips.split(",") if lb_ips else []), *external])
            return lb_ips or "<pending>"
        case "ExternalName":
            return str(spec.get("externalName") or "")
    return "<unknown>"


def _service(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    cluster_ips = as_list(spec.get("clusterIPs"))
    ports = []
    for port in map(as_dict, as_list(spec.get("ports"))):
        node_port = port.get("nodePort") or 0
        protocol = port.get("protocol", "")
        if isinstance(node_port, int) and node_port > 0:
            ports.append(f"{port.get('port', 0)}:{node_port}/{protocol}")
        else:
            ports.append(f"{port.get('port', 0)}/{protocol}")
    return [
        name_of(obj),
        spec.get("type", ""),
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(spec, status),
        ",".join(ports) or "<none>",
        age_of(obj, now),
        format_labels(spec.get("selector")),
    ]


def _endpoints_text(obj: Mapping[str, Any]) -> str:
    """`formatEndpoints`: the first three host:port pairs, then "+ N more..."."""
    subsets = [as_dict(s) for s in as_list(obj.get("subsets"))]
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        addresses = [str(as_dict(a).get("ip", "")) for a in as_list(subset.get("addresses"))]
        ports = [as_dict(p) for p in as_list(subset.get("ports"))]
        # Headless services may have addresses without ports.
        targets = [list(addresses)] if not ports else []
        for port in ports:
            number = port.get("port", 0)
            targets.append([_host_port(a, number) for a in addresses])
        for group in targets:
            count += len(group)
            for target in group:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(target)
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _node(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    states: list[str] = []
    ready = [c for c in map(as_dict, as_list(status.get("conditions"))) if c.get("type") == "Ready"]
    if ready:
        # The map upstream builds keeps the last Ready condition listed.
        states.append("Ready" if ready[-1].get("status") == "True" else "NotReady")
    else:
        states.append("Unknown")
    if spec.get("unschedulable") is True:
        states.append("SchedulingDisabled")
    info = as_dict(status.get("nodeInfo"))
    return [
        name_of(obj),
        ",".join(states),
        ",".join(_node_roles(meta_of(obj))) or "<none>",
        age_of(obj, now),
        info.get("kubeletVersion", ""),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _node_roles(meta: Mapping[str, Any]) -> list[str]:
    roles: set[str] = set()
    for key, value in as_dict(meta.get("labels")).items():
        if key.startswith(_ROLE_PREFIX) and key[len(_ROLE_PREFIX) :]:
            roles.add(key[len(_ROLE_PREFIX) :])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(status: Mapping[str, Any], kind: str) -> str:
    for address in map(as_dict, as_list(status.get("addresses"))):
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def _event(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    event = _as_core_event(obj)
    first = age(event.get("firstTimestamp"), now)
    if parse_time(event.get("firstTimestamp")) is None:
        first = age(event.get("eventTime"), now)
    last = age(event.get("lastTimestamp"), now)
    if parse_time(event.get("lastTimestamp")) is None:
        last = first
    count = event.get("count") or 0
    series = event.get("series")
    if series is not None:
        last = age(as_dict(series).get("lastObservedTime"), now)
        count = as_dict(series).get("count") or 0
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = as_dict(event.get("involvedObject"))
    target = str(involved.get("kind", "")).lower()
    if involved.get("name"):
        target = f"{target}/{involved['name']}"
    source = as_dict(event.get("source"))
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(event.get("message", "")).strip(),
        first,
        count,
        name_of(obj),
    ]


def _as_core_event(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """events.k8s.io/v1 fields under their core/v1 names (both share one storage upstream)."""
    if not str(obj.get("apiVersion", "")).startswith("events.k8s.io/"):
        return obj
    return {
        **obj,
        "involvedObject": obj.get("regarding"),
        "message": obj.get("note", ""),
        "source": obj.get("deprecatedSource"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "reportingComponent": obj.get("reportingController"),
    }


def _secret_type(obj: Mapping[str, Any]) -> Any:
    return obj.get("type", "")


def _configmap_data(obj: Mapping[str, Any]) -> int:
    return _count("data")(obj) + _count("binaryData")(obj)


def _namespace_phase(obj: Mapping[str, Any]) -> Any:
    return as_dict(obj.get("status")).get("phase", "")


def _resource_quota(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    status = as_dict(obj.get("status"))
    hard, used = as_dict(status.get("hard")), as_dict(status.get("used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {used.get(resource, '0')}/{hard[resource]}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [name_of(obj), ", ".join(requests), ", ".join(limits), age_of(obj, now)]


def _pod_template(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    template = as_dict(obj.get("template"))
    names, images = join_containers(as_dict(template.get("spec")).get("containers"))
    return [
        name_of(obj),
        names,
        images,
        format_labels(as_dict(template.get("metadata")).get("labels")),
    ]


def _replication_controller(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    names, images = join_containers(template_spec.get("containers"))
    return [
        name_of(obj),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age_of(obj, now),
        names,
        images,
        format_labels(spec.get("selector")),
    ]


def _access_modes(modes: Any) -> str:
    """`GetAccessModesAsString`: abbreviations in a fixed order, duplicates dropped."""
    present = {str(m) for m in as_list(modes)}
    order = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(short for mode, short in order if mode in present)


_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _volume_class(obj: Mapping[str, Any]) -> str:
    annotations = as_dict(meta_of(obj).get("annotations"))
    if _CLASS_ANNOTATION in annotations:
        return str(annotations[_CLASS_ANNOTATION])
    return str(as_dict(obj.get("spec")).get("storageClassName") or "")


def _persistent_volume(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    claim = spec.get("claimRef")
    claim_text = ""
    if claim is not None:
        claim_text = f"{as_dict(claim).get('namespace', '')}/{as_dict(claim).get('name', '')}"
    phase = status.get("phase", "")
    if meta_of(obj).get("deletionTimestamp") is not None:
        phase = "Terminating"
    return [
        name_of(obj),
        str(as_dict(spec.get("capacity")).get("storage", "0")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim_text,
        _volume_class(obj),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        age_of(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


def _persistent_volume_claim(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    phase = status.get("phase", "")
    if meta_of(obj).get("deletionTimestamp") is not None:
        phase = "Terminating"
    capacity = access_modes = ""
    if spec.get("volumeName"):
        access_modes = _access_modes(status.get("accessModes"))
        capacity = str(as_dict(status.get("capacity")).get("storage", "0"))
    return [
        name_of(obj),
        phase,
        spec.get("volumeName", ""),
        capacity,
        access_modes,
        _volume_class(obj),
        spec.get("volumeAttributesClassName") or "<unset>",
        age_of(obj, now),
        spec.get("volumeMode") or "<unset>",
    ]


CORE_PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Service"): _service,
    ("", "Endpoints"): _simple(_endpoints_text),
    ("", "Node"): _node,
    ("", "Event"): _event,
    ("events.k8s.io", "Event"): _event,
    ("", "Namespace"): _simple(_namespace_phase),
    ("", "Secret"): _simple(_secret_type, _count("data")),
    ("", "ServiceAccount"): _simple(_count("secrets")),
    ("", "ConfigMap"): _simple(_configmap_data),
    ("", "ResourceQuota"): _resource_quota,
    ("", "PodTemplate"): _pod_template,
    ("", "ReplicationController"): _replication_controller,
    ("", "PersistentVolume"): _persistent_volume,
    ("", "PersistentVolumeClaim"): _persistent_volume_claim,
}
"""Printers by (group, kind)."""
