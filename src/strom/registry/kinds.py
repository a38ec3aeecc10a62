"""The kinds table: every resource strom serves, described once.

The generic registry, discovery, OpenAPI, Table printing and routing all read this table;
a kind gets code of its own (a strategy) only where it has rules of its own. Custom resources
join the table at run time as `ResourceType`s built from their CRD (`crd` is set then).
Short names, categories and verbs are kube-apiserver v1.36's (`kubectl api-resources -o wide`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALL_VERBS", "BUILTIN", "ResourceType"]

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource at one group/version.

    `subresources` names what is served below an object (`status`, `scale`); `crd` holds the
    CustomResourceDefinition's version entry (schema, printer columns, subresources) for custom
    resources and is None for built-in kinds.
    """

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    crd: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # Several versions of one resource share storage; the stored apiVersion is this one.
    storage_version: str = ""
    # Set where a resource lives in another's storage (events.k8s.io/v1 Event in core events).
    storage_prefix: str = ""
    # A CRD's spec.conversion.webhook when its strategy is Webhook: versions change through it.
    conversion: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def webhook_converted(self) -> bool:
        """Whether objects of this version are converted by a webhook (not the storage one)."""
        return self.conversion is not None and self.version != self.storage_version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, `pods`: how kube-apiserver names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key_prefix(self) -> str:
        """Storage prefix, ending in '/': `/registry/pods/`, `/registry/apps/deployments/`."""
        if self.storage_prefix:
            return self.storage_prefix
        if self.group:
            return f"/registry/{self.group}/{self.plural}/"
        return f"/registry/{self.plural}/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def prefix_for(self, namespace: str) -> str:
        """The key prefix that selects one namespace ('' selects all)."""
        if self.namespaced and namespace:
            return f"{self.key_prefix}{namespace}/"
        return self.key_prefix


def _r(
    group_version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    sub: tuple[str, ...] = (),
) -> ResourceType:
    group, _, version = group_version.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        verbs=verbs,
        subresources=sub,
    )


_ALL = ("all",)

