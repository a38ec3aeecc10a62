"""`pods/binding` (and the `bindings` collection) and `pods/eviction`, as kube-apiserver's
BindingREST and EvictionREST answer them.

A binding assigns an unscheduled pod to a node: `spec.nodeName`, the binding's annotations and
a `PodScheduled` condition, written straight to storage as kube's assignPod does (no
managedFields entry). An eviction deletes a pod unless a PodDisruptionBudget that selects it
has no disruption left: then 429 with the budget's cause; otherwise the budget's
`disruptionsAllowed` is decremented and the pod recorded in `disruptedPods` first (the
disruption controller, when one runs, recomputes the status).
"""

from __future__ import annotations

import copy
from typing import Any

from strom.cache.state import Entry
from strom.errors import Cause, StatusError
from strom.registry.kinds import BUILTIN
from strom.registry.meta import now_rfc3339
from strom.registry.rest import DeleteOptions, Registry
from strom.registry.validation.apps import selector_matches
from strom.registry.validation.fielderrors import not_supported, required
from strom.registry.write_options import WRITE_RETRIES
from strom.storage.base import Conflict, KeyNotFound

__all__ = ["bind_pod", "evict_pod"]

_MAX_DISRUPTED_PODS = 2000

PODS = next(t for t in BUILTIN if t.plural == "pods" and t.group == "")
PDBS = next(t for t in BUILTIN if t.plural == "poddisruptionbudgets")


def _name_of(body: dict[str, Any]) -> str:
    meta = body.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""


async def bind_pod(
    registry: Registry, namespace: str, name: str, body: dict[str, Any], *, from_pod: bool
) -> None:
    """Bind the pod `name` (from the URL of pods/NAME/binding, or the Binding's own name)."""
    if body.get("kind") not in (None, "", "Binding"):
        raise StatusError.bad_request(
            f'{body.get("kind")} in version "v1" cannot be handled as a Binding: the object'
            " provided is unrecognized (must be of type Binding)"
        )
    if from_pod and _name_of(body) != name:
        raise StatusError.bad_request("name in URL does not match name in Binding object")
    raw_target = body.get("target")
    target: dict[str, Any] = raw_target if isinstance(raw_target, dict) else {}
    causes: list[Cause] = []
    kind = str(target.get("kind") or "")
    if kind and kind != "Node":
        causes.append(not_supported("target.kind", kind, ("Node", "<empty>")))
    if not target.get("name"):
        causes.append(required("target.name"))
    if causes:
        raise StatusError.invalid("Binding", _name_of(body), causes)
    node = str(target["name"])
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    for _ in range(WRITE_RETRIES):
        current = registry.get(PODS, namespace, name)
        pod = copy.deepcopy(current.obj)
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            raise StatusError.conflict(
                "pods", name, f"pod {name} is being deleted, cannot be assigned to a host"
            )
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise StatusError.conflict(
                "pods", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"'
            )
        spec["nodeName"] = node
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        _set_scheduled(pod)
        if await _store(registry, current, pod):
            return
        await registry.cache.sync()
    raise StatusError.stale("pods", name)


def _set_scheduled(pod: dict[str, Any]) -> None:
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
    old = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
    when = old["lastTransitionTime"] if old and old.get("status") == "True" else now_rfc3339()
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": when,
        }
    )
    status["conditions"] = conditions


async def _store(registry: Registry, current: Entry, obj: dict[str, Any]) -> bool:
    """A direct storage update at the read revision; False when someone wrote first."""
    try:
        await registry.store.update(current.key, obj, expected_rev=current.rev)
    except Conflict:
        return False
    except KeyNotFound as exc:
        name = str((obj.get("metadata") or {}).get("name", ""))
        raise StatusError.not_found("pods", name) from exc
    return True


