"""Defaulting of built-in kinds, checked against objects a real kube-apiserver v1.36 returned."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from strom.registry.defaults import apply_defaults, initial_status, qos_class
from strom.registry.defaults.quantity import canonical_quantity
from strom.registry.kinds import BUILTIN, ResourceType
from tests.captures import KUBE_APISERVER_V1_36

REFERENCE = KUBE_APISERVER_V1_36
RT = {(rt.group, rt.kind): rt for rt in BUILTIN}
POD = RT[("", "Pod")]


def rt(kind: str, group: str = "") -> ResourceType:
    return RT[(group, kind)]


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def captured_object(name: str) -> dict[str, Any]:
    """The JSON object in a capture's response body (the one line that starts with `{"kind"`)."""
    path = REFERENCE / name
    for line in path.read_text().splitlines():
        if line.startswith('{"kind"'):
            obj: dict[str, Any] = orjson.loads(line)
            return obj
    raise AssertionError(f"no object in {name}")


def create(resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """What the create path does: create-time init, then the defaults (twice is harmless)."""
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {}).setdefault("uid", "3a247de3-c56a-4a44-830d-83c329ee507b")
    initial_status(resource, obj)
    apply_defaults(resource, obj)
    return obj


def pod(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **meta}, "spec": spec}


# --- golden: real kube-apiserver answers ------------------------------------------------
@pytest.mark.parametrize(
    ("capture", "extra_spec"),
    [("200-delete-pod.txt", {}), ("200-delete-pod-graceful-bound.txt", {"nodeName": "node-1"})],
)
def test_created_pod_matches_kube_byte_for_byte(capture: str, extra_spec: dict[str, Any]) -> None:
    golden = captured_object(capture)
    # The request those pods were created with (see the captures' comments).
    body = pod(
        {
            "automountServiceAccountToken": False,
            **extra_spec,
            "containers": [{"name": "c", "image": "busybox:1.36"}],
        }
    )
    got = create(POD, body)
    assert dumps(got["spec"]) == dumps(golden["spec"])
    assert dumps(got["status"]) == dumps(golden["status"])
    assert list(got) == list(golden)


@pytest.mark.parametrize(
    ("capture", "containers"),
    [
        (
            "200-patch-strategic-merge-deployment.txt",
            [
                {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "infinity"]},
            ],
        ),
        (
            "200-patch-strategic-merge-delete-directive.txt",
            [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
        ),
    ],
)
def test_updated_deployment_matches_kube(capture: str, containers: list[dict[str, Any]]) -> None:
    golden = captured_object(capture)
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
        },
    }
    apply_defaults(rt("Deployment", "apps"), body)
    assert dumps(body["spec"]) == dumps(golden["spec"])
    assert body["status"] == golden["status"] == {}


@pytest.mark.parametrize(
    ("capture", "kind", "group"),
    [
        ("200-delete-pod.txt", "Pod", ""),
        ("200-delete-pod-graceful-bound.txt", "Pod", ""),
        ("200-patch-strategic-merge-deployment.txt", "Deployment", "apps"),
    ],
)
def test_kube_output_is_a_fixed_point(capture: str, kind: str, group: str) -> None:
    golden = captured_object(capture)
    obj = copy.deepcopy(golden)
    apply_defaults(rt(kind, group), obj)
    assert dumps(obj) == dumps(golden)


