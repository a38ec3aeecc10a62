"""Which fields each kind accepts in a field selector, and what each one reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from strom.gofmt import go_quote

_Extract = Callable[[Mapping[str, Any]], str]


# --- which fields each kind accepts, and what they read --------------------------------------
def _str_at(*path: str) -> _Extract:
    """A string field; anything missing or not a string reads as "" (Go's zero value)."""
    head, rest = path[0], path[1:]
    if len(rest) == 1:  # the common `section.field` shape, unrolled for the hot path
        (leaf,) = rest

        def extract_pair(obj: Mapping[str, Any]) -> str:
            section = obj.get(head)
            if section.__class__ is not dict and not isinstance(section, Mapping):
                return ""
            value = section.get(leaf)
            return value if value.__class__ is str else ""

        return extract_pair

    def extract(obj: Mapping[str, Any]) -> str:
        cur: Any = obj.get(head)
        for key in rest:
            if cur.__class__ is not dict and not isinstance(cur, Mapping):
                return ""
            cur = cur.get(key)
        return cur if isinstance(cur, str) else ""

    return extract


def _bool_at(*path: str) -> _Extract:
    """strconv.FormatBool of a bool field that defaults to false."""
    read = _raw_at(path)
    return lambda obj: "true" if read(obj) is True else "false"


def _int_at(*path: str) -> _Extract:
    """strconv.Itoa of an int32 field that defaults to 0."""
    read = _raw_at(path)

    def extract(obj: Mapping[str, Any]) -> str:
        value = read(obj)
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"

    return extract


def _raw_at(path: Sequence[str]) -> Callable[[Mapping[str, Any]], Any]:
    def read(obj: Mapping[str, Any]) -> Any:
        cur: Any = obj
        for key in path:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(key)
        return cur

    return read


def _first(*extractors: _Extract) -> _Extract:
    """The first non-empty of several spellings (core/v1 vs events.k8s.io/v1 Event fields)."""
    return lambda obj: next((v for e in extractors if (v := e(obj))), "")


def _pod_ip(obj: Mapping[str, Any]) -> str:
    """PodToSelectableFields reads status.podIPs[0].ip (v1 podIP fills it when podIPs is empty)."""
    status = obj.get("status")
    if not isinstance(status, Mapping):
        return ""
    ips = status.get("podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], Mapping):
        first = ips[0].get("ip")
        return first if isinstance(first, str) else ""
    single = status.get("podIP")
    return single if isinstance(single, str) else ""


_META: dict[str, _Extract] = {
    "metadata.name": _str_at("metadata", "name"),
    "metadata.namespace": _str_at("metadata", "namespace"),
}
_REPORTER = _first(_str_at("reportingComponent"), _str_at("reportingController"))
_EVENT: dict[str, _Extract] = {
    **{
        f"involvedObject.{f}": _first(_str_at("involvedObject", f), _str_at("regarding", f))
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _str_at("reason"),
    "reportingComponent": _REPORTER,
    # core.Event's Source.Component, else its ReportingController (pkg/apis/core/selection.go)
    "source": _first(
        _str_at("source", "component"), _str_at("deprecatedSource", "component"), _REPORTER
    ),
    "type": _str_at("type"),
}


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _not_known(label: str) -> str:
    """runtime.DefaultMetaV1FieldSelectorConversion: kinds with no conversion func of their own."""
    return (
        f'{go_quote(label)} is not a known field selector: only "metadata.name", '
        '"metadata.namespace"'
    )


class _Rules:
    __slots__ = ("accepted", "extractors", "reject")

    def __init__(
        self,
        labels: Sequence[str],
        extractors: Mapping[str, _Extract],
        *,
        aliases: Mapping[str, str] | None = None,
        reject: Callable[[str], str] = _not_supported,
    ) -> None:
        self.accepted: dict[str, str] = {label: label for label in labels} | dict(aliases or {})
        self.extractors: dict[str, _Extract] = {**_META, **extractors}
        self.reject = reject


_NAME, _NS = "metadata.name", "metadata.namespace"
_DEFAULT_RULES = _Rules((_NAME, _NS), {}, reject=_not_known)
# (group, kind) -> rules, transcribed from kubernetes v1.36 pkg/apis/core/v1/conversion.go,
# pkg/apis/events/v1/conversion.go, pkg/apis/batch/v1/conversion.go,
# pkg/apis/certificates/v1/conversion.go and pkg/apis/resource/v1/conversion.go. apps/v1
# registers none, so ReplicaSet's `status.replicas` is refused upstream (kubernetes#135136).
_BUILTIN_RULES: dict[tuple[str, str], _Rules] = {
    ("", "Pod"): _Rules(
        (
            _NAME,
            _NS,
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ),
        {
            "spec.nodeName": _str_at("spec", "nodeName"),
            "spec.restartPolicy": _str_at("spec", "restartPolicy"),
            "spec.schedulerName": _str_at("spec", "schedulerName"),
            "spec.serviceAccountName": _str_at("spec", "serviceAccountName"),
            "spec.hostNetwork": _bool_at("spec", "hostNetwork"),
            "status.phase": _str_at("status", "phase"),
            "status.podIP": _pod_ip,
            # status.podIPs is accepted but PodToSelectableFields never sets it: always ""
            "status.nominatedNodeName": _str_at("status", "nominatedNodeName"),
        },
        aliases={"spec.host": "spec.nodeName"},  # old v1 clients
    ),
    ("", "Node"): _Rules(
        (_NAME, "spec.unschedulable"), {"spec.unschedulable": _bool_at("spec", "unschedulable")}
    ),
    ("", "ReplicationController"): _Rules(
        (_NAME, _NS, "status.replicas"), {"status.replicas": _int_at("status", "replicas")}
    ),
    ("", "Event"): _Rules((*_EVENT, _NS, _NAME), _EVENT),
    ("", "Namespace"): _Rules(
        ("status.phase", _NAME), {"status.phase": _str_at("status", "phase")}
    ),
    ("", "Secret"): _Rules(("type", _NS, _NAME), {"type": _str_at("type")}),
    ("", "Service"): _Rules(
        (_NS, _NAME, "spec.clusterIP", "spec.type"),
        {"spec.clusterIP": _str_at("spec", "clusterIP"), "spec.type": _str_at("spec", "type")},
    ),
    ("events.k8s.io", "Event"): _Rules(
        ("reason", "source", "type", _NS, _NAME),
        _EVENT,
        aliases={
            **{
                f"regarding.{f}": f"involvedObject.{f}"
                for f in (
                    "kind",
                    "namespace",
                    "name",
                    "uid",
                    "apiVersion",
                    "resourceVersion",
                    "fieldPath",
                )
            },
            "reportingController": "reportingComponent",
        },
    ),
    ("batch", "Job"): _Rules(
        (_NAME, _NS, "status.successful"),
        {"status.successful": _int_at("status", "succeeded")},
        reject=lambda label: f"field label {go_quote(label)} not supported for Job",
    ),
    ("certificates.k8s.io", "CertificateSigningRequest"): _Rules(
        (_NAME, "spec.signerName"), {"spec.signerName": _str_at("spec", "signerName")}
    ),
    ("certificates.k8s.io", "ClusterTrustBundle"): _Rules(
        (_NAME, "spec.signerName"), {"spec.signerName": _str_at("spec", "signerName")}
    ),
    ("certificates.k8s.io", "PodCertificateRequest"): _Rules(
        (_NAME, "spec.signerName", "spec.podName", "spec.nodeName"),
        {f"spec.{f}": _str_at("spec", f) for f in ("signerName", "podName", "nodeName")},
    ),
}
# Groups kube-apiserver serves itself; any other group is a CustomResourceDefinition's.
_BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)


def _resource_slice_rules(version: str) -> _Rules:
    gvk = f"resource.k8s.io/{version or 'v1'}, Kind=ResourceSlice"
    return _Rules(
        (_NAME, "spec.nodeName", "spec.driver"),
        {"spec.nodeName": _str_at("spec", "nodeName"), "spec.driver": _str_at("spec", "driver")},
        reject=lambda label: f"field label not supported for {gvk}: {label}",
    )


def _rules_for(
    *, group: str, kind: str, version: str, selectable: Sequence[str], namespaced: bool
) -> _Rules:
    if group == "resource.k8s.io" and kind == "ResourceSlice":
        return _resource_slice_rules(version)
    if group in _BUILTIN_GROUPS and not selectable:
        return _BUILTIN_RULES.get((group, kind), _DEFAULT_RULES)
    return _custom_resource_rules(selectable, namespaced=namespaced)


def _custom_resource_rules(selectable: Sequence[str], *, namespaced: bool) -> _Rules:
    """apiextensions-apiserver's crConverter.ConvertFieldLabel plus the CRD's selectableFields."""
    extractors: dict[str, _Extract] = {}
    for json_path in selectable:
        label = json_path.removeprefix(".")  # the label is the jsonPath without its leading dot
        extractors[label] = _json_path_value(_json_path_keys("." + label))
    labels = (_NAME, _NS, *extractors) if namespaced else (_NAME, *extractors)
    return _Rules(labels, extractors)


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _json_path_keys(json_path: str) -> tuple[str, ...]:
    """`.spec.color` or `.metadata['a.b']` as keys; selectable paths are always this simple."""
    keys: list[str] = []
    pos = 0
    while pos < len(json_path):
        step = _PATH_STEP.match(json_path, pos)
        if step is None:
            return tuple(json_path.strip(".").split("."))
        keys.append(next(g for g in step.groups() if g is not None))
        pos = step.end()
    return tuple(keys)


def _json_path_value(keys: Sequence[str]) -> _Extract:
    """fmt.Sprint of the value at the path; missing or null reads as ""."""
    read = _raw_at(keys)

    def extract(obj: Mapping[str, Any]) -> str:
        value = read(obj)
        if value is None or isinstance(value, Mapping | list):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
        return str(value)

    return extract
