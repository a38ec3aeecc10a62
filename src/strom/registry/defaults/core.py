"""Defaults of the core/v1 kinds other than pods (pkg/apis/core/v1/defaults.go and the
generated defaulters), plus the empty structs kube always writes out for them."""

from __future__ import annotations

import ipaddress
from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, items, struct
from strom.registry.defaults.pods import (
    PV_SOURCE_DEFAULTS,
    default_pod_template,
    default_pvc_spec,
    default_volume_sources,
)
from strom.registry.defaults.quantity import canonical_resource_list

__all__ = ["CORE_DEFAULTERS", "default_pvc"]

_NODE_INFO = ORDER["NodeSystemInfo"][:-1]  # every field but the optional `swap`
_EXTERNAL_TYPES = ("NodePort", "LoadBalancer")


def default_service(obj: Obj) -> None:
    """SetDefaults_Service, and the IP family fields kube's allocator fills in on a single-stack
    IPv4 cluster (the cluster IP itself is allocated elsewhere)."""
    spec = struct(obj, "spec")
    if spec is not None:
        _default_service_spec(spec)
    status = struct(obj, "status")
    if status is not None:
        load_balancer = struct(status, "loadBalancer")
        is_lb = spec is not None and spec.get("type") == "LoadBalancer"
        if load_balancer is not None and is_lb:
            for ingress in items(load_balancer, "ingress"):
                if ingress.get("ip") and ingress.get("ipMode") is None:
                    ingress["ipMode"] = "VIP"
                conform(ingress, ORDER["LoadBalancerIngress"])
    conform(obj, ORDER["object"])


