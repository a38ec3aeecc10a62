"""The pod printer: READY, STATUS and RESTARTS as `kubectl get pods` shows them.

Follows `printPod` in kube-apiserver's `pkg/printers/internalversion/printers.go` branch for
branch, since users read these cells (CrashLoopBackOff, Init:0/2, Terminating, "3 (5m ago)").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from strom.registry.tables._format import age, as_dict, as_list, parse_time, since

__all__ = ["pod_cells", "pod_conditions"]

_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_FAILED = [
    {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
]
_NODE_LOST = "NodeLost"  # node.NodeUnreachablePodReason


@dataclass(slots=True)
class _Tally:
    """What the walk over container statuses accumulates."""

    reason: str
    restarts: int = 0
    ready: int = 0
    last_restart: datetime | None = None
    sidecar_restarts: int = 0
    last_sidecar_restart: datetime | None = None


def pod_conditions(pod: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """Row conditions: terminal pods are marked Completed so clients can dim them."""
    phase = as_dict(pod.get("status")).get("phase")
    if phase == "Succeeded":
        return _SUCCEEDED
    if phase == "Failed":
        return _FAILED
    return None


def pod_cells(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    meta, spec, status = (as_dict(pod.get(k)) for k in ("metadata", "spec", "status"))
    phase = str(status.get("phase") or "")
    tally = _Tally(reason=str(status.get("reason") or phase))
    for condition in map(as_dict, as_list(status.get("conditions"))):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            tally.reason = "SchedulingGated"

    init_specs = {str(c.get("name")): c for c in map(as_dict, as_list(spec.get("initContainers")))}
    total = len(as_list(spec.get("containers")))
    total += sum(1 for c in init_specs.values() if _is_sidecar(c))

    initializing = _walk_init_containers(tally, status, init_specs, len(init_specs))
    if not initializing or _initialized(status):
        _walk_containers(tally, status)

    if meta.get("deletionTimestamp") is not None:
        if status.get("reason") == _NODE_LOST:
            tally.reason = "Unknown"
        elif phase not in ("Failed", "Succeeded"):
            tally.reason = "Terminating"

    restarts = str(tally.restarts)
    if tally.restarts != 0 and tally.last_restart is not None:
        restarts = f"{tally.restarts} ({since(tally.last_restart, now)} ago)"
    cells: list[Any] = [
        meta.get("name", ""),
        f"{tally.ready}/{total}",
        tally.reason,
        restarts,
        age(meta.get("creationTimestamp"), now),
    ]
    return cells + _wide_cells(spec, status)


def _is_sidecar(container: Mapping[str, Any] | None) -> bool:
    """`IsRestartableInitContainer`: an init container with restartPolicy Always."""
    return container is not None and container.get("restartPolicy") == "Always"


def _finished_at(container_status: Mapping[str, Any]) -> datetime | None:
    last = as_dict(container_status.get("lastState"))
    if "terminated" not in last or last.get("terminated") is None:
        return None
    return parse_time(as_dict(last["terminated"]).get("finishedAt"))


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    if current is None or current < candidate:
        return candidate
    return current


def _walk_init_containers(
    tally: _Tally,
    status: Mapping[str, Any],
    init_specs: Mapping[str, Mapping[str, Any]],
    init_count: int,
) -> bool:
    """Counts init restarts; returns whether the pod is still initializing (sets the reason)."""
    for index, cs in enumerate(map(as_dict, as_list(status.get("initContainerStatuses")))):
        restart_count = int(cs.get("restartCount") or 0)
        finished = _finished_at(cs)
        tally.restarts += restart_count
        tally.last_restart = _later(tally.last_restart, finished)
        sidecar = _is_sidecar(init_specs.get(str(cs.get("name"))))
        if sidecar:
            tally.sidecar_restarts += restart_count
            tally.last_sidecar_restart = _later(tally.last_sidecar_restart, finished)
        state = as_dict(cs.get("state"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and as_dict(terminated).get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready") is True:
                tally.ready += 1
            continue
        if terminated is not None:
            tally.reason = "Init:" + _terminated_reason(as_dict(terminated))
        elif waiting is not None and as_dict(waiting).get("reason") not in (
            None,
            "",
            "PodInitializing",
        ):
            tally.reason = "Init:" + str(as_dict(waiting)["reason"])
        else:
            tally.reason = f"Init:{index}/{init_count}"
        return True
    return False


def _terminated_reason(terminated: Mapping[str, Any]) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _initialized(status: Mapping[str, Any]) -> bool:
    for condition in map(as_dict, as_list(status.get("conditions"))):
        if condition.get("type") == "Initialized":
            return condition.get("status") == "True"
    return False


def _walk_containers(tally: _Tally, status: Mapping[str, Any]) -> None:
    """Regular containers, last to first, so the first container's state wins the reason."""
    tally.restarts = tally.sidecar_restarts
    tally.last_restart = tally.last_sidecar_restart
    has_running = False
    for cs in reversed([as_dict(c) for c in as_list(status.get("containerStatuses"))]):
        tally.restarts += int(cs.get("restartCount") or 0)
        tally.last_restart = _later(tally.last_restart, _finished_at(cs))
        state = as_dict(cs.get("state"))
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and as_dict(waiting).get("reason"):
            tally.reason = str(as_dict(waiting)["reason"])
        elif terminated is not None:
            tally.reason = _terminated_reason(as_dict(terminated))
        elif cs.get("ready") is True and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    # A container still running flips a "Completed" pod back to Running (or NotReady).
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _pod_ready(status) else "NotReady"


def _pod_ready(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in map(as_dict, as_list(status.get("conditions")))
    )


def _wide_cells(spec: Mapping[str, Any], status: Mapping[str, Any]) -> list[Any]:
    ips = [as_dict(ip) for ip in as_list(status.get("podIPs"))]
    pod_ip = str(ips[0].get("ip") or "") if ips else ""
    gates = [as_dict(g) for g in as_list(spec.get("readinessGates"))]
    readiness = "<none>"
    if gates:
        conditions = [as_dict(c) for c in as_list(status.get("conditions"))]
        satisfied = 0
        for gate in gates:
            match = next(
                (c for c in conditions if c.get("type") == gate.get("conditionType")), None
            )
            if match is not None and match.get("status") == "True":
                satisfied += 1
        readiness = f"{satisfied}/{len(gates)}"
    return [
        pod_ip or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        readiness,
    ]