# --- pods --------------------------------------------------------------------------------
def test_pod_spec_defaults_reorder_and_fill() -> None:
    body = pod(
        {
            "hostNetwork": True,
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
                }
            ],
            "volumes": [
                {"name": "scratch"},
                {"name": "s", "secret": {"secretName": "x"}},
                {"name": "h", "hostPath": {"path": "/tmp"}},
                {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            ],
        }
    )
    got = create(POD, body)
    container = got["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    assert container["ports"] == [{"hostPort": 8080, "containerPort": 8080, "protocol": "TCP"}]
    assert container["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "x"}
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    # limits are canonicalised and copied to requests (pods only)
    assert container["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }
    volumes = {v["name"]: v for v in got["spec"]["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["s"]["secret"] == {"secretName": "x", "defaultMode": 420}
    assert volumes["h"]["hostPath"] == {"path": "/tmp", "type": ""}
    token = volumes["t"]["projected"]
    assert token == {
        "sources": [{"serviceAccountToken": {"expirationSeconds": 3600, "path": "t"}}],
        "defaultMode": 420,
    }
    assert got["status"]["qosClass"] == "Guaranteed"
    assert list(got["spec"])[:2] == ["volumes", "containers"]


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("busybox:1.36", "IfNotPresent"),
        ("localhost:5000/team/app", "Always"),
        ("localhost:5000/team/app:v2", "IfNotPresent"),
        ("app@sha256:" + "a" * 64, "IfNotPresent"),
        ("app:latest@sha256:" + "a" * 64, "Always"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    got = create(POD, pod({"containers": [{"name": "c", "image": image}]}))
    assert got["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_template_gets_no_pod_only_defaults() -> None:
    template: dict[str, Any] = {
        "metadata": {"name": "t"},
        "template": {
            "spec": {
                "containers": [{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]
            }
        },
    }
    apply_defaults(rt("PodTemplate"), template)
    spec = template["template"]["spec"]
    assert "enableServiceLinks" not in spec
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}
    assert template["template"]["metadata"] == {}


def test_pod_admission_defaults_keep_user_tolerations_and_system_priority() -> None:
    body = pod(
        {
            "priorityClassName": "system-node-critical",
            "serviceAccount": "builder",
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "c", "image": "x:1"}],
        }
    )
    spec = create(POD, body)["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["priority"] == 2000001000
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("builder", "builder")


def test_scheduling_gates_add_condition() -> None:
    body = pod({"schedulingGates": [{"name": "g"}], "containers": [{"name": "c", "image": "x:1"}]})
    condition = create(POD, body)["status"]["conditions"][0]
    assert condition["type"] == "PodScheduled"
    assert condition["status"] == "False"
    assert condition["reason"] == "SchedulingGated"


def _resources(requests: dict[str, str] | None, limits: dict[str, str] | None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "image": "x:1", "resources": resources}


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ([_resources(None, None)], "BestEffort"),
        ([_resources({"cpu": "0", "memory": "0"}, None)], "BestEffort"),
        ([_resources({"ephemeral-storage": "1Gi"}, None)], "BestEffort"),
        ([_resources({"cpu": "100m"}, None)], "Burstable"),
        ([_resources(None, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
        (
            [_resources({"cpu": "1000m", "memory": "1024Mi"}, {"cpu": "1", "memory": "1Gi"})],
            "Guaranteed",
        ),
        (
            [_resources({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})],
            "Burstable",
        ),
        ([_resources(None, {"cpu": "1"})], "Burstable"),
        ([_resources(None, {"cpu": "1", "memory": "1Gi"}), _resources(None, None)], "Burstable"),
    ],
)
def test_qos_class(containers: list[dict[str, Any]], expected: str) -> None:
    assert create(POD, pod({"containers": containers}))["status"]["qosClass"] == expected


def test_qos_class_counts_init_containers_and_pod_level_resources() -> None:
    guaranteed = {"limits": {"cpu": "1", "memory": "1Gi"}}
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": guaranteed}],
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
    }
    assert qos_class(spec) == "Burstable"
    spec = {
        "resources": {"requests": guaranteed["limits"], "limits": guaranteed["limits"]},
        "containers": [{"name": "c"}],
    }
    assert qos_class(spec) == "Guaranteed"


# --- workloads ---------------------------------------------------------------------------
def test_stateful_set_daemon_set_replica_set() -> None:
    template = {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]},
    }
    sts = create(
        rt("StatefulSet", "apps"),
        {
            "metadata": {"name": "s"},
            "spec": {
                "template": template,
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
            },
        },
    )
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"] == {"resources": {}, "volumeMode": "Filesystem"}
    assert claim["status"] == {"phase": "Pending"}
    assert sts["status"] == {"replicas": 0, "availableReplicas": 0}

    ds = create(
        rt("DaemonSet", "apps"), {"metadata": {"name": "d"}, "spec": {"template": template}}
    )
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    assert ds["status"]["numberReady"] == 0

    rs = create(
        rt("ReplicaSet", "apps"), {"metadata": {"name": "r"}, "spec": {"template": template}}
    )
    assert rs["spec"]["replicas"] == 1
    assert rs["status"] == {"replicas": 0}


def test_job_defaults_and_generated_selector() -> None:
    job = create(
        rt("Job", "batch"),
        {
            "metadata": {"name": "pi", "uid": "uid-1"},
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c"}]}}
            },
        },
    )
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "uid-1",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "uid-1",
        "job-name": "pi",
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert list(spec)[:4] == ["parallelism", "completions", "backoffLimit", "selector"]
    # job labels come from the template when the job has none
    assert job["metadata"]["labels"]["job-name"] == "pi"


def test_job_manual_selector_and_backoff_per_index() -> None:
    job = create(
        rt("Job", "batch"),
        {
            "metadata": {"name": "j"},
            "spec": {
                "manualSelector": True,
                "parallelism": 2,
                "backoffLimitPerIndex": 1,
                "completionMode": "Indexed",
                "completions": 4,
                "podFailurePolicy": {
                    "rules": [{"action": "Ignore", "onPodConditions": [{"type": "X"}]}]
                },
                "template": {"spec": {"containers": [{"name": "c"}]}},
            },
        },
    )
    spec = job["spec"]
    assert "selector" not in spec
    assert spec["backoffLimit"] == 2**31 - 1
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "X", "status": "True"}
    ]


def test_cron_job_template_gets_pod_defaults_but_not_job_defaults() -> None:
    cron = create(
        rt("CronJob", "batch"),
        {
            "metadata": {"name": "c"},
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}},
            },
        },
    )
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["suspend"] is False
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert spec["jobTemplate"]["metadata"] == {}
    assert cron["status"] == {}


