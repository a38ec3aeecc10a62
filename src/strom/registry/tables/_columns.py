"""Column definitions of kube-apiserver's built-in printers (`pkg/printers/internalversion`).

Descriptions are the Go types' `SwaggerDoc()` texts. For GA types those equal the OpenAPI
descriptions shipped with kubernetes-validate, so they are read from there; upstream quotes a
few long-gone beta types (extensions/v1beta1, batch/v1beta1, ...) whose texts differ from their
GA successors, and those are copied here verbatim.
"""

from __future__ import annotations

import functools
from typing import Any

from strom.registry.schemas import definitions

__all__ = ["builtin_columns", "column", "default_columns", "doc", "meta_doc"]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.cache
def doc(definition: str, field: str) -> str:
    """A field's description, or "" where the type has none (Go's missing map key)."""
    if not definition.startswith("io.k8s."):
        definition = f"io.k8s.api.{definition}"  # "core.v1.Pod" is short for the full name
    props = definitions().get(definition, {}).get("properties", {})
    text = props.get(field, {}).get("description", "")
    return text if isinstance(text, str) else ""


def meta_doc(field: str) -> str:
    return doc(_META, field)


def column(
    name: str, type_: str, description: str, *, priority: int = 0, format_: str = ""
) -> dict[str, Any]:
    """One `TableColumnDefinition`, keys in the order kube-apiserver writes them."""
    return {
        "name": name,
        "type": type_,
        "format": format_,
        "description": description,
        "priority": priority,
    }


# Texts of retired beta types that upstream still quotes.
_EXT_REPLICAS = (
    "Replicas is the number of desired replicas. This is a pointer to distinguish between "
    "explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts"
    "/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_EXT_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. If the selector is "
    "empty, it is defaulted to the labels present on the pod template. Label keys and values that "
    "must match in order to be controlled by this replica set. More info: https://kubernetes.io/"
    "docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_EXT_RS_STATUS_REPLICAS = (
    "Replicas is the most recently oberved number of replicas. More info: https://kubernetes.io/"
    "docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller"
)
_EXT_RS_READY = "The number of ready replicas for this replica set."
_DS_INFO = " More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
_EXT_DS_DESIRED = (
    "The total number of nodes that should be running the daemon pod (including nodes correctly "
    "running the daemon pod)." + _DS_INFO
)
_EXT_DS_CURRENT = (
    "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
    "daemon pod." + _DS_INFO
)
_EXT_DS_READY = (
    "The number of nodes that should be running the daemon pod and have one or more of the "
    "daemon pod running and ready."
)
_EXT_DS_UPDATED = "The total number of nodes that are running updated daemon pod"
_EXT_DS_AVAILABLE = (
    "The number of nodes that should be running the daemon pod and have one or more of the "
    "daemon pod running and available (ready for at least spec.minReadySeconds)"
)
_EXT_DS_SELECTOR = (
    "A label query over pods that are managed by the daemon set. Must match in order to be "
    "controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/"
    "docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
_EXT_DEPLOY_UPDATED = (
    "Total number of non-terminated pods targeted by this deployment that have the desired "
    "template spec."
)
_EXT_DEPLOY_AVAILABLE = (
    "Total number of available pods (ready for at least minReadySeconds) targeted by this "
    "deployment."
)
_EXT_DEPLOY_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the "
    "ones affected by this deployment."
)
_EXT_NETPOL_SELECTOR = (
    "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is "
    "applied to any pods selected by this field. Multiple network policies can select the same "
    "set of pods.  In this case, the ingress rules for each are combined additively. This field "
    "is NOT optional and follows standard label selector semantics. An empty podSelector matches "
    "all pods in this namespace."
)
_HPA_V2BETA1_METRICS = (
    "metrics contains the specifications for which to use to calculate the desired replica count "
    "(the maximum replica count across all metrics will be used).  The desired replica count is "
    "calculated multiplying the ratio between the target value and the current value by the "
    "current number of pods.  Ergo, metrics used must decrease as the pod count is increased, "
    "and vice-versa.  See the individual metric source types for more information about how "
    "each type of metric must respond."
)
_RBAC_V1BETA1_ROLEBINDING_REF = (
    "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
    "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."
)
_RBAC_V1BETA1_CLUSTERROLEBINDING_REF = (
    "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be "
    "resolved, the Authorizer must return an error."
)
_SLICE_V1BETA1_ADDRESS_TYPE = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in "
    "this slice must be the same type. This field is immutable after creation. The following "
    "address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: "
    "Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name."
)
_SLICE_V1BETA1_PORTS = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port "
    "must have a unique name. When ports is empty, it indicates that there are no defined ports. "
    'When a port is defined with a nil port value, it indicates "all ports". Each slice may '
    "include a maximum of 100 ports."
)
_SLICE_V1BETA1_ENDPOINTS = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of "
    "1000 endpoints."
)
_CONTAINERS = "Names of each container in the template."
_IMAGES = "Images referenced by each container in the template."