def _default_service_spec(spec: Obj) -> None:
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = child(spec, "sessionAffinityConfig") or {}
        client_ip = child(config, "clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    service_type = spec["type"]
    for port in items(spec, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
        conform(port, ORDER["ServicePort"])
    externally_accessible = service_type in _EXTERNAL_TYPES or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    internal = service_type in ("ClusterIP", *_EXTERNAL_TYPES)
    if internal and spec.get("internalTrafficPolicy") is None:
        spec["internalTrafficPolicy"] = "Cluster"
    if service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if service_type != "ExternalName":
        _default_ip_families(spec)
    conform(spec, ORDER["ServiceSpec"])


def _default_ip_families(spec: Obj) -> None:
    """initIPFamilyFields for a single-stack IPv4 cluster: SingleStack unless two families or
    two IPs were given; families from the cluster IPs, else IPv4; a headless service without a
    selector that is not SingleStack gets both families."""
    cluster_ips = [ip for ip in spec.get("clusterIPs") or () if isinstance(ip, str)]
    families = spec.get("ipFamilies")
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        dual = len(cluster_ips) == 2 or (isinstance(families, list) and len(families) == 2)
        if headless_selectorless and not families:
            dual = True
        spec["ipFamilyPolicy"] = "RequireDualStack" if dual else "SingleStack"
    if not families:
        families = [_family(ip) for ip in cluster_ips if ip != "None"] or ["IPv4"]
        if spec["ipFamilyPolicy"] != "SingleStack" and len(families) == 1:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families


def _family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return "IPv4"


def default_secret(obj: Obj) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"
    conform(obj, ORDER["Secret"])


def default_namespace(obj: Obj) -> None:
    """SetDefaults_Namespace (the kubernetes.io/metadata.name label) and _NamespaceStatus."""
    meta = struct(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and isinstance(name, str) and name:
        labels = child(meta, "labels")
        if labels is None:
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = name
    struct(obj, "spec")
    status = struct(obj, "status")
    if status is not None:
        if not status.get("phase"):
            status["phase"] = "Active"
        conform(status, ORDER["NamespaceStatus"])
    conform(obj, ORDER["object"])


def default_node(obj: Obj) -> None:
    """SetDefaults_NodeStatus (allocatable from capacity) and the NodeStatus structs."""
    struct(obj, "spec")
    status = struct(obj, "status")
    if status is not None:
        canonical_resource_list(status.get("capacity"))
        canonical_resource_list(status.get("allocatable"))
        if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
            status["allocatable"] = dict(status["capacity"])
        endpoints = struct(status, "daemonEndpoints")
        kubelet = struct(endpoints, "kubeletEndpoint") if endpoints is not None else None
        if kubelet is not None:
            kubelet.setdefault("Port", 0)
        info = struct(status, "nodeInfo")
        if info is not None:
            for key in _NODE_INFO:
                info.setdefault(key, "")
            conform(info, ORDER["NodeSystemInfo"])
        conform(status, ORDER["NodeStatus"])
    conform(obj, ORDER["object"])


def default_pv(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        if not spec.get("persistentVolumeReclaimPolicy"):
            spec["persistentVolumeReclaimPolicy"] = "Retain"
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        canonical_resource_list(spec.get("capacity"))
        default_volume_sources(spec, PV_SOURCE_DEFAULTS)
        conform(spec, ORDER["PersistentVolumeSpec"])
    status = struct(obj, "status")
    if status is not None:
        if not status.get("phase"):
            status["phase"] = "Pending"
        conform(status, ORDER["PersistentVolumeStatus"])
    conform(obj, ORDER["object"])


def default_pvc(obj: Obj) -> None:
    """A PersistentVolumeClaim, standalone or as a StatefulSet volume claim template."""
    struct(obj, "metadata")
    spec = struct(obj, "spec")
    if spec is not None:
        default_pvc_spec(spec)
    status = struct(obj, "status")
    if status is not None:
        if not status.get("phase"):
            status["phase"] = "Pending"
        canonical_resource_list(status.get("capacity"))
        canonical_resource_list(status.get("allocatedResources"))
        conform(status, ORDER["PersistentVolumeClaimStatus"])
    conform(obj, ORDER["object"])


def default_endpoints(obj: Obj) -> None:
    for subset in items(obj, "subsets"):
        for port in items(subset, "ports"):
            if not port.get("protocol"):
                port["protocol"] = "TCP"
            conform(port, ORDER["EndpointPort"])
    conform(obj, ORDER["Endpoints"])


def default_event(obj: Obj) -> None:
    """core/v1 Event has no defaulter, but its struct and non-omitempty fields always print."""
    struct(obj, "involvedObject")
    struct(obj, "source")
    for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
        obj.setdefault(key, None)
    for key in ("reportingComponent", "reportingInstance"):
        obj.setdefault(key, "")
    conform(obj, ORDER["Event"])


def default_limit_range(obj: Obj) -> None:
    """SetDefaults_LimitRangeItem: container default limit from max, default request from
    the default limit, else from min."""
    spec = struct(obj, "spec")
    for item in items(spec or {}, "limits"):
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_resource_list(item.get(key))
        if item.get("type") == "Container":
            default = _resource_list(item, "default")
            request = _resource_list(item, "defaultRequest")
            for name, value in (child(item, "max") or {}).items():
                default.setdefault(name, value)
            for name, value in default.items():
                request.setdefault(name, value)
            for name, value in (child(item, "min") or {}).items():
                request.setdefault(name, value)
            for key in ("default", "defaultRequest"):
                if not item[key]:
                    del item[key]  # an empty map is omitted when written
        conform(item, ORDER["LimitRangeItem"])
    conform(obj, ORDER["object"])


def _resource_list(item: Obj, key: str) -> dict[str, Any]:
    value = child(item, key)
    if value is None:
        value = item[key] = {}
    return value


def default_resource_quota(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        canonical_resource_list(spec.get("hard"))
    status = struct(obj, "status")
    if status is not None:
        canonical_resource_list(status.get("hard"))
        canonical_resource_list(status.get("used"))
    conform(obj, ORDER["object"])


def default_replication_controller(obj: Obj) -> None:
    """SetDefaults_ReplicationController: selector and labels from the template, replicas 1."""
    spec = struct(obj, "spec")
    if spec is not None:
        template = child(spec, "template")
        labels = child(child(template, "metadata") or {}, "labels") if template else None
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = struct(obj, "metadata")
            if meta is not None and not meta.get("labels"):
                meta["labels"] = dict(labels)
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if template is not None:
            default_pod_template(template)
        conform(spec, ORDER["ReplicationControllerSpec"])
    status = struct(obj, "status")
    if status is not None:
        status.setdefault("replicas", 0)
        conform(status, ORDER["ReplicaSetStatus"])
    conform(obj, ORDER["object"])


def default_pod_template_object(obj: Obj) -> None:
    template = struct(obj, "template")
    if template is not None:
        default_pod_template(template)
    conform(obj, ORDER["PodTemplate"])


def _order_only(order: str) -> Any:
    return lambda obj: conform(obj, ORDER[order])


CORE_DEFAULTERS: dict[str, Any] = {
    "Service": default_service,
    "Secret": default_secret,
    "Namespace": default_namespace,
    "Node": default_node,
    "PersistentVolume": default_pv,
    "PersistentVolumeClaim": default_pvc,
    "Endpoints": default_endpoints,
    "Event": default_event,
    "LimitRange": default_limit_range,
    "ResourceQuota": default_resource_quota,
    "ReplicationController": default_replication_controller,
    "PodTemplate": default_pod_template_object,
    "ConfigMap": _order_only("ConfigMap"),
    "ServiceAccount": _order_only("ServiceAccount"),
}