async def evict_pod(registry: Registry, namespace: str, name: str, body: dict[str, Any]) -> None:
    if body.get("kind") not in (None, "", "Eviction"):
        raise StatusError.bad_request(
            f'{body.get("kind")} in version "v1" cannot be handled as a Eviction: the object'
            " provided is unrecognized (must be of type Eviction)"
        )
    if _name_of(body) != name:
        raise StatusError.bad_request("name in URL does not match name in Eviction object")
    raw_options = body.get("deleteOptions")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    for _ in range(WRITE_RETRIES):
        pod = registry.get(PODS, namespace, name)
        if not _can_ignore_budget(pod.obj) and not await _take_disruption(
            registry, namespace, pod.obj
        ):
            await registry.cache.sync()
            continue
        pre = options.get("preconditions") or {}
        grace = options.get("gracePeriodSeconds")
        await registry.delete(
            PODS,
            namespace,
            name,
            DeleteOptions(
                grace_period_seconds=grace if isinstance(grace, int) else None,
                uid=str(pre.get("uid") or ""),
                resource_version=str(pre.get("resourceVersion") or ""),
                dry_run=bool(options.get("dryRun")),
            ),
        )
        return
    raise StatusError.stale("poddisruptionbudgets", name, group="policy")


def _can_ignore_budget(pod: dict[str, Any]) -> bool:
    """canIgnorePDB: finished, pending or already deleting pods are not disruptions."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending"):
        return True
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


async def _take_disruption(registry: Registry, namespace: str, pod: dict[str, Any]) -> bool:
    """checkAndDecrement on the one budget selecting the pod; False when the budget changed
    under us (retry), raises when the eviction is refused."""
    state = registry.cache.state(PDBS.key_prefix)
    if state is None:
        raise StatusError.service_unavailable("storage is (re)initializing")
    labels = (pod.get("metadata") or {}).get("labels") or {}
    prefix = PDBS.prefix_for(namespace)
    budgets = [
        e
        for key, e in list(state.entries.items())
        if key.startswith(prefix) and _selects(e.obj, labels)
    ]
    if not budgets:
        return True
    if len(budgets) > 1:
        raise StatusError.internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource"
            " does not support."
        )
    entry = budgets[0]
    pdb = copy.deepcopy(entry.obj)
    meta, status = pdb["metadata"], pdb.setdefault("status", {})
    pdb_name = str(meta.get("name", ""))
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        raise _refused(
            10, f"The disruption budget {pdb_name} is still being processed by the server."
        )
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise StatusError.forbidden(
            "poddisruptionbudgets", pdb_name, "pdb disruptions allowed is negative", group="policy"
        )
    disrupted = dict(status.get("disruptedPods") or {})
    if len(disrupted) > _MAX_DISRUPTED_PODS:
        raise StatusError.forbidden(
            "poddisruptionbudgets",
            pdb_name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            group="policy",
        )
    if allowed == 0:
        raise _refused(
            0,
            f"The disruption budget {pdb_name} needs {int(status.get('desiredHealthy') or 0)}"
            f" healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
        )
    status["disruptionsAllowed"] = allowed - 1
    disrupted[str((pod.get("metadata") or {}).get("name", ""))] = now_rfc3339()
    status["disruptedPods"] = disrupted
    try:
        await registry.store.update(entry.key, pdb, expected_rev=entry.rev)
    except (Conflict, KeyNotFound):
        return False
    return True


def _selects(pdb: dict[str, Any], labels: dict[str, Any]) -> bool:
    selector = (pdb.get("spec") or {}).get("selector")
    if not isinstance(selector, dict):
        return False  # a nil selector selects nothing
    return selector_matches(selector, labels)


def _refused(retry_after: int, cause: str) -> StatusError:
    """NewTooManyRequests with the DisruptionBudget cause, as the eviction handler sends it."""
    return StatusError.too_many_requests(
        retry_after,
        "Cannot evict pod as it would violate the pod's disruption budget.",
        (Cause("DisruptionBudget", cause),),
    )
