"""Pod defaults: `SetDefaults_PodSpec` and everything below it, the pod-only extras of
`SetDefaults_Pod`, the QoS class, and the lookup-free admission defaults a new pod gets.

A pod spec is defaulted wherever it occurs (pods, pod templates, workload templates); the
`pod=True` variant adds what only a Pod object gets (requests from limits, enableServiceLinks,
host ports under hostNetwork).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from strom.registry.defaults._fields import ORDER, Obj, child, conform, items, struct
from strom.registry.defaults.quantity import (
    canonical_quantity,
    canonical_resource_list,
    parse,
)

__all__ = [
    "default_pod",
    "default_pod_spec",
    "default_pod_template",
    "pod_admission_defaults",
    "qos_class",
]

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_DEFAULT_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
_TOKEN_EXPIRATION = 3600
_SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_NODE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_DEFAULT_TOLERATION_SECONDS = 300


def default_pod_template(template: Obj) -> None:
    """A PodTemplateSpec: `{metadata, spec}` with the spec defaulted (templates get no
    pod-only defaults)."""
    struct(template, "metadata")
    spec = struct(template, "spec")
    if spec is not None:
        default_pod_spec(spec)
    conform(template, ORDER["PodTemplateSpec"])


def default_pod(obj: Obj) -> None:
    """A Pod object (SetObjectDefaults_Pod)."""
    struct(obj, "metadata")
    spec = struct(obj, "spec")
    if spec is not None:
        _pod_only(spec)
        default_pod_spec(spec)
    status = struct(obj, "status")
    if status is not None:
        for condition in items(status, "conditions"):
            conform(condition, ORDER["PodCondition"])
        conform(status, ORDER["PodStatus"])
    conform(obj, ORDER["object"])


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the generated defaulters for volumes and containers."""
    _service_account_alias(spec)
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for volume in items(spec, "volumes"):
        _default_volume(volume)
    for key in _CONTAINER_LISTS:
        for container in items(spec, key):
            _default_container(container)
    canonical_resource_list(spec.get("overhead"))
    resources = child(spec, "resources")
    if resources is not None:
        canonical_resource_list(resources.get("limits"))
        canonical_resource_list(resources.get("requests"))
    for toleration in items(spec, "tolerations"):
        conform(toleration, ORDER["Toleration"])
    conform(spec, ORDER["PodSpec"])


def _service_account_alias(spec: Obj) -> None:
    """v1 conversion keeps the deprecated `serviceAccount` and `serviceAccountName` in step."""
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]


def _pod_only(spec: Obj) -> None:
    """SetDefaults_Pod: what a Pod gets but a template does not."""
    for key in ("containers", "initContainers"):
        for container in items(spec, key):
            resources = struct(container, "resources")
            limits = child(resources, "limits") if resources is not None else None
            if resources is None or not limits:
                continue
            requests = child(resources, "requests")
            if requests is None:
                requests = resources["requests"] = {}
            for name, value in limits.items():
                requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for container in items(spec, key):
                for port in items(container, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def _default_container(container: Obj) -> None:
    """SetDefaults_Container plus the generated defaulters for ports, env, probes, hooks."""
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = _pull_policy(container.get("image"))
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = "/dev/termination-log"
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    for port in items(container, "ports"):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        conform(port, ORDER["ContainerPort"])
    for env in items(container, "env"):
        value_from = child(env, "valueFrom")
        field_ref = child(value_from, "fieldRef") if value_from is not None else None
        if field_ref is not None:
            _default_field_ref(field_ref)
    resources = struct(container, "resources")
    if resources is not None:
        canonical_resource_list(resources.get("limits"))
        canonical_resource_list(resources.get("requests"))
        conform(resources, ORDER["ResourceRequirements"])
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = child(container, key)
        if probe is not None:
            _default_probe(probe)
    lifecycle = child(container, "lifecycle")
    if lifecycle is not None:
        for hook_name in ("postStart", "preStop"):
            hook = child(lifecycle, hook_name)
            http_get = child(hook, "httpGet") if hook is not None else None
            if http_get is not None:
                _default_http_get(http_get)
    conform(container, ORDER["Container"])


def _pull_policy(image: Any) -> str:
    """Always for `:latest` or an untagged image (ParseImageName defaults the tag to latest),
    IfNotPresent otherwise. A digest without a tag, or a name that does not parse as an image
    reference (empty, upper case in the path), gets no tag and so IfNotPresent.
    """
    if not isinstance(image, str) or not image:
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    first, sep, rest = name.partition("/")
    path = rest if sep and ("." in first or ":" in first or first == "localhost") else name
    if path != path.lower():
        return "IfNotPresent"
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag:
        return "IfNotPresent" if digest else "Always"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_probe(probe: Obj) -> None:
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key):
            probe[key] = value
    http_get = child(probe, "httpGet")
    if http_get is not None:
        _default_http_get(http_get)
    conform(probe, ORDER["Probe"])


