"""Server-side printing: Table columns, cells and row objects as kube-apiserver renders them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.tables import human_duration, table_columns, table_row, to_table

NOW = datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC)
CREATED = "2026-11-25T11:59:30Z"  # 30s before NOW


def _rt(kind: str, group: str = "") -> ResourceType:
    return next(r for r in BUILTIN if r.kind == kind and r.group == group)


def _ts(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cells(kind: str, obj: dict[str, Any], group: str = "") -> list[Any]:
    row = table_row(_rt(kind, group), obj, include_object="None", now=NOW)
    cells: list[Any] = row["cells"]
    assert len(cells) == len(table_columns(_rt(kind, group)))
    return cells


def _names(kind: str, group: str = "") -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table_columns(_rt(kind, group))]


# --- AGE ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=3, seconds=2), "3m2s"),
        (timedelta(minutes=10, seconds=59), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=7, minutes=59), "7h59m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=2, hours=5), "2d5h"),
        (timedelta(days=8, hours=5), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=365 * 3 + 10), "3y10d"),
        (timedelta(days=365 * 9), "9y"),
    ],
)
def test_human_duration_matches_apimachinery(span: timedelta, text: str) -> None:
    nanoseconds = (span.days * 86400 + span.seconds) * 10**9 + span.microseconds * 1000
    assert human_duration(nanoseconds) == text


def test_age_is_unknown_without_creation_timestamp() -> None:
    assert _cells("ConfigMap", {"metadata": {"name": "x"}})[-1] == "<unknown>"


# --- the capture: GET /api/v1/namespaces as Table -----------------------------------------------


def test_namespace_table_matches_capture_shape() -> None:
    meta = {
        "name": "default",
        "managedFields": [{"manager": "kube-apiserver"}],
        "labels": {"kubernetes.io/metadata.name": "default"},
        "creationTimestamp": "2026-11-25T11:43:58Z",
        "resourceVersion": "26",
        "uid": "3be2f3e4",
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
    namespace["status"] = {"phase": "Active"}
    table = to_table(
        rt=_rt("Namespace"),
        objects=[namespace],
        include_object="Metadata",
        resource_version="242",
        now=datetime(2026, 11, 25, 11, 44, 26, 600000, tzinfo=UTC),
    )
    body = orjson.dumps(table).decode()
    assert body.startswith(
        '{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"242"},'
        '"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":'
        '"Name must be unique within a namespace. Is required when creating resources'
    )
    assert (
        '{"name":"Status","type":"string","format":"","description":"The status of the namespace",'
        '"priority":0},{"name":"Age","type":"string","format":"","description":"CreationTimestamp '
        "is a timestamp representing the server time when this object was created."
    ) in body
    assert body.endswith(
        '"rows":[{"cells":["default","Active","28s"],"object":{"kind":"PartialObjectMetadata",'
        '"apiVersion":"meta.k8s.io/v1","metadata":{"name":"default","uid":"3be2f3e4",'
        '"resourceVersion":"26","creationTimestamp":"2026-11-25T11:43:58Z","labels":'
        '{"kubernetes.io/metadata.name":"default"},"managedFields":[{"manager":"kube-apiserver"}]'
        "}}}]}"
    )


def test_list_metadata_carries_continue_and_remaining() -> None:
    table = to_table(
        rt=_rt("ConfigMap"),
        objects=[],
        include_object="",
        resource_version="7",
        continue_token="abc",
        remaining=0,
        now=NOW,
    )
    assert table["metadata"] == {"resourceVersion": "7", "continue": "abc", "remainingItemCount": 0}
    assert table["rows"] == []


# --- includeObject ----------------------------------------------------------------------------


CONFIGMAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "hello", "namespace": "default", "creationTimestamp": CREATED},
    "data": {"a": "1", "b": "2"},
    "binaryData": {"c": "AA=="},
}


def test_configmap_counts_data_and_binary_data() -> None:
    assert _names("ConfigMap") == [("Name", 0), ("Data", 0), ("Age", 0)]
    assert _cells("ConfigMap", CONFIGMAP) == ["hello", 3, "30s"]


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ("None", None),
        ("Object", CONFIGMAP),
        (
            "Metadata",
            {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "hello", "namespace": "default", "creationTimestamp": CREATED},
            },
        ),
        (
            "",
            {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "hello", "namespace": "default", "creationTimestamp": CREATED},
            },
        ),
    ],
)
def test_include_object_variants(include: str, expected: Any) -> None:
    row = table_row(_rt("ConfigMap"), CONFIGMAP, include_object=include, now=NOW)
    assert row == {"cells": ["hello", 3, "30s"], "object": expected}
    # "object" is always written, null when not wanted.
    assert orjson.dumps(row).decode().endswith('"object":' + orjson.dumps(expected).decode() + "}")


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as caught:
        to_table(
            rt=_rt("ConfigMap"),
            objects=[],
            include_object="Everything",
            resource_version="1",
            now=NOW,
        )
    assert caught.value.code == 400
    assert caught.value.message == (
        "Unable to convert to Table as requested: includeObject: Unsupported value: "
        '"Everything": supported values: "", "Metadata", "None", "Object"'
    )


# --- pods ---------------------------------------------------------------------------------------


def _pod(status: dict[str, Any], spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "creationTimestamp": CREATED, **meta},
        "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]},
        "status": status,
    }


def test_pod_columns_include_wide_ones() -> None:
    assert _names("Pod") == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]


def test_running_pod() -> None:
    pod = _pod(
        {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "gate", "status": "True"}],
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
        {
            "containers": [{"name": "app"}],
            "nodeName": "n1",
            "readinessGates": [{"conditionType": "gate"}],
        },
    )
    assert _cells("Pod", pod) == [
        "p",
        "1/1",
        "Running",
        "0",
        "30s",
        "10.0.0.5",
        "n1",
        "<none>",
        "1/1",
    ]


def test_pending_pod_shows_waiting_reason() -> None:
    pod = _pod(
        {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        }
    )
    assert _cells("Pod", pod)[:5] == ["p", "0/1", "ContainerCreating", "0", "30s"]
    assert _cells("Pod", pod)[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_crash_looping_pod_shows_restarts_with_last_restart_age() -> None:
    pod = _pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "finishedAt": _ts(timedelta(minutes=3))}
                    },
                }
            ],
        }
    )
    assert _cells("Pod", pod)[1:4] == ["0/1", "CrashLoopBackOff", "4 (3m ago)"]


def test_terminated_container_without_reason_shows_exit_code_or_signal() -> None:
    def status(terminated: dict[str, Any]) -> dict[str, Any]:
        return {
            "phase": "Running",
            "containerStatuses": [{"name": "app", "state": {"terminated": terminated}}],
        }

    assert _cells("Pod", _pod(status({"exitCode": 3})))[2] == "ExitCode:3"
    assert _cells("Pod", _pod(status({"exitCode": 137, "signal": 9})))[2] == "Signal:9"
    assert _cells("Pod", _pod(status({"exitCode": 137, "reason": "OOMKilled"})))[2] == "OOMKilled"


def test_initializing_pods() -> None:
    spec = {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "app"}]}
    waiting = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
        },
        spec,
    )
    assert _cells("Pod", waiting)[1:3] == ["0/1", "Init:1/2"]
    crashing = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "i1",
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
        spec,
    )
    assert _cells("Pod", crashing)[1:4] == ["0/1", "Init:CrashLoopBackOff", "2"]
    failed = _pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [{"name": "i1", "state": {"terminated": {"exitCode": 2}}}],
        },
        spec,
    )
    assert _cells("Pod", failed)[2] == "Init:ExitCode:2"


def test_sidecar_counts_towards_ready_and_total() -> None:
    spec = {
        "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
        "containers": [{"name": "app"}],
    }
    pod = _pod(
        {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [
                {
                    "name": "proxy",
                    "started": True,
                    "ready": True,
                    "restartCount": 1,
                    "state": {"running": {}},
                }
            ],
            "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
        },
        spec,
    )
    assert _cells("Pod", pod)[1:4] == ["2/2", "Running", "1"]


def test_succeeded_pod_row_is_marked_completed() -> None:
    pod = _pod(
        {
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ],
        }
    )
    row = table_row(_rt("Pod"), pod, include_object="None", now=NOW)
    assert row["cells"][1:3] == ["0/1", "Completed"]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert list(row) == ["cells", "conditions", "object"]


def test_completed_container_beside_running_one_reads_not_ready() -> None:
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    status = {
        "phase": "Running",
        "containerStatuses": [
            {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "b", "ready": True, "state": {"running": {}}},
        ],
    }
    assert _cells("Pod", _pod(status, spec))[1:3] == ["1/2", "NotReady"]
    status["conditions"] = [{"type": "Ready", "status": "True"}]
    assert _cells("Pod", _pod(status, spec))[1:3] == ["1/2", "Running"]


def test_deleted_pods() -> None:
    running = _pod({"phase": "Running"}, deletionTimestamp=_ts(timedelta(0)))
    assert _cells("Pod", running)[2] == "Terminating"
    lost = _pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp=_ts(timedelta(0)))
    assert _cells("Pod", lost)[2] == "Unknown"
    done = _pod({"phase": "Succeeded"}, deletionTimestamp=_ts(timedelta(0)))
    assert _cells("Pod", done)[2] == "Succeeded"


def test_scheduling_gated_pod() -> None:
    pod = _pod(
        {"phase": "Pending", "conditions": [{"type": "PodScheduled", "reason": "SchedulingGated"}]}
    )
    assert _cells("Pod", pod)[2] == "SchedulingGated"


# --- workloads and services -----------------------------------------------------------------


def test_deployment() -> None:
    assert _names("Deployment", "apps") == [
        ("Name", 0),
        ("Ready", 0),
        ("Up-to-date", 0),
        ("Available", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    deployment = {
        "metadata": {"name": "web", "creationTimestamp": _ts(timedelta(hours=2, minutes=5))},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
            },
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1"},
                        {"name": "log", "image": "busybox"},
                    ]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert _cells("Deployment", deployment, "apps") == [
        "web",
        "2/3",
        3,
        2,
        "125m",
        "web,log",
        "nginx:1,busybox",
        "app=web,tier in (a,b)",
    ]


def test_job_and_cronjob() -> None:
    job = {
        "metadata": {"name": "j", "creationTimestamp": CREATED},
        "spec": {
            "completions": 3,
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {
            "succeeded": 3,
            "startTime": _ts(timedelta(minutes=5)),
            "completionTime": _ts(timedelta(minutes=4, seconds=20)),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert _cells("Job", job, "batch")[:5] == ["j", "Complete", "3/3", "40s", "30s"]
    cron = {"metadata": {"name": "c"}, "spec": {"schedule": "*/5 * * * *"}, "status": {}}
    assert _cells("CronJob", cron, "batch")[:7] == [
        "c",
        "*/5 * * * *",
        "<none>",
        "<unset>",
        0,
        "<none>",
        "<unknown>",
    ]


def test_services() -> None:
    assert [name for name, _ in _names("Service")] == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]
    cluster_ip = {
        "metadata": {"name": "s", "creationTimestamp": CREATED},
        "spec": {
            "type": "ClusterIP",
            "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            "selector": {"k8s-app": "kube-dns"},
        },
    }
    assert _cells("Service", cluster_ip) == [
        "s",
        "ClusterIP",
        "10.96.0.10",
        "<none>",
        "53/UDP,53/TCP",
        "30s",
        "k8s-app=kube-dns",
    ]
    node_port = {
        "metadata": {"name": "n"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
    }
    assert _cells("Service", node_port)[2:5] == ["<none>", "<none>", "80:30080/TCP"]
    balancer: dict[str, Any] = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}}
    assert _cells("Service", balancer)[3:5] == ["<pending>", "<none>"]
    balancer["status"] = {
        "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}
    }
    assert _cells("Service", balancer)[3] == "1.2.3.4,lb.example"
    external = {
        "metadata": {"name": "e"},
        "spec": {"type": "ExternalName", "externalName": "db.example"},
    }
    assert _cells("Service", external)[3] == "db.example"


def test_secret_node_and_event() -> None:
    secret = {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}}
    assert _cells("Secret", secret) == ["s", "Opaque", 2, "<unknown>"]
    node = {
        "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.36.2"},
        },
    }
    assert _cells("Node", node) == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane",
        "<unknown>",
        "v1.36.2",
        "172.18.0.2",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]
    event = {
        "metadata": {"name": "p.1"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Scheduled",
        "type": "Normal",
        "message": "Successfully assigned\n",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": _ts(timedelta(minutes=2)),
        "lastTimestamp": _ts(timedelta(seconds=10)),
        "count": 2,
    }
    assert _cells("Event", event) == [
        "10s",
        "Normal",
        "Scheduled",
        "pod/p",
        "",
        "default-scheduler",
        "Successfully assigned",
        "2m",
        2,
        "p.1",
    ]


def test_kinds_without_printer_get_name_and_created_at() -> None:
    role = _rt("Role", "rbac.authorization.k8s.io")
    assert [(c["name"], c["type"]) for c in table_columns(role)] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    row = table_row(
        role,
        {"metadata": {"name": "r", "creationTimestamp": "2026-01-02T03:04:05+01:00"}},
        include_object="None",
        now=NOW,
    )
    assert row["cells"] == ["r", "2026-01-02T02:04:05Z"]
    empty = to_table(rt=role, objects=[], include_object="None", resource_version="1", now=NOW)
    assert orjson.dumps(empty).decode().endswith('"rows":null}')


def test_every_builtin_kind_prints_as_many_cells_as_columns() -> None:
    for rt in BUILTIN:
        row = table_row(rt, {"metadata": {"name": "x"}}, include_object="None", now=NOW)
        # kube's IPAddress printer fills an age cell it defines no column for.
        extra = 1 if rt.kind == "IPAddress" else 0
        assert len(row["cells"]) == len(table_columns(rt)) + extra, rt.kind
        assert all(c["description"] or c["name"] == "Handler" for c in table_columns(rt)), rt.kind


# --- custom resources ---------------------------------------------------------------------------


def _custom(version: dict[str, Any]) -> ResourceType:
    return ResourceType(
        group="example.com",
        version="v1",
        kind="Widget",
        plural="widgets",
        singular="widget",
        namespaced=True,
        crd=version,
    )


WIDGET_VERSION = {
    "name": "v1",
    "additionalPrinterColumns": [
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {
            "name": "First",
            "type": "string",
            "jsonPath": ".spec.items[0]",
            "priority": 1,
            "description": "first item",
        },
        {"name": "Ratio", "type": "number", "format": "float", "jsonPath": ".spec.ratio"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
}


def test_custom_resource_columns() -> None:
    columns = table_columns(_custom(WIDGET_VERSION))
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Replicas", "integer", "", 0),
        ("Ready", "string", "", 0),
        ("First", "string", "", 1),
        ("Ratio", "number", "float", 0),
        ("Paused", "boolean", "", 0),
        ("Age", "date", "", 0),
    ]
    assert columns[1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    )
    assert columns[3]["description"] == "first item"


def test_custom_resource_cells() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "creationTimestamp": _ts(timedelta(days=3))},
        "spec": {"replicas": 2, "items": ["a", "b"], "ratio": 2.0, "paused": "no"},
        "status": {
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ]
        },
    }
    rt = _custom(WIDGET_VERSION)
    row = table_row(rt, widget, include_object="Object", now=NOW)
    # ratio 2.0 prints as Go's float64 does ("2"); a string where a boolean is due is null.
    assert row["cells"] == ["w", 2, "True", "a", 2, None, "3d"]
    assert row["object"] == widget
    bare = {"metadata": {"name": "b"}, "spec": {"items": []}}
    assert table_row(rt, bare, include_object="None", now=NOW)["cells"] == [
        "b",
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_custom_string_column_prints_maps_as_json() -> None:
    version = {
        "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec"}]
    }
    widget = {"metadata": {"name": "w"}, "spec": {"b": 1, "a": "<x>"}}
    cells = table_row(_custom(version), widget, include_object="None", now=NOW)["cells"]
    assert cells == ["w", '{"a":"\\u003cx\\u003e","b":1}']


def test_custom_resource_without_columns_gets_age() -> None:
    rt = _custom({"name": "v1"})
    columns = table_columns(rt)
    assert [(c["name"], c["type"]) for c in columns] == [("Name", "string"), ("Age", "date")]
    assert columns[1]["description"].startswith("CreationTimestamp is a timestamp")
    widget = {"metadata": {"name": "w", "creationTimestamp": CREATED}}
    assert table_row(rt, widget, include_object="None", now=NOW)["cells"] == ["w", "30s"]
    assert table_row(
        rt, {"metadata": {"name": "w", "creationTimestamp": "bad"}}, include_object="None", now=NOW
    )["cells"] == ["w", "<invalid>"]


def test_custom_column_with_unparsable_path_keeps_column_with_null_cells() -> None:
    version = {
        "additionalPrinterColumns": [
            {"name": "Broken", "type": "string", "jsonPath": ".spec.items["},
            {"name": "Second", "type": "string", "jsonPath": ".spec.items[1,0]"},
        ]
    }
    widget = {"metadata": {"name": "w"}, "spec": {"items": ["a", "b"]}}
    assert [c["name"] for c in table_columns(_custom(version))] == ["Name", "Broken", "Second"]
    cells = table_row(_custom(version), widget, include_object="None", now=NOW)["cells"]
    assert cells == ["w", None, "b"]