BUILTIN: tuple[ResourceType, ...] = (
    # core/v1
    _r(
        "v1",
        "ComponentStatus",
        "componentstatuses",
        namespaced=False,
        short=("cs",),
        verbs=("get", "list"),
    ),
    _r("v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("v1", "Endpoints", "endpoints", short=("ep",)),
    _r("v1", "Event", "events", short=("ev",)),
    _r("v1", "LimitRange", "limitranges", short=("limits",)),
    _r(
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        sub=("finalize", "status"),
    ),
    _r("v1", "Node", "nodes", namespaced=False, short=("no",), sub=("status",)),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=("status",)),
    _r(
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        namespaced=False,
        short=("pv",),
        sub=("status",),
    ),
    _r(
        "v1",
        "Pod",
        "pods",
        short=("po",),
        categories=_ALL,
        sub=("binding", "ephemeralcontainers", "eviction", "status"),
    ),
    _r("v1", "PodTemplate", "podtemplates"),
    _r(
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=("rc",),
        categories=_ALL,
        sub=("scale", "status"),
    ),
    _r("v1", "ResourceQuota", "resourcequotas", short=("quota",), sub=("status",)),
    _r("v1", "Secret", "secrets"),
    _r("v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=("token",)),
    _r(
        "v1",
        "Service",
        "services",
        short=("svc",),
        categories=_ALL,
        sub=("status",),
    ),
    # apps/v1
    _r("apps/v1", "ControllerRevision", "controllerrevisions"),
    _r("apps/v1", "DaemonSet", "daemonsets", short=("ds",), categories=_ALL, sub=("status",)),
    _r(
        "apps/v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        categories=_ALL,
        sub=("scale", "status"),
    ),
    _r(
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        categories=_ALL,
        sub=("scale", "status"),
    ),
    _r(
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        categories=_ALL,
        sub=("scale", "status"),
    ),
    # batch/v1
    _r("batch/v1", "CronJob", "cronjobs", short=("cj",), categories=_ALL, sub=("status",)),
    _r("batch/v1", "Job", "jobs", categories=_ALL, sub=("status",)),
    # autoscaling/v2
    _r(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        sub=("status",),
    ),
    # autoscaling/v1: the same objects in v1's shape (registry/hpa_v1.py)
    _r(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        sub=("status",),
    ),
    # certificates.k8s.io/v1 (approval and status written by approvers and signers)
    _r(
        "certificates.k8s.io/v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        namespaced=False,
        short=("csr",),
        sub=("approval", "status"),
    ),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io/v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1
    # Stored as core/v1 Events, as kube-apiserver does (see registry/conversion.py).
    dataclasses.replace(
        _r("events.k8s.io/v1", "Event", "events", short=("ev",)),
        storage_prefix="/registry/events/",
    ),
    # networking.k8s.io/v1
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",), sub=("status",)),
    # IP addresses of Services and the ranges they come from (registry/cluster_ips.py)
    _r("networking.k8s.io/v1", "IPAddress", "ipaddresses", namespaced=False, short=("ip",)),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _r("networking.k8s.io/v1", "ServiceCIDR", "servicecidrs", namespaced=False, sub=("status",)),
    # node.k8s.io/v1
    _r("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", namespaced=False),
    # policy/v1
    _r(
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        sub=("status",),
    ),
    # rbac.authorization.k8s.io/v1 (enforced by strom.auth.rbac)
    _r(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles"),
    # scheduling.k8s.io/v1
    _r(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        namespaced=False,
        short=("pc",),
    ),
    # storage.k8s.io/v1
    _r("storage.k8s.io/v1", "CSIDriver", "csidrivers", namespaced=False),
    _r("storage.k8s.io/v1", "CSINode", "csinodes", namespaced=False),
    _r("storage.k8s.io/v1", "CSIStorageCapacity", "csistoragecapacities"),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
    _r(
        "storage.k8s.io/v1",
        "VolumeAttachment",
        "volumeattachments",
        namespaced=False,
        sub=("status",),
    ),
    _r(
        "storage.k8s.io/v1",
        "VolumeAttributesClass",
        "volumeattributesclasses",
        namespaced=False,
        short=("vac",),
    ),
    # resource.k8s.io/v1 (dynamic resource allocation: stored for drivers and schedulers)
    _r("resource.k8s.io/v1", "DeviceClass", "deviceclasses", namespaced=False),
    _r("resource.k8s.io/v1", "ResourceClaim", "resourceclaims", sub=("status",)),
    _r("resource.k8s.io/v1", "ResourceClaimTemplate", "resourceclaimtemplates"),
    _r("resource.k8s.io/v1", "ResourceSlice", "resourceslices", namespaced=False),
    # flowcontrol.apiserver.k8s.io/v1 (served as kube with --enable-priority-and-fairness=false)
    _r(
        "flowcontrol.apiserver.k8s.io/v1",
        "FlowSchema",
        "flowschemas",
        namespaced=False,
        sub=("status",),
    ),
    _r(
        "flowcontrol.apiserver.k8s.io/v1",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        namespaced=False,
        sub=("status",),
    ),
    # apiextensions.k8s.io/v1
    _r(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=("api-extensions",),
        sub=("status",),
    ),
    # admissionregistration.k8s.io/v1 (the webhook configurations strom.admission calls)
    _r(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        namespaced=False,
        categories=("api-extensions",),
        sub=("status",),
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        categories=("api-extensions",),
    ),
)
"""Built-in resources, in discovery order (core first, then groups as kube-apiserver sorts them)."""


# Create-only virtual resources (no storage): served by handlers of their own.
def _review(group: str, kind: str, *, namespaced: bool = False) -> ResourceType:
    return ResourceType(
        group=group,
        version="v1",
        kind=kind,
        plural=kind.lower() + "s",
        singular=kind.lower(),
        namespaced=namespaced,
        verbs=("create",),
    )


SELF_SUBJECT_REVIEW = _review("authentication.k8s.io", "SelfSubjectReview")
TOKEN_REVIEW = _review("authentication.k8s.io", "TokenReview")
LOCAL_SUBJECT_ACCESS_REVIEW = _review(
    "authorization.k8s.io", "LocalSubjectAccessReview", namespaced=True
)
SELF_SUBJECT_ACCESS_REVIEW = _review("authorization.k8s.io", "SelfSubjectAccessReview")
SELF_SUBJECT_RULES_REVIEW = _review("authorization.k8s.io", "SelfSubjectRulesReview")
SUBJECT_ACCESS_REVIEW = _review("authorization.k8s.io", "SubjectAccessReview")
BINDINGS = _review("", "Binding", namespaced=True)  # POST a Binding: pods/NAME/binding
VIRTUAL: tuple[ResourceType, ...] = (
    BINDINGS,
    SELF_SUBJECT_REVIEW,
    TOKEN_REVIEW,
    LOCAL_SUBJECT_ACCESS_REVIEW,
    SELF_SUBJECT_ACCESS_REVIEW,
    SELF_SUBJECT_RULES_REVIEW,
    SUBJECT_ACCESS_REVIEW,
)
