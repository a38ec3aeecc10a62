"""Cell printers for kinds outside core/v1 (`printers.go` in kube-apiserver).

Same contract as `_core`: object and request time in, every column's cell out (wide included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from strom.registry import hpa_v1
from strom.registry.tables._core import Printer
from strom.registry.tables._format import (
    age,
    age_of,
    as_dict,
    as_list,
    format_labels,
    format_selector,
    human_duration,
    join_containers,
    meta_of,
    name_of,
    parse_time,
    selector_string,
    since,
)

__all__ = ["GROUP_PRINTERS"]


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(obj.get("spec"))


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(obj.get("status"))


def _template_containers(spec: Mapping[str, Any]) -> tuple[str, str]:
    return join_containers(as_dict(as_dict(spec.get("template")).get("spec")).get("containers"))


def _replica_set(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _template_containers(spec)
    return [
        name_of(obj),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age_of(obj, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _daemon_set(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _template_containers(spec)
    template_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    return [
        name_of(obj),
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        format_labels(template_spec.get("nodeSelector")),
        age_of(obj, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _deployment(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _template_containers(spec)
    selector = selector_string(spec.get("selector"))
    return [
        name_of(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age_of(obj, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def _stateful_set(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _template_containers(spec)
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [name_of(obj), ready, age_of(obj, now), names, images]


def _controller_revision(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    controller = "<none>"
    for ref in map(as_dict, as_list(meta_of(obj).get("ownerReferences"))):
        if ref.get("controller") is True:
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", ""))
            qualified = f"{kind}.{group}" if group else kind
            controller = f"{qualified.lower()}/{ref.get('name', '')}"
            if not kind and not group:
                controller = str(ref.get("name", ""))
            break
    return [name_of(obj), controller, obj.get("revision", 0), age_of(obj, now)]


def _job_condition(status: Mapping[str, Any], kind: str) -> bool:
    for condition in map(as_dict, as_list(status.get("conditions"))):
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def _job_status(obj: Mapping[str, Any]) -> str:
    status = _status(obj)
    if _job_condition(status, "Complete"):
        return "Complete"
    if _job_condition(status, "Failed"):
        return "Failed"
    if meta_of(obj).get("deletionTimestamp") is not None:
        return "Terminating"
    if _job_condition(status, "Suspended"):
        return "Suspended"
    if _job_condition(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started = parse_time(status.get("startTime"))
    finished = parse_time(status.get("completionTime"))
    duration = ""
    if started is not None:
        duration = since(started, finished if finished is not None else now)
    names, images = _template_containers(spec)
    return [
        name_of(obj),
        _job_status(obj),
        completions,
        duration,
        age_of(obj, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _bool_or_unset(value: Any) -> str:
    """`printBoolPtr`."""
    if value is None:
        return "<unset>"
    return "True" if value is True else "False"


def _cron_job(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    names, images = _template_containers(job_spec)
    last = "<none>"
    if status.get("lastScheduleTime") is not None:
        last = age(status.get("lastScheduleTime"), now)
    return [
        name_of(obj),
        spec.get("schedule", ""),
        spec.get("timeZone") if spec.get("timeZone") is not None else "<none>",
        _bool_or_unset(spec.get("suspend")),
        len(as_list(status.get("active"))),
        last,
        age_of(obj, now),
        names,
        images,
        format_selector(job_spec.get("selector")),
    ]


def _hpa(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    if "metrics" not in _spec(obj) and (
        obj.get("apiVersion") == "autoscaling/v1"
        or "targetCPUUtilizationPercentage" in _spec(obj)
    ):
        obj = hpa_v1.to_v2(dict(obj))  # a v1 object prints as kube's internal one
    spec, status = _spec(obj), _status(obj)
    target = as_dict(spec.get("scaleTargetRef"))
    min_pods = spec.get("minReplicas")
    return [
        name_of(obj),
        f"{target.get('kind', '')}/{target.get('name', '')}",
        _hpa_metrics(as_list(spec.get("metrics")), as_list(status.get("currentMetrics"))),
        "<unset>" if min_pods is None else str(min_pods),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        age_of(obj, now),
    ]


def _hpa_metrics(specs: Sequence[Any], statuses: Sequence[Any]) -> str:
    """`formatHPAMetrics`, for the Resource metric type; other types print their targets."""
    if not specs:
        return "<none>"
    shown: list[str] = []
    for index, metric in enumerate(map(as_dict, specs)):
        current = as_dict(statuses[index]) if index < len(statuses) else {}
        shown.append(_hpa_metric(metric, current))
    limit = 2
    if len(shown) > limit:
        return f"{', '.join(shown[:limit])} + {len(shown) - limit} more..."
    return ", ".join(shown)


def _hpa_metric(metric: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    kind = str(metric.get("type", ""))
    field = {
        "Resource": "resource",
        "ContainerResource": "containerResource",
        "Pods": "pods",
        "Object": "object",
        "External": "external",
    }.get(kind)
    if field is None:
        return "<unknown type>"
    source, observed = (
        as_dict(metric.get(field)),
        as_dict(as_dict(current.get(field)).get("current")),
    )
    wanted = as_dict(source.get("target"))
    has_status = current.get(field) is not None
    if kind in ("Resource", "ContainerResource"):
        name = source.get("name", "")
        if wanted.get("averageValue") is not None:
            now_value = observed.get("averageValue") if has_status else None
            return f"{name}: {now_value or '<unknown>'}/{wanted['averageValue']}"
        utilization = observed.get("averageUtilization") if has_status else None
        now_text = "<unknown>" if utilization is None else f"{utilization}%"
        goal = wanted.get("averageUtilization")
        return f"{name}: {now_text}/{'<auto>' if goal is None else f'{goal}%'}"
    if kind == "Pods":
        return f"{observed.get('averageValue') or '<unknown>'}/{wanted.get('averageValue', '')}"
    if wanted.get("averageValue") is not None:
        return f"{observed.get('averageValue') or '<unknown>'}/{wanted['averageValue']} (avg)"
    return f"{observed.get('value') or '<unknown>'}/{wanted.get('value', '')}"


def _pdb(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        name_of(obj),
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        _status(obj).get("disruptionsAllowed", 0),
        age_of(obj, now),
    ]


def _ingress(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    hosts_text = _ingress_hosts([as_dict(r) for r in as_list(spec.get("rules"))])
    addresses = set()
    for entry in map(as_dict, as_list(as_dict(_status(obj).get("loadBalancer")).get("ingress"))):
        if entry.get("ip"):
            addresses.add(str(entry["ip"]))
        elif entry.get("hostname"):
            addresses.add(str(entry["hostname"]))
    class_name = spec.get("ingressClassName")
    return [
        name_of(obj),
        "<none>" if class_name is None else class_name,
        hosts_text,
        ",".join(sorted(addresses)),  # rendered wide, so never clipped
        "80, 443" if as_list(spec.get("tls")) else "80",
        age_of(obj, now),
    ]


def _ingress_hosts(rules: list[Mapping[str, Any]]) -> str:
    """`formatHosts`: "more" is only noticed on a rule met after the third host."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