def _default_http_get(action: Obj) -> None:
    if not action.get("path"):
        action["path"] = "/"
    if not action.get("scheme"):
        action["scheme"] = "HTTP"
    conform(action, ORDER["HTTPGetAction"])


def _default_field_ref(selector: Obj) -> None:
    if not selector.get("apiVersion"):
        selector["apiVersion"] = "v1"
    conform(selector, ORDER["ObjectFieldSelector"])


def _default_mode(source: Obj, order: str) -> None:
    if source.get("defaultMode") is None:
        source["defaultMode"] = _DEFAULT_MODE
    conform(source, ORDER[order])


def _default_volume(volume: Obj) -> None:
    """SetDefaults_Volume and the per-source defaulters."""
    if all(key == "name" or volume[key] is None for key in volume):
        volume["emptyDir"] = {}
    default_volume_sources(volume, _VOLUME_SOURCE_DEFAULTS)
    conform(volume, ORDER["Volume"])


def default_volume_sources(volume: Obj, defaulters: dict[str, Any]) -> None:
    """Run the defaulter of each volume source present (pod volumes and PV sources alike)."""
    for key, default in defaulters.items():
        source = child(volume, key)
        if source is not None:
            default(source)


def _default_image_volume(source: Obj) -> None:
    if not source.get("pullPolicy"):
        source["pullPolicy"] = _pull_policy(source.get("reference"))
    conform(source, ORDER["ImageVolumeSource"])


def _default_host_path(source: Obj) -> None:
    if source.get("type") is None:
        source["type"] = ""
    conform(source, ORDER["HostPathVolumeSource"])


def _default_downward_api(source: Obj) -> None:
    _default_mode(source, "DownwardAPIVolumeSource")
    for item in items(source, "items"):
        field_ref = child(item, "fieldRef")
        if field_ref is not None:
            _default_field_ref(field_ref)


def _default_projected(source: Obj) -> None:
    _default_mode(source, "ProjectedVolumeSource")
    for projection in items(source, "sources"):
        downward = child(projection, "downwardAPI")
        if downward is not None:
            for item in items(downward, "items"):
                field_ref = child(item, "fieldRef")
                if field_ref is not None:
                    _default_field_ref(field_ref)
        token = child(projection, "serviceAccountToken")
        if token is not None:
            if token.get("expirationSeconds") is None:
                token["expirationSeconds"] = _TOKEN_EXPIRATION
            conform(token, ORDER["ServiceAccountTokenProjection"])


def _fill(source: Obj, order: str, values: dict[str, Any]) -> None:
    """Set each empty field to its default, then put the keys in Go order."""
    for key, value in values.items():
        if source.get(key) in (None, ""):
            source[key] = value
    conform(source, ORDER[order])


def _default_empty_dir(source: Obj) -> None:
    if "sizeLimit" in source:
        source["sizeLimit"] = canonical_quantity(source["sizeLimit"])


def _default_ephemeral(source: Obj) -> None:
    template = child(source, "volumeClaimTemplate")
    spec = struct(template, "spec") if template is not None else None
    if spec is not None:
        default_pvc_spec(spec)


def default_pvc_spec(spec: Obj) -> None:
    """SetDefaults_PersistentVolumeClaimSpec, plus the resources struct and its quantities."""
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources = struct(spec, "resources")
    if resources is not None:
        canonical_resource_list(resources.get("limits"))
        canonical_resource_list(resources.get("requests"))
        conform(resources, ORDER["ResourceRequirements"])
    conform(spec, ORDER["PersistentVolumeClaimSpec"])