def _name() -> dict[str, Any]:
    return column("Name", "string", meta_doc("name"), format_="name")


def _age() -> dict[str, Any]:
    return column("Age", "string", meta_doc("creationTimestamp"))


def _wide_template(selector_doc: str | None) -> list[dict[str, Any]]:
    cols = [
        column("Containers", "string", _CONTAINERS, priority=1),
        column("Images", "string", _IMAGES, priority=1),
    ]
    if selector_doc is not None:
        cols.append(column("Selector", "string", selector_doc, priority=1))
    return cols


def _pods() -> list[dict[str, Any]]:
    return [
        _name(),
        column(
            "Ready", "string", "The aggregate readiness state of this pod for accepting traffic."
        ),
        column("Status", "string", "The aggregate status of the containers in this pod."),
        column(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the "
            "last container in this pod has restarted.",
        ),
        _age(),
        column("IP", "string", doc("core.v1.PodStatus", "podIP"), priority=1),
        column("Node", "string", doc("core.v1.PodSpec", "nodeName"), priority=1),
        column(
            "Nominated Node", "string", doc("core.v1.PodStatus", "nominatedNodeName"), priority=1
        ),
        column("Readiness Gates", "string", doc("core.v1.PodSpec", "readinessGates"), priority=1),
    ]