def _ingress_class(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    parameters = "<none>"
    if spec.get("parameters") is not None:
        params = as_dict(spec["parameters"])
        parameters = str(params.get("kind", ""))
        if params.get("apiGroup") is not None:
            parameters += "." + str(params["apiGroup"])
        parameters += "/" + str(params.get("name", ""))
    return [name_of(obj), spec.get("controller", ""), parameters, age_of(obj, now)]


def _network_policy(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    selector = _spec(obj).get("podSelector")
    return [
        name_of(obj),
        format_selector(selector if selector is not None else {}),
        age_of(obj, now),
    ]


def _binding(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    ref = as_dict(obj.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in map(as_dict, as_list(obj.get("subjects"))):
        match subject.get("kind"):
            case "ServiceAccount":
                accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
            case "User":
                users.append(str(subject.get("name", "")))
            case "Group":
                groups.append(str(subject.get("name", "")))
    return [
        name_of(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age_of(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _lease(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), _spec(obj).get("holderIdentity") or "", age_of(obj, now)]


def _priority_class(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [
        name_of(obj),
        obj.get("value", 0),
        obj.get("globalDefault", False) is True,
        age_of(obj, now),
        obj.get("preemptionPolicy") or "",
    ]


def _runtime_class(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), obj.get("handler", ""), age_of(obj, now)]


def _more(shown: list[str], count: int, limit: int = 3) -> str:
    """`listWithMoreString`."""
    if count > limit:
        return f"{','.join(shown[:limit])} + {count - limit} more..."
    return ",".join(shown) or "<unset>"


def _endpoint_slice(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    ports: list[str] = []
    for port in map(as_dict, as_list(obj.get("ports"))):
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        else:
            ports.append(str(port["name"]) if port.get("name") is not None else "*")
    addresses = [
        str(address)
        for endpoint in map(as_dict, as_list(obj.get("endpoints")))
        for address in as_list(endpoint.get("addresses"))
    ]
    return [
        name_of(obj),
        obj.get("addressType", ""),
        _more(ports, len(ports)),
        _more(addresses, len(addresses)),
        age_of(obj, now),
    ]


def _is_default_class(obj: Mapping[str, Any]) -> bool:
    annotations = as_dict(meta_of(obj).get("annotations"))
    return any(
        annotations.get(f"storageclass.{beta}kubernetes.io/is-default-class") == "true"
        for beta in ("", "beta.")
    )


def _storage_class(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    name = str(name_of(obj)) + (" (default)" if _is_default_class(obj) else "")
    return [
        name,
        obj.get("provisioner", ""),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        obj.get("allowVolumeExpansion") is True,
        age_of(obj, now),
    ]


def _volume_attachment(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    return [
        name_of(obj),
        spec.get("attacher", ""),
        as_dict(spec.get("source")).get("persistentVolumeName") or "",
        spec.get("nodeName", ""),
        _status(obj).get("attached", False) is True,
        age_of(obj, now),
    ]


def _csi_node(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), len(as_list(_spec(obj).get("drivers"))), age_of(obj, now)]


def _csi_driver(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _spec(obj)
    tokens = spec.get("tokenRequests")
    token_text = "<unset>"
    if tokens is not None:
        token_text = ",".join(str(as_dict(t).get("audience", "")) for t in as_list(tokens))
    modes = ",".join(str(m) for m in as_list(spec.get("volumeLifecycleModes")))
    return [
        name_of(obj),
        spec.get("attachRequired") is not False,  # defaults to true
        spec.get("podInfoOnMount") is True,
        spec.get("storageCapacity") is True,
        token_text,
        spec.get("requiresRepublish") is True,
        modes or "<none>",
        age_of(obj, now),
    ]


def _csr(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printCertificateSigningRequest (extractCSRStatus for the condition)."""
    spec = as_dict(obj.get("spec"))
    status = as_dict(obj.get("status"))
    kinds = {as_dict(c).get("type") for c in as_list(status.get("conditions"))}
    condition = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        condition += ",Failed"
    if status.get("certificate"):
        condition += ",Issued"
    seconds = spec.get("expirationSeconds")
    duration = human_duration(int(seconds) * 10**9) if isinstance(seconds, int) else "<none>"
    return [
        name_of(obj),
        age_of(obj, now),
        spec.get("signerName") or "<none>",
        spec.get("username", ""),
        duration,
        condition,
    ]


def _csi_storage_capacity(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    del now
    return [name_of(obj), obj.get("storageClassName", ""), obj.get("capacity") or "<unset>"]


def _volume_attributes_class(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [name_of(obj), obj.get("driverName", ""), age_of(obj, now)]


GROUP_PRINTERS: dict[tuple[str, str], Printer] = {
    ("certificates.k8s.io", "CertificateSigningRequest"): _csr,
    ("storage.k8s.io", "CSIStorageCapacity"): _csi_storage_capacity,
    ("storage.k8s.io", "VolumeAttributesClass"): _volume_attributes_class,
    ("apps", "ReplicaSet"): _replica_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "ControllerRevision"): _controller_revision,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("policy", "PodDisruptionBudget"): _pdb,
    ("networking.k8s.io", "Ingress"): _ingress,
    ("networking.k8s.io", "IngressClass"): _ingress_class,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
    ("coordination.k8s.io", "Lease"): _lease,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
    ("node.k8s.io", "RuntimeClass"): _runtime_class,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    ("storage.k8s.io", "StorageClass"): _storage_class,
    ("storage.k8s.io", "VolumeAttachment"): _volume_attachment,
    ("storage.k8s.io", "CSINode"): _csi_node,
    ("storage.k8s.io", "CSIDriver"): _csi_driver,
}
"""Printers by (group, kind)."""
