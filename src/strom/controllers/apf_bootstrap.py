"""kube-apiserver's API Priority and Fairness bootstrap configuration, ensured at start-up.

kube's flowcontrol storage has a post-start hook (`priority-and-fairness-config-producer`)
that creates the mandatory FlowSchemas and PriorityLevelConfigurations (`exempt`, `catch-all`)
and the suggested ones (`system`, `workload-high`, `global-default`, ...), annotated
`apf.kubernetes.io/autoupdate-spec: "true"`, and keeps their spec current unless a user set
that annotation to "false". The hook runs whether or not request queuing is enabled; strom
serves the API as a kube-apiserver with `--enable-priority-and-fairness=false` does: the
objects are there to read and edit, and requests are limited by `--max-requests-inflight`.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from strom.errors import StatusError
from strom.registry.defaults import apply_defaults
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import Registry, WriteOptions

__all__ = ["AUTOUPDATE_ANNOTATION", "bootstrap_objects", "ensure_apf_bootstrap"]

log = logging.getLogger(__name__)

AUTOUPDATE_ANNOTATION = "apf.kubernetes.io/autoupdate-spec"
_FLOW = "flowcontrol.apiserver.k8s.io"
FLOW_SCHEMAS = next(t for t in BUILTIN if t.group == _FLOW and t.kind == "FlowSchema")
PRIORITY_LEVELS = next(
    t for t in BUILTIN if t.group == _FLOW and t.kind == "PriorityLevelConfiguration"
)
_ATTEMPTS = 5
_OPTS = WriteOptions(field_validation="Ignore")
_ALL = ["*"]


def _level(name: str, shares: int, lendable: int, queuing: tuple[int, int, int] | None) -> Any:
    if queuing is None:
        response: dict[str, Any] = {"type": "Reject"}
    else:
        queues, hand, length = queuing
        response = {
            "type": "Queue",
            "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": length},
        }
    limited = {"nominalConcurrencyShares": shares, "limitResponse": response}
    limited["lendablePercent"] = lendable
    return name, {"type": "Limited", "limited": limited}


def _groups(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_accounts(*names: str) -> list[dict[str, Any]]:
    return [
        {"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}}
        for n in names
    ]


def _resources(
    verbs: list[str], groups: list[str], resources: list[str], namespaces: list[str], cluster: bool
) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if cluster:
        rule["clusterScope"] = True
    rule["namespaces"] = namespaces
    return rule


_EVERYTHING = {
    "resourceRules": [_resources(_ALL, _ALL, _ALL, _ALL, True)],
    "nonResourceRules": [{"verbs": _ALL, "nonResourceURLs": _ALL}],
}
_LEADER_ELECTION_VERBS = ["get", "create", "update"]


def _schema(
    name: str, level: str, precedence: int, method: str, rules: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    spec: dict[str, Any] = {
        "priorityLevelConfiguration": {"name": level},
        "matchingPrecedence": precedence,
    }
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = [rules]
    return name, spec


def _everything_for(subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"subjects": subjects, **copy.deepcopy(_EVERYTHING)}


_LEVELS = [
    ("exempt", {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
    _level("catch-all", 5, 0, None),
    _level("system", 30, 33, (64, 6, 50)),
    _level("node-high", 40, 25, (64, 6, 50)),
    _level("leader-election", 10, 0, (16, 4, 50)),
    _level("workload-high", 40, 50, (128, 6, 50)),
    _level("workload-low", 100, 90, (128, 6, 50)),
    _level("global-default", 20, 50, (128, 6, 50)),
]
_SCHEMAS = [
    _schema("exempt", "exempt", 1, "", _everything_for(_groups("system:masters"))),
    _schema(
        "catch-all",
        "catch-all",
        10000,
        "ByUser",
        _everything_for(_groups("system:unauthenticated", "system:authenticated")),
    ),
    _schema("system-nodes", "system", 500, "ByUser", _everything_for(_groups("system:nodes"))),
    _schema(
        "system-node-high",
        "node-high",
        400,
        "ByUser",
        {
            "subjects": _groups("system:nodes"),
            "resourceRules": [
                _resources(_ALL, [""], ["nodes", "nodes/status"], _ALL, True),
                _resources(_ALL, ["coordination.k8s.io"], ["leases"], _ALL, False),
            ],
        },
    ),
    _schema(
        "probes",
        "exempt",
        2,
        "",
        {
            "subjects": _groups("system:unauthenticated", "system:authenticated"),
            "nonResourceRules": [
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}
            ],
        },
    ),
    _schema(
        "system-leader-election",
        "leader-election",
        100,
        "ByUser",
        {
            "subjects": _users("system:kube-controller-manager", "system:kube-scheduler")
            + _kube_system_accounts("*"),
            "resourceRules": [
                _resources(
                    _LEADER_ELECTION_VERBS,
                    [""],
                    ["endpoints", "configmaps"],
                    ["kube-system"],
                    False,
                ),
                _resources(
                    _LEADER_ELECTION_VERBS, ["coordination.k8s.io"], ["leases"], _ALL, False
                ),
            ],
        },
    ),
    _schema(
        "endpoint-controller",
        "workload-high",
        150,
        "ByUser",
        {
            "subjects": _users("system:kube-controller-manager")
            + _kube_system_accounts("endpoint-controller", "endpointslicemirroring-controller"),
            "resourceRules": [
                _resources(["get", "create", "update"], [""], ["endpoints"], _ALL, False)
            ],
        },
    ),
    _schema(
        "workload-leader-election",
        "leader-election",
        200,
        "ByUser",
        {
            "subjects": _kube_system_accounts("*"),
            "resourceRules": [
                _resources(_LEADER_ELECTION_VERBS, [""], ["endpoints", "configmaps"], _ALL, False),
                _resources(
                    _LEADER_ELECTION_VERBS, ["coordination.k8s.io"], ["leases"], _ALL, False
                ),
            ],
        },
    ),
    _schema(
        "kube-controller-manager",
        "workload-high",
        800,
        "ByNamespace",
        _everything_for(_users("system:kube-controller-manager")),
    ),
    _schema(
        "kube-scheduler",
        "workload-high",
        800,
        "ByNamespace",
        _everything_for(_users("system:kube-scheduler")),
    ),
    _schema(
        "kube-system-service-accounts",
        "workload-high",
        900,
        "ByNamespace",
        _everything_for(_kube_system_accounts("*")),
    ),
    _schema(
        "service-accounts",
        "workload-low",
        9000,
        "ByUser",
        _everything_for(_groups("system:serviceaccounts")),
    ),
    _schema(
        "global-default",
        "global-default",
        9900,
        "ByUser",
        _everything_for(_groups("system:unauthenticated", "system:authenticated")),
    ),
]


def bootstrap_objects() -> list[tuple[ResourceType, dict[str, Any]]]:
    """Every bootstrap object, priority levels first (the schemas refer to them)."""
    out = []
    for rt, entries in ((PRIORITY_LEVELS, _LEVELS), (FLOW_SCHEMAS, _SCHEMAS)):
        for name, spec in entries:
            meta = {"name": name, "annotations": {AUTOUPDATE_ANNOTATION: "true"}}
            out.append((rt, {"metadata": meta, "spec": copy.deepcopy(spec)}))
    return out


_MANDATORY = ("exempt", "catch-all")


def _auto_updated(name: str, meta: dict[str, Any]) -> bool:
    """kube's rule: the annotation decides; without it, a mandatory object is kept current
    and a suggested one only while nobody changed its spec (generation 1)."""
    value = (meta.get("annotations") or {}).get(AUTOUPDATE_ANNOTATION)
    if value is not None:
        return bool(value == "true")
    return name in _MANDATORY or meta.get("generation") == 1


async def ensure_apf_bootstrap(registry: Registry) -> int:
    """Create missing bootstrap objects and bring auto-updated ones up to date; returns how
    many were written. Another replica writing at the same time is looked at again."""
    written = 0
    for rt, expected in bootstrap_objects():
        written += await _ensure_one(registry, rt, expected)
    return written


async def _ensure_one(registry: Registry, rt: ResourceType, expected: dict[str, Any]) -> int:
    name = expected["metadata"]["name"]
    for _ in range(_ATTEMPTS):
        entry = registry.lookup(rt, "", name)
        try:
            if entry is None:
                await registry.create(rt, "", copy.deepcopy(expected), _OPTS)
                return 1
            current = registry.render_obj(rt, entry.obj)
            annotations = current["metadata"].get("annotations") or {}
            if not _auto_updated(name, current["metadata"]):
                return 0  # a user took this object over
            wanted = copy.deepcopy(expected["spec"])
            probe = {"metadata": {"name": name}, "spec": copy.deepcopy(wanted)}
            apply_defaults(rt, probe)
            if current.get("spec") == probe["spec"] and AUTOUPDATE_ANNOTATION in annotations:
                return 0
            current["spec"] = wanted
            current["metadata"].setdefault("annotations", {})[AUTOUPDATE_ANNOTATION] = "true"
            await registry.update(rt, "", name, current, _OPTS)
            return 1
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise
            await registry.cache.sync()
    log.warning("flow control bootstrap: gave up ensuring %s %s", rt.kind, name)
    return 0