_VOLUME_SOURCE_DEFAULTS: dict[str, Any] = {
    "hostPath": _default_host_path,
    "emptyDir": _default_empty_dir,
    "secret": lambda s: _default_mode(s, "SecretVolumeSource"),
    "configMap": lambda s: _default_mode(s, "ConfigMapVolumeSource"),
    "downwardAPI": _default_downward_api,
    "projected": _default_projected,
    "iscsi": lambda s: _fill(s, "ISCSIVolumeSource", {"iscsiInterface": "default"}),
    "rbd": lambda s: _fill(
        s, "RBDVolumeSource", {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}
    ),
    "azureDisk": lambda s: _fill(
        s,
        "AzureDiskVolumeSource",
        {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"},
    ),
    "scaleIO": lambda s: _fill(
        s, "ScaleIOVolumeSource", {"storageMode": "ThinProvisioned", "fsType": "xfs"}
    ),
    "ephemeral": _default_ephemeral,
    "image": _default_image_volume,
}
_PV_SOURCES_WITH_DEFAULTS = ("hostPath", "rbd", "iscsi", "azureDisk", "scaleIO")
PV_SOURCE_DEFAULTS = {key: _VOLUME_SOURCE_DEFAULTS[key] for key in _PV_SOURCES_WITH_DEFAULTS}


# --- QoS ---------------------------------------------------------------------------------
def qos_class(spec: Obj) -> str:
    """The pod's QoS class (ComputePodQOS): from pod-level resources when set, else from the
    containers and init containers. Only cpu and memory count; zero quantities are ignored."""
    pod_resources = child(spec, "resources")
    if pod_resources is not None and (pod_resources.get("requests") or pod_resources.get("limits")):
        resource_sets = [pod_resources]
    else:
        resource_sets = [
            child(c, "resources") or {}
            for key in ("containers", "initContainers")
            for c in items(spec, key)
        ]
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for resources in resource_sets:
        _add_positive(requests, resources.get("requests"))
        if not {"cpu", "memory"} <= _add_positive(limits, resources.get("limits")):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _add_positive(total: dict[str, Fraction], resources: Any) -> set[str]:
    """Add the positive cpu/memory quantities of a resource list; return the names seen."""
    found: set[str] = set()
    if not isinstance(resources, dict):
        return found
    for name in ("cpu", "memory"):
        parsed = parse(resources.get(name)) if name in resources else None
        if parsed is not None and parsed[0] > 0:
            found.add(name)
            total[name] = total.get(name, Fraction(0)) + parsed[0]
    return found


# --- admission -----------------------------------------------------------------------------
def pod_admission_defaults(obj: Obj, *, priority_class: Obj | None = None) -> None:
    """What kube-apiserver's default mutating admission adds to a new pod without reading
    other objects: ServiceAccount (the `default` account's name), DefaultTolerationSeconds and
    Priority.

    `priority_class` is the PriorityClass named by spec.priorityClassName (or the global
    default class when none is named), looked up by the caller; without it a pod naming no
    class gets priority 0, a system class its fixed value, and any other class is left alone.
    """
    spec = child(obj, "spec")
    if spec is None:
        return
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = "default"
    _service_account_alias(spec)
    _default_tolerations(spec)
    _default_priority(spec, priority_class)
    conform(spec, ORDER["PodSpec"])


def _default_tolerations(spec: Obj) -> None:
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return
    for taint in _NODE_TAINTS:
        if not any(_tolerates_no_execute(t, taint) for t in tolerations if isinstance(t, dict)):
            tolerations.append(
                {
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": _DEFAULT_TOLERATION_SECONDS,
                }
            )
    if tolerations:
        spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: Obj, taint: str) -> bool:
    return toleration.get("key", "") in ("", taint) and toleration.get("effect", "") in (
        "",
        "NoExecute",
    )


def _default_priority(spec: Obj, priority_class: Obj | None) -> None:
    if spec.get("priority") is not None:
        return
    name = spec.get("priorityClassName") or ""
    if priority_class is not None:
        spec["priority"] = priority_class.get("value", 0)
        policy = priority_class.get("preemptionPolicy") or "PreemptLowerPriority"
        if not name and priority_class.get("metadata", {}).get("name"):
            spec["priorityClassName"] = priority_class["metadata"]["name"]
    elif not name:
        spec["priority"], policy = 0, "PreemptLowerPriority"
    elif name in _SYSTEM_PRIORITIES:
        spec["priority"], policy = _SYSTEM_PRIORITIES[name], "PreemptLowerPriority"
    else:
        return
    if spec.get("preemptionPolicy") is None:
        spec["preemptionPolicy"] = policy
