"""Defaults of the kinds outside core, apps and batch: networking, policy, RBAC, scheduling,
storage, discovery, events and apiextensions (each group's v1 defaults.go)."""

from __future__ import annotations

from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, items, struct

__all__ = ["CLUSTER_DEFAULTERS"]

_RBAC_GROUP = "rbac.authorization.k8s.io"


def default_network_policy(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        struct(spec, "podSelector")
        for direction in ("ingress", "egress"):
            for rule in items(spec, direction):
                for port in items(rule, "ports"):
                    if port.get("protocol") is None:
                        port["protocol"] = "TCP"
                    conform(port, ORDER["NetworkPolicyPort"])
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        conform(spec, ORDER["NetworkPolicySpec"])
    _object(obj)


def default_ingress(obj: Obj) -> None:
    struct(obj, "spec")
    status = struct(obj, "status")
    if status is not None:
        struct(status, "loadBalancer")
    _object(obj)


def default_ingress_class(obj: Obj) -> None:
    spec = struct(obj, "spec")
    parameters = child(spec, "parameters") if spec is not None else None
    if parameters is not None:
        if parameters.get("scope") is None:
            parameters["scope"] = "Cluster"
        conform(parameters, ORDER["IngressClassParametersReference"])
    _object(obj)


def default_pdb(obj: Obj) -> None:
    struct(obj, "spec")
    status = struct(obj, "status")
    if status is not None:
        for key in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
            status.setdefault(key, 0)
        conform(status, ORDER["PodDisruptionBudgetStatus"])
    _object(obj)


def default_binding(obj: Obj) -> None:
    """SetDefaults_RoleBinding / _ClusterRoleBinding / _Subject."""
    role_ref = struct(obj, "roleRef")
    if role_ref is not None:
        if not role_ref.get("apiGroup"):
            role_ref["apiGroup"] = _RBAC_GROUP
        conform(role_ref, ORDER["RoleRef"])
    for subject in items(obj, "subjects"):
        if not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = _RBAC_GROUP
        if subject.get("apiGroup") == "":
            del subject["apiGroup"]  # an empty string is omitted when written
        conform(subject, ORDER["Subject"])
    conform(obj, ORDER["RoleBinding"])


def default_priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"
    conform(obj, ORDER["PriorityClass"])


def default_storage_class(obj: Obj) -> None:
    if obj.get("reclaimPolicy") is None:
        obj["reclaimPolicy"] = "Delete"
    if obj.get("volumeBindingMode") is None:
        obj["volumeBindingMode"] = "Immediate"
    conform(obj, ORDER["StorageClass"])


def default_csi_driver(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec is not None:
        for key, value in (
            ("attachRequired", True),
            ("podInfoOnMount", False),
            ("storageCapacity", False),
            ("fsGroupPolicy", "ReadWriteOnceWithFSType"),
            ("requiresRepublish", False),
            ("seLinuxMount", False),
        ):
            if spec.get(key) is None:
                spec[key] = value
        if not spec.get("volumeLifecycleModes"):
            spec["volumeLifecycleModes"] = ["Persistent"]
        conform(spec, ORDER["CSIDriverSpec"])
    _object(obj)


def default_volume_attachment(obj: Obj) -> None:
    struct(obj, "spec")
    status = struct(obj, "status")
    if status is not None:
        status.setdefault("attached", False)
    _object(obj)


def default_endpoint_slice(obj: Obj) -> None:
    """SetDefaults_EndpointPort; `endpoints` (no omitempty) prints as null when absent and each
    endpoint's conditions struct as {}."""
    obj.setdefault("endpoints", None)
    for endpoint in items(obj, "endpoints"):
        struct(endpoint, "conditions")
        conform(endpoint, ORDER["discovery.Endpoint"])
    for port in items(obj, "ports"):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"
        conform(port, ORDER["discovery.EndpointPort"])
    conform(obj, ORDER["EndpointSlice"])


def default_events_event(obj: Obj) -> None:
    """events.k8s.io/v1 Event: no defaulter; its struct and timestamp fields always print."""
    obj.setdefault("eventTime", None)
    struct(obj, "regarding")
    struct(obj, "deprecatedSource")
    obj.setdefault("deprecatedFirstTimestamp", None)
    obj.setdefault("deprecatedLastTimestamp", None)
    conform(obj, ORDER["events.Event"])


def default_crd(obj: Obj) -> None:
    """apiextensions v1 SetDefaults_CustomResourceDefinition(Spec) and _ServiceReference."""
    spec = struct(obj, "spec")
    if spec is not None:
        names = struct(spec, "names")
        kind = names.get("kind") if names is not None else None
        if names is not None and isinstance(kind, str):
            if not names.get("singular"):
                names["singular"] = kind.lower()
            if not names.get("listKind") and kind:
                names["listKind"] = kind + "List"
            conform(names, ORDER["CustomResourceDefinitionNames"])
        conversion = child(spec, "conversion")
        if conversion is None:
            conversion = spec["conversion"] = {"strategy": "None"}
        webhook = child(conversion, "webhook")
        client_config = child(webhook, "clientConfig") if webhook is not None else None
        service = child(client_config, "service") if client_config is not None else None
        if service is not None:
            if service.get("port") is None:
                service["port"] = 443
            conform(service, ORDER["ServiceReference"])
        conform(conversion, ORDER["CustomResourceConversion"])
        conform(spec, ORDER["CustomResourceDefinitionSpec"])
    status = struct(obj, "status")
    if status is not None:
        _default_crd_status(status, spec or {})
    _object(obj)


def _default_crd_status(status: Obj, spec: Obj) -> None:
    accepted = struct(status, "acceptedNames")
    if accepted is not None:
        accepted.setdefault("plural", "")
        accepted.setdefault("kind", "")
        conform(accepted, ORDER["CustomResourceDefinitionNames"])
    if not status.get("storedVersions"):
        storage = [v.get("name") for v in items(spec, "versions") if v.get("storage")]
        status["storedVersions"] = storage[:1] or None
    conform(status, ORDER["CustomResourceDefinitionStatus"])


def default_lease(obj: Obj) -> None:
    struct(obj, "spec")
    _object(obj)


def _object(obj: Obj) -> None:
    conform(obj, ORDER["object"])


def _order_only(order: str) -> Any:
    return lambda obj: conform(obj, ORDER[order])


CLUSTER_DEFAULTERS: dict[tuple[str, str], Any] = {
    ("networking.k8s.io", "NetworkPolicy"): default_network_policy,
    ("networking.k8s.io", "Ingress"): default_ingress,
    ("networking.k8s.io", "IngressClass"): default_ingress_class,
    ("policy", "PodDisruptionBudget"): default_pdb,
    (_RBAC_GROUP, "RoleBinding"): default_binding,
    (_RBAC_GROUP, "ClusterRoleBinding"): default_binding,
    (_RBAC_GROUP, "Role"): _order_only("Role"),
    (_RBAC_GROUP, "ClusterRole"): _order_only("Role"),
    ("scheduling.k8s.io", "PriorityClass"): default_priority_class,
    ("storage.k8s.io", "StorageClass"): default_storage_class,
    ("storage.k8s.io", "CSIDriver"): default_csi_driver,
    ("storage.k8s.io", "CSINode"): _object,
    ("storage.k8s.io", "VolumeAttachment"): default_volume_attachment,
    ("discovery.k8s.io", "EndpointSlice"): default_endpoint_slice,
    ("events.k8s.io", "Event"): default_events_event,
    ("coordination.k8s.io", "Lease"): default_lease,
    ("node.k8s.io", "RuntimeClass"): _order_only("RuntimeClass"),
    ("apps", "ControllerRevision"): _order_only("ControllerRevision"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): default_crd,
}