def test_hpa_defaults() -> None:
    hpa = create(
        rt("HorizontalPodAutoscaler", "autoscaling"),
        {
            "metadata": {"name": "h"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "d"},
                "maxReplicas": 5,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
            },
        },
    )
    spec = hpa["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    assert spec["behavior"]["scaleUp"]["policies"][0] == {
        "type": "Pods",
        "value": 4,
        "periodSeconds": 15,
    }
    assert hpa["status"] == {"desiredReplicas": 0}


# --- core kinds --------------------------------------------------------------------------
def test_service_defaults() -> None:
    svc = create(
        rt("Service"),
        {
            "metadata": {"name": "s"},
            "spec": {
                "selector": {"a": "b"},
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
            },
        },
    )
    spec = svc["spec"]
    assert spec["ports"] == [
        {"protocol": "TCP", "port": 80, "targetPort": 80},
        {"protocol": "UDP", "port": 53, "targetPort": "dns"},
    ]
    assert list(spec) == [
        "ports",
        "selector",
        "clusterIP",
        "clusterIPs",
        "type",
        "sessionAffinity",
        "ipFamilies",
        "ipFamilyPolicy",
        "internalTrafficPolicy",
    ]
    assert (spec["type"], spec["sessionAffinity"]) == ("ClusterIP", "None")
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert svc["status"] == {"loadBalancer": {}}


