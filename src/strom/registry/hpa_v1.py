"""autoscaling/v1 HorizontalPodAutoscaler over the stored autoscaling/v2 one, as kube converts
(pkg/apis/autoscaling/v1/conversion.go).

v1 knows one metric, `targetCPUUtilizationPercentage`. Everything v2 holds beyond it travels
in annotations, JSON in v1's (v2beta1-like) metric shape: other metrics in
`autoscaling.alpha.kubernetes.io/metrics`, their statuses in `.../current-metrics`, the
conditions in `.../conditions` and `behavior` in `.../behavior`. Reading v1 writes them;
writing v1 reads them back into the v2 fields and drops them, so nothing is lost either way.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from strom.errors import StatusError

__all__ = ["from_v2", "to_v2"]

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
_Obj = dict[str, Any]
_SOURCES = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "External": "external",
}


def _some(**fields: Any) -> _Obj:
    return {k: v for k, v in fields.items() if v is not None}


def _metric_id(source: _Obj) -> _Obj:
    return _some(name=source.get("metricName", ""), selector=source.get("selector"))


# --- metric specs ----------------------------------------------------------------------------
def _spec_to_v2(metric: _Obj) -> _Obj:
    kind = metric.get("type", "")
    field = _SOURCES.get(kind)
    src = metric.get(field) if field else None
    if not isinstance(src, dict):
        return {"type": kind}
    out: _Obj
    if kind == "Object":
        value, average = src.get("targetValue"), src.get("averageValue")
        target = (
            {"type": "AverageValue", "averageValue": average}
            if average is not None
            else {"type": "Value", "value": value}
        )
        out = {
            "describedObject": src.get("target") or {},
            "target": target,
            "metric": _metric_id(src),
        }
    elif kind == "Pods":
        out = {
            "metric": _metric_id(src),
            "target": {"type": "AverageValue", "averageValue": src.get("targetAverageValue")},
        }
    elif kind in ("Resource", "ContainerResource"):
        utilization = src.get("targetAverageUtilization")
        target = (
            {"type": "Utilization", "averageUtilization": utilization}
            if utilization is not None
            else {"type": "AverageValue", "averageValue": src.get("targetAverageValue")}
        )
        out = {"name": src.get("name", ""), "target": target}
        if kind == "ContainerResource":
            out["container"] = src.get("container", "")
    else:  # External
        average = src.get("targetAverageValue")
        target = (
            {"type": "AverageValue", "averageValue": average}
            if average is not None
            else {"type": "Value", "value": src.get("targetValue")}
        )
        out = {
            "metric": _some(name=src.get("metricName", ""), selector=src.get("metricSelector")),
            "target": target,
        }
    return {"type": kind, field: out} if field else {"type": kind}


def _spec_to_v1(metric: _Obj) -> _Obj:
    kind = metric.get("type", "")
    field = _SOURCES.get(kind)
    src = metric.get(field) if field else None
    if not isinstance(src, dict):
        return {"type": kind}
    target, ident = src.get("target") or {}, src.get("metric") or {}
    out: _Obj
    if kind == "Object":
        out = _some(
            target=src.get("describedObject") or {},
            metricName=ident.get("name", ""),
            targetValue=target.get("value"),
            selector=ident.get("selector"),
            averageValue=target.get("averageValue"),
        )
        out.setdefault("targetValue", "0")
    elif kind == "Pods":
        out = _some(
            metricName=ident.get("name", ""),
            targetAverageValue=target.get("averageValue"),
            selector=ident.get("selector"),
        )
    elif kind in ("Resource", "ContainerResource"):
        out = _some(
            name=src.get("name", ""),
            targetAverageUtilization=target.get("averageUtilization"),
            targetAverageValue=target.get("averageValue"),
        )
        if kind == "ContainerResource":
            out["container"] = src.get("container", "")
    else:
        out = _some(
            metricName=ident.get("name", ""),
            metricSelector=ident.get("selector"),
            targetValue=target.get("value"),
            targetAverageValue=target.get("averageValue"),
        )
    return {"type": kind, field: out} if field else {"type": kind}


# --- metric statuses -------------------------------------------------------------------------
def _status_to_v2(metric: _Obj) -> _Obj:
    kind = metric.get("type", "")
    field = _SOURCES.get(kind)
    src = metric.get(field) if field else None
    if not isinstance(src, dict):
        return {"type": kind}
    out: _Obj
    if kind == "Object":
        out = {
            "metric": _metric_id(src),
            "current": _some(value=src.get("currentValue"), averageValue=src.get("averageValue")),
            "describedObject": src.get("target") or {},
        }
    elif kind == "Pods":
        out = {
            "metric": _metric_id(src),
            "current": _some(averageValue=src.get("currentAverageValue")),
        }
    elif kind in ("Resource", "ContainerResource"):
        out = {
            "name": src.get("name", ""),
            "current": _some(
                averageValue=src.get("currentAverageValue"),
                averageUtilization=src.get("currentAverageUtilization"),
            ),
        }
        if kind == "ContainerResource":
            out["container"] = src.get("container", "")
    else:
        out = {
            "metric": _some(name=src.get("metricName", ""), selector=src.get("metricSelector")),
            "current": _some(
                value=src.get("currentValue"), averageValue=src.get("currentAverageValue")
            ),
        }
    return {"type": kind, field: out} if field else {"type": kind}


def _status_to_v1(metric: _Obj) -> _Obj:
    kind = metric.get("type", "")
    field = _SOURCES.get(kind)
    src = metric.get(field) if field else None
    if not isinstance(src, dict):
        return {"type": kind}
    current, ident = src.get("current") or {}, src.get("metric") or {}
    out: _Obj
    if kind == "Object":
        out = _some(
            target=src.get("describedObject") or {},
            metricName=ident.get("name", ""),
            currentValue=current.get("value", "0"),
            selector=ident.get("selector"),
            averageValue=current.get("averageValue"),
        )
    elif kind == "Pods":
        out = _some(
            metricName=ident.get("name", ""),
            currentAverageValue=current.get("averageValue", "0"),
            selector=ident.get("selector"),
        )
    elif kind in ("Resource", "ContainerResource"):
        out = _some(
            name=src.get("name", ""),
            currentAverageUtilization=current.get("averageUtilization"),
            currentAverageValue=current.get("averageValue", "0"),
        )
        if kind == "ContainerResource":
            out["container"] = src.get("container", "")
    else:
        out = _some(
            metricName=ident.get("name", ""),
            metricSelector=ident.get("selector"),
            currentValue=current.get("value"),
            currentAverageValue=current.get("averageValue"),
        )
    return {"type": kind, field: out} if field else {"type": kind}


def _is_cpu_utilization(metric: Any, part: str) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource") or {}
    return bool(
        resource.get("name") == "cpu"
        and (resource.get(part) or {}).get("averageUtilization") is not None
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def from_v2(stored: _Obj) -> _Obj:
    """A stored (v2-shaped) object as autoscaling/v1 shows it; kind/apiVersion untouched."""
    obj = copy.deepcopy(stored)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    annotations: _Obj = {}
    v1_spec: _Obj = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    v1_spec.setdefault("scaleTargetRef", {})
    v1_spec.setdefault("maxReplicas", 0)
    others = []
    for metric in spec.get("metrics") or ():
        if _is_cpu_utilization(metric, "target"):
            v1_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                "averageUtilization"
            ]
        else:
            others.append(_spec_to_v1(metric))
    v1_status: _Obj = {
        k: status[k]
        for k in ("observedGeneration", "lastScaleTime", "currentReplicas")
        if k in status
    }
    v1_status.setdefault("currentReplicas", 0)
    v1_status["desiredReplicas"] = status.get("desiredReplicas", 0)
    currents = []
    for metric in status.get("currentMetrics") or ():
        if _is_cpu_utilization(metric, "current"):
            v1_status["currentCPUUtilizationPercentage"] = metric["resource"]["current"][
                "averageUtilization"
            ]
        else:
            currents.append(_status_to_v1(metric))
    if others:
        annotations[METRICS] = _json(others)
    if status.get("conditions"):
        annotations[CONDITIONS] = _json(status["conditions"])
    if currents:
        annotations[CURRENT_METRICS] = _json(currents)
    if spec.get("behavior") is not None:
        annotations[BEHAVIOR] = _json(spec["behavior"])
    if annotations:
        meta = obj.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    obj["spec"] = v1_spec
    obj["status"] = v1_status
    return obj


def _decode(annotations: _Obj, key: str, name: str) -> Any:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StatusError.bad_request(
            f"error decoding annotation {key} of HorizontalPodAutoscaler {name}: {exc}"
        ) from None


def to_v2(body: _Obj) -> _Obj:
    """An autoscaling/v1 request body in the stored (v2) shape; kind/apiVersion dropped."""
    obj = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("kind", "apiVersion")}
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    name = str(meta.get("name", "")) if isinstance(meta, dict) else ""
    if not isinstance(annotations, dict):
        annotations = {}
    others = _decode(annotations, METRICS, name)
    currents = _decode(annotations, CURRENT_METRICS, name)
    conditions = _decode(annotations, CONDITIONS, name)
    behavior = _decode(annotations, BEHAVIOR, name)
    if isinstance(meta, dict) and "annotations" in meta:
        meta["annotations"] = annotations or None
        if meta["annotations"] is None:
            del meta["annotations"]
    spec = obj.get("spec")
    if isinstance(spec, dict):
        v2_spec = {
            k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
        }
        metrics = [_spec_to_v2(m) for m in others or () if isinstance(m, dict)]
        cpu = spec.get("targetCPUUtilizationPercentage")
        if cpu is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu},
                    },
                }
            )
        if metrics:
            v2_spec["metrics"] = metrics
        if behavior is not None:
            v2_spec["behavior"] = behavior
        obj["spec"] = v2_spec
    status = obj.get("status")
    if isinstance(status, dict):
        v2_status = {
            k: status[k]
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if k in status
        }
        current = [_status_to_v2(m) for m in currents or () if isinstance(m, dict)]
        cpu_now = status.get("currentCPUUtilizationPercentage")
        if cpu_now is not None:
            current.append(
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu_now}},
                }
            )
        if current:
            v2_status["currentMetrics"] = current
        if conditions:
            v2_status["conditions"] = conditions
        obj["status"] = v2_status
    return obj
