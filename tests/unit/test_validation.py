"""strom.registry.validation against kube-apiserver's captured 422s and upstream message texts."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest

from strom.errors import Cause, StatusError
from strom.gofmt import go_float, go_quote
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.validation import (
    prune_custom_resource,
    unknown_fields,
    validate_create,
    validate_update,
)
from tests.captures import KUBE_APISERVER_V1_36

CAPTURES = KUBE_APISERVER_V1_36
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used"
    " for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
    " must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex"
    " used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def rt_of(group: str, kind: str) -> ResourceType:
    return next(r for r in BUILTIN if r.group == group and r.kind == kind)


CM = rt_of("", "ConfigMap")
SECRET = rt_of("", "Secret")
POD = rt_of("", "Pod")
SERVICE = rt_of("", "Service")
NAMESPACE = rt_of("", "Namespace")
DEPLOY = rt_of("apps", "Deployment")
STS = rt_of("apps", "StatefulSet")
JOB = rt_of("batch", "Job")
CRD = rt_of("apiextensions.k8s.io", "CustomResourceDefinition")
ROLE = rt_of("rbac.authorization.k8s.io", "Role")


def texts(causes: list[Cause]) -> list[str]:
    """Causes as kube prints them in the Status message."""
    return [f"{c.field}: {c.message}" if c.field else c.message for c in causes]


def captured_status(name: str) -> dict[str, Any]:
    body = (CAPTURES / name).read_text().rstrip().splitlines()[-1]
    status: dict[str, Any] = orjson.loads(body)
    return status


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", **extra}


# --- the captures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "obj"),
    [
        (
            "422-invalid-data-key.txt",
            {"metadata": {"namespace": "default"}, "data": {"bad key!": "v"}},
        ),
        (
            "422-invalid-name.txt",
            {"metadata": meta("Bad_Name!"), "data": {"k": "v"}},
        ),
        (
            "422-configmap-too-long.txt",
            {"metadata": meta("big2"), "data": {"big": "x" * 2097152}},
        ),
    ],
)
def test_configmap_statuses_match_the_captures(capture: str, obj: dict[str, Any]) -> None:
    causes = validate_create(CM, obj)
    name = obj["metadata"].get("name", "")
    assert StatusError.invalid("ConfigMap", name, causes).to_status() == captured_status(capture)


# --- ObjectMeta -----------------------------------------------------------------------------


def test_name_rules_differ_per_kind() -> None:
    ns = validate_create(NAMESPACE, {"metadata": {"name": "a.b"}})
    assert texts(ns) == ['metadata.name: Invalid value: "a.b": must not contain dots']
    svc = validate_create(SERVICE, {"metadata": meta("1abc"), "spec": {"ports": [{"port": 80}]}})
    assert texts(svc) == [
        'metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower case'
        " alphanumeric characters or '-', start with an alphabetic character, and end with an"
        " alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is"
        " '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]
    role = validate_create(ROLE, {"metadata": meta("system:a/b")})
    assert texts(role) == ["metadata.name: Invalid value: \"system:a/b\": may not contain '/'"]
    assert validate_create(ROLE, {"metadata": meta("system:controller")}) == []


def test_generate_name_prefix_may_end_in_a_dash() -> None:
    assert (
        validate_create(
            CM, {"metadata": {"generateName": "web-", "name": "web-abcde", "namespace": "d"}}
        )
        == []
    )
    causes = validate_create(CM, {"metadata": {"generateName": "Web-", "namespace": "d"}})
    assert texts(causes) == [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_MSG}']


def test_long_name_reports_length_and_format() -> None:
    name = "a" * 254
    causes = validate_create(CM, {"metadata": meta(name)})
    assert [c.message for c in causes] == [
        f'Invalid value: "{name}": must be no more than 253 characters'
    ]


def test_label_key_and_value_messages() -> None:
    labels = {"bad/key/x": "ok", "ok": "v" * 64, "Ok.Key": "-bad"}
    causes = validate_create(CM, {"metadata": meta(labels=labels)})
    assert texts(causes) == [
        'metadata.labels: Invalid value: "bad/key/x": a valid label key must consist of'
        " alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric"
        " character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"
        " '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/'"
        " (e.g. 'example.com/MyName')",
        f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 bytes',
        'metadata.labels: Invalid value: "-bad": a valid label must be an empty string or consist'
        " of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric"
        " character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is"
        " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]
    assert all(c.reason == "FieldValueInvalid" for c in causes)


def test_annotation_total_size_is_256_kib() -> None:
    ok = {"a": "x" * (262144 - 1)}
    assert validate_create(CM, {"metadata": meta(annotations=ok)}) == []
    causes = validate_create(CM, {"metadata": meta(annotations={"a": "x" * 262144})})
    assert causes == [
        Cause(
            "FieldValueTooLong",
            "Too long: may not be more than 262144 bytes",
            "metadata.annotations",
        )
    ]


def test_finalizer_names() -> None:
    assert validate_create(CM, {"metadata": meta(finalizers=["example.com/f", "kubernetes"])}) == []
    causes = validate_create(CM, {"metadata": meta(finalizers=["nope"])})
    assert texts(causes) == [
        'metadata.finalizers[0]: Invalid value: "nope": name is neither a standard finalizer name'
        " nor is it fully qualified"
    ]


def test_update_keeps_identity_fields_immutable() -> None:
    old = {"metadata": meta("a", uid="u1", creationTimestamp="2026-01-01T00:00:00Z")}
    new = copy.deepcopy(old)
    new["metadata"].update(name="b", uid="u2")
    causes = validate_update(CM, new, old)
    assert texts(causes) == [
        'metadata.name: Invalid value: "b": field is immutable',
        'metadata.uid: Invalid value: "u2": field is immutable',
    ]
    assert validate_update(CM, copy.deepcopy(old), old) == []


def test_no_new_finalizers_while_deleting() -> None:
    old = {"metadata": meta(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=["a.io/x"])}
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["a.io/x", "b.io/y"]
    assert texts(validate_update(CM, new, old)) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being"
        ' deleted, found new finalizers []string{"b.io/y"}'
    ]


# --- ConfigMap and Secret -------------------------------------------------------------------


def test_configmap_key_overlap_and_immutability() -> None:
    b64 = base64.b64encode(b"v").decode()
    causes = validate_create(CM, {"metadata": meta(), "data": {"k": "v"}, "binaryData": {"k": b64}})
    assert texts(causes) == ['data[k]: Invalid value: "k": duplicate of key present in binaryData']
    old = {"metadata": meta(), "data": {"k": "v"}, "immutable": True}
    new = {"metadata": meta(), "data": {"k": "w"}}
    assert texts(validate_update(CM, new, old)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def test_configmap_key_dots() -> None:
    causes = validate_create(CM, {"metadata": meta(), "data": {"..a": "v"}})
    assert texts(causes) == ["data[..a]: Invalid value: \"..a\": must not start with '..'"]


def test_secret_type_rules() -> None:
    tls = validate_create(SECRET, {"metadata": meta(), "type": "kubernetes.io/tls", "data": {}})
    assert texts(tls) == ["data[tls.crt]: Required value", "data[tls.key]: Required value"]
    bad_json = base64.b64encode(b"xyz").decode()
    docker_data = {".dockerconfigjson": bad_json}
    docker = {"metadata": meta(), "type": "kubernetes.io/dockerconfigjson", "data": docker_data}
    assert texts(validate_create(SECRET, docker)) == [
        'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character'
        " 'x' looking for beginning of value"
    ]
    sa = validate_create(
        SECRET, {"metadata": meta(), "type": "kubernetes.io/service-account-token"}
    )
    assert texts(sa) == ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    ok = {"metadata": meta(), "type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}}
    assert validate_create(SECRET, ok) == []


def test_secret_size_counts_decoded_bytes_and_type_is_immutable() -> None:
    big = base64.b64encode(b"x" * (1024 * 1024)).decode()
    assert validate_create(SECRET, {"metadata": meta(), "data": {"a": big}}) == []
    causes = validate_create(SECRET, {"metadata": meta(), "data": {"a": big, "b": "eA=="}})
    assert texts(causes) == ["data: Too long: may not be more than 1048576 bytes"]
    old = {"metadata": meta(), "type": "Opaque"}
    new = {"metadata": meta(), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}
    assert texts(validate_update(SECRET, new, old)) == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable'
    ]


# --- Pods -----------------------------------------------------------------------------------


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    base.update(spec)
    return {"metadata": meta("p"), "spec": base}


def test_pod_requires_containers() -> None:
    causes = validate_create(POD, {"metadata": meta("p"), "spec": {}})
    assert causes == [Cause("FieldValueRequired", "Required value", "spec.containers")]


def test_pod_container_rules() -> None:
    containers = [
        {"name": "Bad", "image": "x"},
        {"name": "c"},
        {"name": "c", "image": "x", "ports": [{"containerPort": 70000, "protocol": "HTTP"}]},
    ]
    causes = validate_create(POD, pod(containers=containers))
    assert texts(causes) == [
        f'spec.containers[0].name: Invalid value: "Bad": {LABEL_MSG}',
        "spec.containers[1].image: Required value",
        "spec.containers[2].ports[0].containerPort: Invalid value: 70000: must be between 1 and"
        " 65535, inclusive",
        'spec.containers[2].ports[0].protocol: Unsupported value: "HTTP": supported values:'
        ' "SCTP", "TCP", "UDP"',
        'spec.containers[2].name: Duplicate value: "c"',
    ]
    assert causes[-1].reason == "FieldValueDuplicate"
    assert causes[3].reason == "FieldValueNotSupported"


def test_pod_policy_enums() -> None:
    causes = validate_create(POD, pod(restartPolicy="Sometimes", dnsPolicy="Google"))
    assert texts(causes) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always",'
        ' "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet",'
        ' "ClusterFirst", "Default", "None"',
    ]


def test_pod_volume_mounts_must_name_a_volume() -> None:
    containers = [{"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]
    causes = validate_create(POD, pod(containers=containers))
    assert texts(causes) == ['spec.containers[0].volumeMounts[0].name: Not found: "v"']
    ok = pod(containers=containers, volumes=[{"name": "v", "emptyDir": {}}])
    assert validate_create(POD, ok) == []


def test_pod_update_allows_image_and_forbids_the_rest() -> None:
    old = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert validate_update(POD, new, old) == []
    new["spec"]["nodeSelector"] = {"a": "b"}
    [cause] = validate_update(POD, new, old)
    assert cause.field == "spec"
    assert cause.reason == "FieldValueForbidden"
    assert cause.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only"
        " additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be"
        " set to 1 if it was previously negative)\n"
    )
    assert "NodeSelector" in cause.message


def test_pod_active_deadline_may_only_decrease() -> None:
    old = pod(activeDeadlineSeconds=10)
    new = pod(activeDeadlineSeconds=20)
    assert texts(validate_update(POD, new, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous"
        " value"
    ]
    assert validate_update(POD, pod(activeDeadlineSeconds=5), old) == []


# --- workloads ------------------------------------------------------------------------------


def deployment(selector: Any = None, labels: Any = None, **spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    body: dict[str, Any] = {"template": template, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"metadata": meta("d"), "spec": body}


def test_deployment_selector_must_match_template() -> None:
    obj = deployment({"matchLabels": {"app": "a"}}, {"app": "b", "tier": "web"})
    assert texts(validate_create(DEPLOY, obj)) == [
        'spec.template.metadata.labels: Invalid value: {"app":"b","tier":"web"}: `selector` does'
        " not match template `labels`"
    ]
    assert validate_create(DEPLOY, deployment({"matchLabels": {"app": "a"}}, {"app": "a"})) == []


def test_deployment_without_selector() -> None:
    assert texts(validate_create(DEPLOY, deployment(None, {"app": "a"}, replicas=-1))) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: {"app":"a"}: `selector` does not match'
        " template `labels`",
    ]


def test_deployment_empty_selector_and_restart_policy() -> None:
    obj = deployment({}, {"app": "a"})
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert texts(validate_create(DEPLOY, obj)) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_selector_is_immutable_in_apps_v1() -> None:
    old = deployment({"matchLabels": {"app": "a"}}, {"app": "a", "v": "2"})
    new = deployment({"matchLabels": {"app": "a", "v": "2"}}, {"app": "a", "v": "2"})
    assert texts(validate_update(DEPLOY, new, old)) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"a","v":"2"}}: field is immutable'
    ]


def test_statefulset_spec_update_is_limited() -> None:
    old = deployment({"matchLabels": {"app": "a"}}, {"app": "a"}, serviceName="s")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert validate_update(STS, new, old) == []
    new["spec"]["serviceName"] = "t"
    assert texts(validate_update(STS, new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas',"
        " 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit',"
        " 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


def test_job_restart_policy_and_immutable_template() -> None:
    job = {
        "metadata": meta("j"),
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    assert texts(validate_create(JOB, job)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values:'
        ' "OnFailure", "Never"'
    ]
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert validate_create(JOB, job) == []
    changed = copy.deepcopy(job)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "y"
    [cause] = validate_update(JOB, changed, job)
    assert cause.field == "spec.template"
    assert cause.message.endswith(": field is immutable")


# --- Service --------------------------------------------------------------------------------


def test_service_ports() -> None:
    svc = {"metadata": meta("s"), "spec": {}}
    assert texts(validate_create(SERVICE, svc)) == ["spec.ports: Required value"]
    assert validate_create(SERVICE, {"metadata": meta("s"), "spec": {"clusterIP": "None"}}) == []
    ports = [{"port": 0, "protocol": "ICMP"}, {"name": "b", "port": 81}]
    causes = validate_create(
        SERVICE, {"metadata": meta("s"), "spec": {"ports": ports, "type": "Mesh"}}
    )
    assert texts(causes) == [
        "spec.ports[0].name: Required value",
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.type: Unsupported value: "Mesh": supported values: "ClusterIP", "ExternalName",'
        ' "LoadBalancer", "NodePort"',
    ]


def test_service_external_name_and_cluster_ip() -> None:
    ext = {"metadata": meta("s"), "spec": {"type": "ExternalName"}}
    assert texts(validate_create(SERVICE, ext)) == ["spec.externalName: Required value"]
    old = {"metadata": meta("s"), "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}}
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.0.0.2"
    assert texts(validate_update(SERVICE, new, old)) == [
        'spec.clusterIPs[0]: Invalid value: ["10.0.0.2"]: may not change once set'
    ]


# --- CustomResourceDefinition ---------------------------------------------------------------


def crd(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object"}},
                    }
                },
            }
        ],
    }
    spec.update(overrides)
    return {"metadata": {"name": f"{spec['names']['plural']}.{spec['group']}"}, "spec": spec}


def test_valid_crd_passes() -> None:
    assert validate_create(CRD, crd()) == []


def test_crd_name_must_be_plural_dot_group() -> None:
    obj = crd()
    obj["metadata"]["name"] = "gadgets.example.com"
    assert texts(validate_create(CRD, obj)) == [
        'metadata.name: Invalid value: "gadgets.example.com": must be'
        ' spec.names.plural+"."+spec.group'
    ]


def test_crd_spec_rules() -> None:
    obj = crd(group="example", scope="Galaxy")
    obj["spec"]["versions"][0]["schema"] = None
    obj["spec"]["versions"][0]["storage"] = False
    assert texts(validate_create(CRD, obj)) == [
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
        'spec.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"',
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
        'spec.versions: Invalid value: [{"name":"v1","served":true,"storage":false,"schema":null}]:'
        " must have exactly one version marked as storage version",
    ]


def test_crd_structural_schema() -> None:
    obj = crd()
    schema = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"] = {"properties": {"size": {"type": "integer"}}}
    assert texts(validate_create(CRD, obj)) == [
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not"
        " be empty for specified object fields"
    ]
    schema["type"] = "array"
    schema["properties"]["spec"]["type"] = "object"
    assert texts(validate_create(CRD, obj)) == [
        'spec.validation.openAPIV3Schema.type: Invalid value: "array": must be object at'
        " the root"
    ]


def test_crd_names() -> None:
    names = {"plural": "Widgets", "singular": "widget", "kind": "Wid_get", "listKind": "Wid_get"}
    obj = crd(names=names)
    causes = texts(validate_create(CRD, obj))
    assert (
        'spec.names.listKind: Invalid value: "Wid_get": kind and listKind may not be the same'
        in causes
    )
    assert any(
        c.startswith('spec.names.kind: Invalid value: "Wid_get": may have mixed case, but')
        for c in causes
    )
    assert any(
        c.startswith('spec.names.plural: Invalid value: "Widgets": a DNS-1035 label')
        for c in causes
    )


# --- custom resources -----------------------------------------------------------------------

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "when": {"type": "string", "format": "date-time"},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True},
            },
        },
    },
}
WIDGET = ResourceType(
    group="example.com",
    version="v1",
    kind="Widget",
    plural="widgets",
    singular="widget",
    namespaced=True,
    crd={"name": "v1", "schema": {"openAPIV3Schema": WIDGET_SCHEMA}},
)


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": meta("w"),
        "spec": {"size": 3, **spec},
    }


def test_custom_resource_type_error_matches_apiextensions() -> None:
    causes = validate_create(WIDGET, widget(size="three"))
    assert causes == [
        Cause(
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.size in body must be of type integer: "string"',
            "spec.size",
        )
    ]


def test_custom_resource_value_rules() -> None:
    obj = widget(size=11, color="green", name="ABCDEFG", tags=["a", "b", "c"], port=1.5)
    obj["spec"]["when"] = "yesterday"
    assert texts(validate_create(WIDGET, obj)) == [
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
        "spec.tags: Too many: 3: must have at most 2 items",
        'spec.port: Invalid value: "number": spec.port in body must be of type integer,string:'
        ' "number"',
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time:'
        ' "yesterday"',
    ]


def test_custom_resource_required_minimum_and_embedded() -> None:
    obj = widget(template={"metadata": {}})
    del obj["spec"]["size"]
    assert texts(validate_create(WIDGET, obj)) == [
        "spec.size: Required value",
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty",
    ]
    assert texts(validate_create(WIDGET, widget(size=0))) == [
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
    ]
    assert (
        validate_create(WIDGET, widget(port="http", labels={"a": "b"}, free={"x": {"y": 1}})) == []
    )


def test_custom_resource_name_uses_generic_meta_rules() -> None:
    obj = widget()
    obj["metadata"] = {"name": "W", "namespace": "d", "finalizers": ["plain"]}
    assert texts(validate_create(WIDGET, obj)) == [
        f'metadata.name: Invalid value: "W": {SUBDOMAIN_MSG}'
    ]


def test_pruning_and_unknown_fields_of_custom_resources() -> None:
    obj = widget(
        extra=1,
        free={"kept": True},
        labels={"a": "b"},
        template={"apiVersion": "v1", "kind": "X", "junk": 1},
    )
    obj["metadata"]["bogus"] = "x"
    obj["status"] = {"phase": "Up"}
    obj["spec"]["tags"] = ["a"]
    assert unknown_fields(WIDGET, obj) == [
        "metadata.bogus",
        "spec.extra",
        "spec.template.junk",
        "status",
    ]
    pruned = prune_custom_resource(WIDGET, obj)
    assert pruned["spec"] == {
        "size": 3,
        "free": {"kept": True},
        "labels": {"a": "b"},
        "template": {"apiVersion": "v1", "kind": "X"},
        "tags": ["a"],
    }
    assert "bogus" not in pruned["metadata"]
    assert "status" not in pruned
    assert obj["spec"]["extra"] == 1  # the input is left alone


def test_unknown_fields_of_builtin_kinds() -> None:
    obj = pod()
    obj["apiVersion"], obj["kind"] = "v1", "Pod"
    obj["spec"]["containers"][0]["imagePullPolicyX"] = "Always"
    obj["spec"]["foo"] = 1
    obj["metadata"]["labels"] = {"any": "thing"}
    obj["metadata"]["nope"] = True
    assert unknown_fields(POD, obj) == [
        "metadata.nope",
        "spec.containers[0].imagePullPolicyX",
        "spec.foo",
    ]
    assert unknown_fields(CM, {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}) == []


# --- value rendering ------------------------------------------------------------------------


def test_go_value_rendering() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert [go_float(x) for x in (1.0, 2.5, 1e6, 123456.0, 1e-5)] == [
        "1",
        "2.5",
        "1e+06",
        "123456",
        "1e-05",
    ]


def test_deployment_without_template_validates_an_empty_one() -> None:
    obj = {"metadata": meta("d"), "spec": {"selector": {"matchLabels": {"app": "a"}}}}
    assert texts(validate_create(DEPLOY, obj)) == [
        "spec.template.metadata.labels: Invalid value: null: `selector` does not match template"
        " `labels`",
        "spec.template.spec.containers: Required value",
    ]


def test_custom_resource_without_schema_keeps_everything() -> None:
    open_rt = ResourceType(
        group="example.com",
        version="v1",
        kind="Blob",
        plural="blobs",
        singular="blob",
        namespaced=False,
        crd={"name": "v1"},
    )
    obj = {"apiVersion": "example.com/v1", "kind": "Blob", "metadata": {"name": "b"}, "x": {"y": 1}}
    assert validate_create(open_rt, obj) == []
    assert unknown_fields(open_rt, obj) == []
    assert prune_custom_resource(open_rt, obj) == obj