def _workloads() -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {
        ("", "PodTemplate"): [
            _name(),
            column("Containers", "string", _CONTAINERS),
            column("Images", "string", _IMAGES),
            column("Pod Labels", "string", "The labels for the pod template."),
        ],
        ("", "ReplicationController"): [
            _name(),
            column("Desired", "integer", doc("core.v1.ReplicationControllerSpec", "replicas")),
            column("Current", "integer", doc("core.v1.ReplicationControllerStatus", "replicas")),
            column("Ready", "integer", doc("core.v1.ReplicationControllerStatus", "readyReplicas")),
            _age(),
            *_wide_template(doc("core.v1.ReplicationControllerSpec", "selector")),
        ],
        ("apps", "ReplicaSet"): [
            _name(),
            column("Desired", "integer", _EXT_REPLICAS),
            column("Current", "integer", _EXT_RS_STATUS_REPLICAS),
            column("Ready", "integer", _EXT_RS_READY),
            _age(),
            *_wide_template(_EXT_RS_SELECTOR),
        ],
        ("apps", "DaemonSet"): [
            _name(),
            column("Desired", "integer", _EXT_DS_DESIRED),
            column("Current", "integer", _EXT_DS_CURRENT),
            column("Ready", "integer", _EXT_DS_READY),
            column("Up-to-date", "integer", _EXT_DS_UPDATED),
            column("Available", "integer", _EXT_DS_AVAILABLE),
            column("Node Selector", "string", doc("core.v1.PodSpec", "nodeSelector")),
            _age(),
            *_wide_template(_EXT_DS_SELECTOR),
        ],
        ("apps", "Deployment"): [
            _name(),
            column("Ready", "string", "Number of the pod with ready state"),
            column("Up-to-date", "string", _EXT_DEPLOY_UPDATED),
            column("Available", "string", _EXT_DEPLOY_AVAILABLE),
            _age(),
            *_wide_template(_EXT_DEPLOY_SELECTOR),
        ],
        ("apps", "StatefulSet"): [
            _name(),
            column("Ready", "string", "Number of the pod with ready state"),
            _age(),
            *_wide_template(None),
        ],
        ("apps", "ControllerRevision"): [
            _name(),
            column("Controller", "string", "Controller of the object"),
            column("Revision", "string", doc("apps.v1.ControllerRevision", "revision")),
            _age(),
        ],
        ("batch", "Job"): [
            _name(),
            column("Status", "string", "Status of the job."),
            column("Completions", "string", doc("batch.v1.JobStatus", "succeeded")),
            column("Duration", "string", "Time required to complete the job."),
            _age(),
            *_wide_template(doc("batch.v1.JobSpec", "selector")),
        ],
        ("batch", "CronJob"): [
            _name(),
            column("Schedule", "string", doc("batch.v1.CronJobSpec", "schedule")),
            column("Timezone", "string", doc("batch.v1.CronJobSpec", "timeZone")),
            column("Suspend", "boolean", doc("batch.v1.CronJobSpec", "suspend")),
            column("Active", "integer", doc("batch.v1.CronJobStatus", "active")),
            column("Last Schedule", "string", doc("batch.v1.CronJobStatus", "lastScheduleTime")),
            _age(),
            *_wide_template(doc("batch.v1.JobSpec", "selector")),
        ],
        ("autoscaling", "HorizontalPodAutoscaler"): [
            _name(),
            column(
                "Reference",
                "string",
                doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef"),
            ),
            column("Targets", "string", _HPA_V2BETA1_METRICS),
            column(
                "MinPods",
                "string",
                doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas"),
            ),
            column(
                "MaxPods",
                "string",
                doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas"),
            ),
            column(
                "Replicas",
                "string",
                doc("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas"),
            ),
            _age(),
        ],
        ("policy", "PodDisruptionBudget"): [
            _name(),
            column("Min Available", "string", "The minimum number of pods that must be available."),
            column(
                "Max Unavailable", "string", "The maximum number of pods that may be unavailable."
            ),
            column(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            _age(),
        ],
    }


def _core() -> dict[tuple[str, str], list[dict[str, Any]]]:
    svc = "core.v1.ServiceSpec"
    node_info = "core.v1.NodeSystemInfo"
    event = "core.v1.Event"
    return {
        ("", "Pod"): _pods(),
        ("", "Service"): [
            _name(),
            column("Type", "string", doc(svc, "type")),
            column("Cluster-IP", "string", doc(svc, "clusterIP")),
            column("External-IP", "string", doc(svc, "externalIPs")),
            column("Port(s)", "string", doc(svc, "ports")),
            _age(),
            column("Selector", "string", doc(svc, "selector"), priority=1),
        ],
        ("", "Endpoints"): [
            _name(),
            column("Endpoints", "string", doc("core.v1.Endpoints", "subsets")),
            _age(),
        ],
        ("", "Node"): [
            _name(),
            column("Status", "string", "The status of the node"),
            column("Roles", "string", "The roles of the node"),
            _age(),
            column("Version", "string", doc(node_info, "kubeletVersion")),
            column("Internal-IP", "string", doc("core.v1.NodeStatus", "addresses"), priority=1),
            column("External-IP", "string", doc("core.v1.NodeStatus", "addresses"), priority=1),
            column("OS-Image", "string", doc(node_info, "osImage"), priority=1),
            column("Kernel-Version", "string", doc(node_info, "kernelVersion"), priority=1),
            column(
                "Container-Runtime", "string", doc(node_info, "containerRuntimeVersion"), priority=1
            ),
        ],
        ("", "Event"): [
            column("Last Seen", "string", doc(event, "lastTimestamp")),
            column("Type", "string", doc(event, "type")),
            column("Reason", "string", doc(event, "reason")),
            column("Object", "string", doc(event, "involvedObject")),
            column("Subobject", "string", doc("core.v1.ObjectReference", "fieldPath"), priority=1),
            column("Source", "string", doc(event, "source"), priority=1),
            column("Message", "string", doc(event, "message")),
            column("First Seen", "string", doc(event, "firstTimestamp"), priority=1),
            column("Count", "string", doc(event, "count"), priority=1),
            column("Name", "string", meta_doc("name"), priority=1, format_="name"),
        ],
        ("", "Namespace"): [
            _name(),
            column("Status", "string", "The status of the namespace"),
            _age(),
        ],
        ("", "Secret"): [
            _name(),
            column("Type", "string", doc("core.v1.Secret", "type")),
            column("Data", "string", doc("core.v1.Secret", "data")),
            _age(),
        ],
        ("", "ServiceAccount"): [
            _name(),
            column("Secrets", "string", doc("core.v1.ServiceAccount", "secrets")),
            _age(),
        ],
        ("", "ConfigMap"): [
            _name(),
            column("Data", "string", doc("core.v1.ConfigMap", "data")),
            _age(),
        ],
        ("", "ResourceQuota"): [
            _name(),
            column(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            column(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use "
                "independent of contention on the node.",
            ),
            _age(),
        ],
    }


def _volumes() -> dict[tuple[str, str], list[dict[str, Any]]]:
    pv_spec, pv_status = "core.v1.PersistentVolumeSpec", "core.v1.PersistentVolumeStatus"
    pvc_spec = "core.v1.PersistentVolumeClaimSpec"
    pvc_status = "core.v1.PersistentVolumeClaimStatus"
    csi = "storage.v1.CSIDriverSpec"
    csr = "certificates.v1.CertificateSigningRequestSpec"
    return {
        ("", "PersistentVolume"): [
            _name(),
            column("Capacity", "string", doc(pv_spec, "capacity")),
            column("Access Modes", "string", doc(pv_spec, "accessModes")),
            column("Reclaim Policy", "string", doc(pv_spec, "persistentVolumeReclaimPolicy")),
            column("Status", "string", doc(pv_status, "phase")),
            column("Claim", "string", doc(pv_spec, "claimRef")),
            column("StorageClass", "string", "StorageClass of the pv"),
            column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            column("Reason", "string", doc(pv_status, "reason")),
            _age(),
            column("VolumeMode", "string", doc(pv_spec, "volumeMode"), priority=1),
        ],
        ("", "PersistentVolumeClaim"): [
            _name(),
            column("Status", "string", doc(pvc_status, "phase")),
            column("Volume", "string", doc(pvc_spec, "volumeName")),
            column("Capacity", "string", doc(pvc_status, "capacity")),
            column("Access Modes", "string", doc(pvc_status, "accessModes")),
            column("StorageClass", "string", "StorageClass of the pvc"),
            column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            _age(),
            column("VolumeMode", "string", doc(pvc_spec, "volumeMode"), priority=1),
        ],
        ("storage.k8s.io", "StorageClass"): [
            _name(),
            column("Provisioner", "string", doc("storage.v1.StorageClass", "provisioner")),
            column("ReclaimPolicy", "string", doc("storage.v1.StorageClass", "reclaimPolicy")),
            column(
                "VolumeBindingMode", "string", doc("storage.v1.StorageClass", "volumeBindingMode")
            ),
            column(
                "AllowVolumeExpansion",
                "string",
                doc("storage.v1.StorageClass", "allowVolumeExpansion"),
            ),
            _age(),
        ],
        ("storage.k8s.io", "VolumeAttachment"): [
            _name(),
            column(
                "Attacher",
                "string",
                doc("storage.v1.VolumeAttachmentSpec", "attacher"),
                format_="name",
            ),
            column(
                "PV", "string", doc("storage.v1.VolumeAttachmentSource", "persistentVolumeName")
            ),
            column("Node", "string", doc("storage.v1.VolumeAttachmentSpec", "nodeName")),
            column("Attached", "boolean", doc("storage.v1.VolumeAttachmentStatus", "attached")),
            _age(),
        ],
        ("storage.k8s.io", "CSINode"): [
            _name(),
            column(
                "Drivers",
                "integer",
                "Drivers indicates the number of CSI drivers registered on the node",
            ),
            _age(),
        ],
        ("certificates.k8s.io", "CertificateSigningRequest"): [
            _name(),
            _age(),
            column("SignerName", "string", doc(csr, "signerName")),
            column("Requestor", "string", doc(csr, "request")),
            column("RequestedDuration", "string", doc(csr, "expirationSeconds")),
            column(
                "Condition",
                "string",
                doc("certificates.v1.CertificateSigningRequestStatus", "conditions"),
            ),
        ],
        ("storage.k8s.io", "CSIStorageCapacity"): [
            _name(),
            column(
                "StorageClassName",
                "string",
                doc("storage.v1.CSIStorageCapacity", "storageClassName"),
            ),
            column("Capacity", "string", doc("storage.v1.CSIStorageCapacity", "capacity")),
        ],
        ("storage.k8s.io", "VolumeAttributesClass"): [
            _name(),
            column("DriverName", "string", doc("storage.v1.VolumeAttributesClass", "driverName")),
            _age(),
        ],
        ("storage.k8s.io", "CSIDriver"): [
            _name(),
            column("AttachRequired", "boolean", doc(csi, "attachRequired")),
            column("PodInfoOnMount", "boolean", doc(csi, "podInfoOnMount")),
            column("StorageCapacity", "boolean", doc(csi, "storageCapacity")),
            column("TokenRequests", "string", doc(csi, "tokenRequests")),
            column("RequiresRepublish", "boolean", doc(csi, "requiresRepublish")),
            column("Modes", "string", doc(csi, "volumeLifecycleModes")),
            _age(),
        ],
    }


def _other() -> dict[tuple[str, str], list[dict[str, Any]]]:
    def bindings(what: str, role_ref_doc: str) -> list[dict[str, Any]]:
        return [
            _name(),
            column("Role", "string", role_ref_doc),
            _age(),
            column("Users", "string", f"Users in the {what}", priority=1),
            column("Groups", "string", f"Groups in the {what}", priority=1),
            column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
        ]

    pc = "scheduling.v1.PriorityClass"
    return {
        ("networking.k8s.io", "Ingress"): [
            _name(),
            column(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional "
                "configuration",
            ),
            column(
                "Hosts",
                "string",
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            column(
                "Address",
                "string",
                "Address is a list containing ingress points for the load-balancer",
            ),
            column("Ports", "string", "Ports of TLS configurations that open"),
            _age(),
        ],
        ("networking.k8s.io", "IngressClass"): [
            _name(),
            column(
                "Controller", "string", "Controller that is responsible for handling this class"
            ),
            column("Parameters", "string", "A reference to a resource with additional parameters"),
            _age(),
        ],
        ("networking.k8s.io", "NetworkPolicy"): [
            _name(),
            column("Pod-Selector", "string", _EXT_NETPOL_SELECTOR),
            _age(),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding"): bindings(
            "roleBinding", _RBAC_V1BETA1_ROLEBINDING_REF
        ),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"): bindings(
            "clusterRoleBinding", _RBAC_V1BETA1_CLUSTERROLEBINDING_REF
        ),
        ("coordination.k8s.io", "Lease"): [
            _name(),
            column("Holder", "string", doc("coordination.v1.LeaseSpec", "holderIdentity")),
            _age(),
        ],
        ("scheduling.k8s.io", "PriorityClass"): [
            _name(),
            column("Value", "integer", doc(pc, "value")),
            column("Global-Default", "boolean", doc(pc, "globalDefault")),
            _age(),
            column("PreemptionPolicy", "string", doc(pc, "preemptionPolicy")),
        ],
        ("node.k8s.io", "RuntimeClass"): [
            _name(),
            # Upstream looks "handler" up in ObjectMeta's docs, which have no such key.
            column("Handler", "string", meta_doc("handler")),
            _age(),
        ],
        ("discovery.k8s.io", "EndpointSlice"): [
            _name(),
            column("AddressType", "string", _SLICE_V1BETA1_ADDRESS_TYPE),
            column("Ports", "string", _SLICE_V1BETA1_PORTS),
            column("Endpoints", "string", _SLICE_V1BETA1_ENDPOINTS),
            _age(),
        ],
    }


@functools.cache
def _builtin() -> dict[tuple[str, str], list[dict[str, Any]]]:
    columns = {**_core(), **_workloads(), **_volumes(), **_other()}
    # events.k8s.io Events are served from the core Event storage and print alike.
    columns["events.k8s.io", "Event"] = columns["", "Event"]
    return columns


def builtin_columns(group: str, kind: str) -> list[dict[str, Any]] | None:
    """The printer's columns for a built-in kind, None where upstream has no printer."""
    return _builtin().get((group, kind))


@functools.cache
def default_columns() -> list[dict[str, Any]]:
    """`rest.defaultTableConvertor`'s columns: Name and Created At."""
    return [_name(), column("Created At", "date", meta_doc("creationTimestamp"))]