def test_service_load_balancer_headless_and_external_name() -> None:
    lb = create(
        rt("Service"),
        {
            "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 1}]},
        },
    )
    spec = lb["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    headless = create(rt("Service"), {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}})
    assert headless["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert headless["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    external = create(
        rt("Service"),
        {"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.y"}},
    )
    assert "ipFamilies" not in external["spec"]
    assert "internalTrafficPolicy" not in external["spec"]


def test_namespace_secret_pvc_pv_node() -> None:
    ns = create(rt("Namespace"), {"metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}

    secret = create(rt("Secret"), {"metadata": {"name": "s"}, "data": {}})
    assert secret["type"] == "Opaque"

    pvc = create(
        rt("PersistentVolumeClaim"),
        {
            "metadata": {"name": "c"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1.5Gi"}},
            },
        },
    )
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["spec"]["resources"] == {"requests": {"storage": "1536Mi"}}
    assert pvc["status"] == {"phase": "Pending"}

    pv = create(
        rt("PersistentVolume"),
        {
            "metadata": {"name": "v"},
            "spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/d"}},
        },
    )
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["hostPath"] == {"path": "/d", "type": ""}
    assert pv["status"]["phase"] == "Pending"
    assert pv["status"]["lastPhaseTransitionTime"].endswith("Z")

    node = create(rt("Node"), {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2"}}})
    assert node["status"]["allocatable"] == {"cpu": "2"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == ""


# --- other groups ------------------------------------------------------------------------
def test_other_groups() -> None:
    netpol = create(
        rt("NetworkPolicy", "networking.k8s.io"),
        {"metadata": {"name": "n"}, "spec": {"egress": [{"ports": [{"port": 53}]}]}},
    )
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["spec"]["podSelector"] == {}
    assert netpol["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 53}]

    binding = create(
        rt("RoleBinding", "rbac.authorization.k8s.io"),
        {
            "metadata": {"name": "b"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [
                {"kind": "User", "name": "alice"},
                {"kind": "ServiceAccount", "name": "sa"},
            ],
        },
    )
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert binding["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "ServiceAccount", "name": "sa"},
    ]

    sc = create(
        rt("StorageClass", "storage.k8s.io"), {"metadata": {"name": "s"}, "provisioner": "p"}
    )
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")

    pc = create(rt("PriorityClass", "scheduling.k8s.io"), {"metadata": {"name": "p"}, "value": 5})
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"

    pdb = create(rt("PodDisruptionBudget", "policy"), {"metadata": {"name": "p"}, "spec": {}})
    assert pdb["status"] == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }

    slice_ = create(
        rt("EndpointSlice", "discovery.k8s.io"),
        {"metadata": {"name": "e"}, "addressType": "IPv4", "ports": [{"port": 80}]},
    )
    assert slice_["endpoints"] is None
    assert slice_["ports"] == [{"name": "", "protocol": "TCP", "port": 80}]


def test_crd_defaults() -> None:
    crd: dict[str, Any] = {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    apply_defaults(rt("CustomResourceDefinition", "apiextensions.k8s.io"), crd)
    assert crd["spec"]["names"] == {
        "plural": "widgets",
        "singular": "widget",
        "kind": "Widget",
        "listKind": "WidgetList",
    }
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"] == {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": ["v1"]}


# --- invariants --------------------------------------------------------------------------
@pytest.mark.parametrize("resource", [r for r in BUILTIN], ids=lambda r: f"{r.group}/{r.kind}")
def test_idempotent_for_every_builtin_kind(resource: ResourceType) -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "x", "uid": "u"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
            "containers": [{"name": "c", "image": "i"}],
        },
    }
    created = create(resource, obj)
    again = copy.deepcopy(created)
    apply_defaults(resource, again)
    assert dumps(again) == dumps(created)


def test_custom_resources_are_left_alone() -> None:
    custom = ResourceType("example.com", "v1", "Widget", "widgets", "widget", True, crd={})
    obj: dict[str, Any] = {"spec": {}}
    initial_status(custom, obj)
    apply_defaults(custom, obj)
    assert obj == {"spec": {}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("512", "512"),
        ("1e3", "1e3"),
        ("129e6", "129e6"),
        ("10k", "10k"),
        ("0.1", "100m"),
        (2, "2"),
        ("0", "0"),
        ("100Ki", "100Ki"),
        ("1.0000000001", "1000000001n"),
        ("nonsense", "nonsense"),
    ],
)
def test_quantity_canonical_form(raw: Any, expected: str) -> None:
    assert canonical_quantity(raw) == expected


def test_resource_lists_round_up_to_milli() -> None:
    got = create(POD, pod({"containers": [_resources({"cpu": "100u", "memory": "1.0001"}, None)]}))
    assert got["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1m", "memory": "1001m"}
