"""Label and field selectors behave, and fail, as kube-apiserver v1.36's do.

Expected error texts come from k8s.io/apimachinery v0.36 pkg/labels/selector.go,
pkg/fields/selector.go, pkg/api/validate/content/{kube,errors,dns}.go and
pkg/util/validation/field/errors.go; per-kind field support and rejection texts from kubernetes
pkg/apis/core/v1/conversion.go, pkg/apis/events/v1/conversion.go, pkg/apis/batch/v1/conversion.go,
pkg/apis/certificates/v1/conversion.go, pkg/apis/resource/v1/conversion.go,
k8s.io/apimachinery pkg/runtime/conversion.go (DefaultMetaV1FieldSelectorConversion) and
apiextensions-apiserver pkg/apiserver/conversion/converter.go (crConverter.ConvertFieldLabel).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from strom.errors import StatusError
from strom.selectors import (
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
)
from tests.captures import KUBE_APISERVER_V1_36

REFERENCE = KUBE_APISERVER_V1_36

VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue' or 'my_value'"
    " or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName' or 'my.name' or '123-abc', regex used for validation"
    " is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def label_error(text: str) -> str:
    with pytest.raises(StatusError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


def field_error(text: str, **kind: Any) -> str:
    with pytest.raises(StatusError) as caught:
        parse_field_selector(text, **kind)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


# --- label selectors: matching ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "matching", "not_matching"),
    [
        ("a=b", [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"a": ""}]),
        ("a==b", [{"a": "b"}], [{"a": "bb"}, {}]),
        ("a!=b", [{}, {"a": "c"}, {"a": ""}], [{"a": "b"}]),
        ("a in (x,y)", [{"a": "x"}, {"a": "y"}], [{}, {"a": "z"}]),
        ("a notin (x)", [{}, {"a": "y"}], [{"a": "x"}]),
        ("a notin (x,y)", [{}, {"a": "z"}], [{"a": "x"}, {"a": "y"}]),
        ("a", [{"a": ""}, {"a": "v"}], [{}, {"b": "a"}]),
        ("!a", [{}, {"b": "a"}], [{"a": ""}]),
        ("a>1", [{"a": "2"}, {"a": "+5"}], [{"a": "1"}, {"a": "x"}, {}, {"a": "1.5"}]),
        ("a<1", [{"a": "0"}, {"a": "-3"}], [{"a": "1"}, {"a": "zero"}, {}]),
        ("a=", [{"a": ""}], [{}, {"a": "x"}]),
        ("a in ()", [{"a": ""}], [{}, {"a": "x"}]),  # "()" is the set {""}
        ("a in (x,,y)", [{"a": ""}, {"a": "x"}], [{}, {"a": "z"}]),
        ("a in (x,)", [{"a": ""}, {"a": "x"}], [{"a": "y"}]),
        (
            "a=b,c!=d,!e",
            [{"a": "b"}, {"a": "b", "c": "x"}],
            [{"a": "b", "c": "d"}, {"a": "b", "e": ""}],
        ),
        ("  a = b ,\tc\n", [{"a": "b", "c": ""}], [{"a": "b"}]),
        ("in in (in, notin)", [{"in": "in"}, {"in": "notin"}], [{"in": "x"}]),
        ("example.com/k-1.x_y=V.1", [{"example.com/k-1.x_y": "V.1"}], [{"k-1.x_y": "V.1"}]),
    ],
)
def test_label_operators(
    text: str, matching: list[dict[str, str]], not_matching: list[dict[str, str]]
) -> None:
    selector = parse_label_selector(text)
    assert not selector.empty
    for labels in matching:
        assert selector.matches(labels), labels
    for labels in not_matching:
        assert not selector.matches(labels), labels


@pytest.mark.parametrize("text", ["", " ", "\t\n"])
def test_empty_label_selector_matches_everything(text: str) -> None:
    selector = parse_label_selector(text)
    assert selector.empty
    assert selector.matches(None)
    assert selector.matches({"anything": "at all"})


def test_only_kube_whitespace_separates() -> None:
    assert label_error("\v").startswith('unable to parse requirement: <nil>: Invalid value: "\\v"')


def test_missing_labels_count_as_none() -> None:
    assert parse_label_selector("!a").matches(None)
    assert parse_label_selector("a!=b").matches(None)
    assert not parse_label_selector("a").matches(None)


def test_gt_lt_respect_int64() -> None:
    big = parse_label_selector("a>9223372036854775806")
    assert big.matches({"a": "9223372036854775807"})
    assert not big.matches({"a": "9223372036854775808"})  # overflows: not an integer to kube
    assert not parse_label_selector("a<5").matches({"a": "1_0"})


def test_requirements_print_sorted_by_key() -> None:
    assert str(parse_label_selector("z in (b,a),a!=x,!m,k")) == "a!=x,k,!m,z in (a,b)"


# --- label selectors: errors -----------------------------------------------------------------
def test_reference_capture_message() -> None:
    expected = "unable to parse requirement: found '=', expected: identifier"
    assert label_error("a===b") == expected
    capture = REFERENCE / "400-bad-label-selector.txt"
    if capture.exists():  # the byte-exact capture of kube-apiserver v1.36.2
        body = orjson.loads(capture.read_text().strip().splitlines()[-1])
        assert body["message"] == label_error("a===b")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("! =a", "unable to parse requirement: found '=', expected: identifier"),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),  # longest operator
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,=b", "found '=', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
    ],
)
def test_label_syntax_errors(text: str, message: str) -> None:
    assert label_error(text) == message


def test_label_key_errors() -> None:
    assert label_error("x/y/z") == (
        'unable to parse requirement: <nil>: Invalid value: "x/y/z": a valid label key '
        + NAME_RULE
        + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )
    assert label_error("/a") == (
        'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'
    )
    assert label_error("a/") == (
        'unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty;'
        " name part " + NAME_RULE
    )
    assert label_error("Ex.com/a=b") == (
        'unable to parse requirement: <nil>: Invalid value: "Ex.com/a": prefix part a lowercase'
        " RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and"
        " must start and end with an alphanumeric character (e.g. 'example.com', regex used for"
        " validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    long_name = "k" * 64
    assert label_error(long_name) == (
        f'unable to parse requirement: <nil>: Invalid value: "{long_name}": name part must be no'
        " more than 63 bytes"
    )


def test_label_value_errors() -> None:
    assert label_error('a=b"c') == (
        'unable to parse requirement: values[0][a]: Invalid value: "b\\"c": ' + VALUE_RULE
    )
    # values are sorted before validation, errors aggregate in brackets
    assert label_error("a in (y_,-x)") == (
        'unable to parse requirement: [values[0][a]: Invalid value: "-x": '
        + VALUE_RULE
        + ', values[1][a]: Invalid value: "y_": '
        + VALUE_RULE
        + "]"
    )
    assert label_error("a=" + "v" * 64) == (
        f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": must be no more'
        " than 63 bytes"
    )


def test_gt_lt_value_errors() -> None:
    integer = "for 'Gt', 'Lt' operators, the value must be an integer"
    prefix = "unable to parse requirement: values[0]: Invalid value:"
    assert label_error("a>x") == f'{prefix} "x": {integer}'
    assert label_error("a<") == f'{prefix} "": {integer}'
    # "-1" is an integer but not a label value
    assert label_error("a>-1") == (
        'unable to parse requirement: values[0][a]: Invalid value: "-1": ' + VALUE_RULE
    )
    assert label_error("a>x_") == (
        f'unable to parse requirement: [values[0]: Invalid value: "x_": {integer}, '
        'values[0][a]: Invalid value: "x_": ' + VALUE_RULE + "]"
    )


# --- selector from a metav1.LabelSelector -------------------------------------------------------
def test_selector_from_object() -> None:
    selector = label_selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "track", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "a", "track": ""})
    assert selector.matches({"app": "web", "tier": "b", "track": "x", "env": "dev"})
    assert not selector.matches({"app": "web", "tier": "a", "track": "", "env": "prod"})
    assert not selector.matches({"app": "web", "tier": "a"})
    assert not selector.matches({"app": "web", "tier": "a", "track": "", "legacy": "1"})
    assert not selector.matches({"app": "api", "tier": "a", "track": ""})


def test_selector_from_object_nil_and_empty() -> None:
    nothing = label_selector_from_object(None)
    assert not nothing.empty
    assert not nothing.matches({}) and not nothing.matches({"a": "b"})
    everything = label_selector_from_object({})
    assert everything.empty and everything.matches({"a": "b"})
    assert label_selector_from_object({"matchLabels": {}, "matchExpressions": []}).empty


def test_selector_from_object_errors() -> None:
    with pytest.raises(StatusError) as caught:
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Gt"}]})
    assert caught.value.message == '"Gt" is not a valid label selector operator'
    with pytest.raises(StatusError) as caught:
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "In"}]})
    assert caught.value.message == (
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    )
    with pytest.raises(StatusError) as caught:
        label_selector_from_object({"matchLabels": {"bad key": "v"}})
    assert caught.value.message == 'key: Invalid value: "bad key": name part ' + NAME_RULE


# --- field selectors ---------------------------------------------------------------------------
POD: dict[str, Any] = {"group": "", "kind": "Pod"}
CM: dict[str, Any] = {"group": "", "kind": "ConfigMap"}


def pod(**fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {}}
    for path, value in fields.items():
        section, _, key = path.partition("__")
        obj[section][key] = value
    return obj


def test_field_operators() -> None:
    equal = parse_field_selector("metadata.name=p", **POD)
    double = parse_field_selector("metadata.name==p", **POD)
    differ = parse_field_selector("metadata.name!=p", **POD)
    for selector in (equal, double):
        assert selector.matches(pod()) and not selector.matches({"metadata": {"name": "q"}})
    assert not differ.matches(pod()) and differ.matches({"metadata": {"name": "q"}})
    both = parse_field_selector("metadata.namespace=ns,status.phase!=Running", **POD)
    assert both.matches(pod(status__phase="Pending"))
    assert not both.matches(pod(status__phase="Running"))


@pytest.mark.parametrize("text", ["", ",", ",,"])
def test_empty_field_selector(text: str) -> None:
    selector = parse_field_selector(text, **POD)
    assert selector.empty
    assert selector.matches({})
    assert selector.exact_name() is None


def test_field_escaping() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d,metadata.namespace=x", **CM)
    assert selector.exact_name() == "a,b=c\\d"
    assert selector.matches({"metadata": {"name": "a,b=c\\d", "namespace": "x"}})
    assert not selector.matches({"metadata": {"name": "a", "namespace": "x"}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
        ("a=1,bar", "invalid selector: 'a=1,bar'; can't understand 'bar'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name!==b", "invalid field selector: unescaped character in value: 61"),
        (r"metadata.name=a\x", "invalid field selector: invalid escape sequence: \\x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_syntax_errors(text: str, message: str) -> None:
    assert field_error(text, **POD) == message


def test_unsupported_field_messages() -> None:
    assert field_error("foo=bar", **CM) == (
        '"foo" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    assert field_error("status.replicas=1", group="apps", kind="ReplicaSet") == (
        '"status.replicas" is not a known field selector: only "metadata.name",'
        ' "metadata.namespace"'
    )
    assert field_error("foo=bar", **POD) == "field label not supported: foo"
    assert field_error("foo=1", group="batch", kind="Job") == (
        'field label "foo" not supported for Job'
    )
    assert field_error("x=1", group="resource.k8s.io", kind="ResourceSlice") == (
        "field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: x"
    )
    # terms are checked in sorted order, so the first bad one named is the smallest
    assert field_error("zeta=1,alpha=2", **POD) == "field label not supported: alpha"
    # a syntax error anywhere wins over an unsupported field
    assert field_error("zzz=1,foo", **POD) == (
        "invalid selector: 'zzz=1,foo'; can't understand 'foo'"
    )


@pytest.mark.parametrize(
    ("group", "kind", "accepted", "refused"),
    [
        (
            "",
            "Pod",
            [
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
                "spec.host",
            ],
            ["spec.hostIPC", "status.hostIP"],
        ),
        (
            "",
            "Event",
            [
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
                "metadata.name",
                "metadata.namespace",
            ],
            ["regarding.name", "message"],
        ),
        (
            "events.k8s.io",
            "Event",
            [
                "regarding.kind",
                "regarding.name",
                "reportingController",
                "reason",
                "source",
                "type",
                "metadata.name",
            ],
            ["involvedObject.name", "reportingComponent"],
        ),
        ("", "Secret", ["type", "metadata.name", "metadata.namespace"], ["data"]),
        ("", "Namespace", ["status.phase", "metadata.name"], ["metadata.namespace", "name"]),
        ("", "Node", ["spec.unschedulable", "metadata.name"], ["metadata.namespace"]),
        ("", "ReplicationController", ["status.replicas", "metadata.namespace"], ["spec.replicas"]),
        ("", "Service", ["spec.clusterIP", "spec.type", "metadata.namespace"], ["spec.ports"]),
        ("batch", "Job", ["status.successful", "metadata.namespace"], ["status.succeeded"]),
        (
            "certificates.k8s.io",
            "CertificateSigningRequest",
            ["spec.signerName", "metadata.name"],
            ["metadata.namespace"],
        ),
        (
            "certificates.k8s.io",
            "PodCertificateRequest",
            ["spec.podName", "spec.nodeName"],
            ["metadata.namespace"],
        ),
        ("resource.k8s.io", "ResourceSlice", ["spec.nodeName", "spec.driver"], ["spec.pool"]),
        ("apps", "Deployment", ["metadata.name", "metadata.namespace"], ["status.replicas"]),
        (
            "storage.k8s.io",
            "StorageClass",
            ["metadata.name", "metadata.namespace"],
            ["provisioner"],
        ),
    ],
)
def test_per_kind_support(group: str, kind: str, accepted: list[str], refused: list[str]) -> None:
    for field in accepted:
        parse_field_selector(f"{field}=x", group=group, kind=kind)
    for field in refused:
        with pytest.raises(StatusError):
            parse_field_selector(f"{field}=x", group=group, kind=kind)


def test_pod_field_values() -> None:
    host_net = parse_field_selector("spec.hostNetwork=false", **POD)
    assert host_net.matches(pod())  # an absent bool reads as "false"
    assert not host_net.matches(pod(spec__hostNetwork=True))
    assert parse_field_selector("spec.hostNetwork=true", **POD).matches(pod(spec__hostNetwork=True))
    no_node = parse_field_selector("spec.nodeName=", **POD)
    assert no_node.matches(pod()) and not no_node.matches(pod(spec__nodeName="n1"))
    legacy = parse_field_selector("spec.host=n1", **POD)
    assert legacy.matches(pod(spec__nodeName="n1")) and not legacy.matches(pod())
    ip = parse_field_selector("status.podIP=10.0.0.1", **POD)
    assert ip.matches(pod(status__podIPs=[{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]))
    assert ip.matches(pod(status__podIP="10.0.0.1"))
    assert not ip.matches(pod(status__podIPs=[{"ip": "fd00::1"}, {"ip": "10.0.0.1"}]))
    # accepted upstream but never filled in: only "" matches
    assert not parse_field_selector("status.podIPs=10.0.0.1", **POD).matches(
        pod(status__podIPs=[{"ip": "10.0.0.1"}])
    )


def test_other_kinds_field_values() -> None:
    job = parse_field_selector("status.successful=2", group="batch", kind="Job")
    assert job.matches({"status": {"succeeded": 2}}) and not job.matches({"status": {}})
    assert parse_field_selector("status.successful=0", group="batch", kind="Job").matches({})
    rc = parse_field_selector("status.replicas=0", group="", kind="ReplicationController")
    assert rc.matches({"status": {}}) and not rc.matches({"status": {"replicas": 3}})
    node = parse_field_selector("spec.unschedulable=true", group="", kind="Node")
    assert node.matches({"spec": {"unschedulable": True}}) and not node.matches({"spec": {}})
    secret = parse_field_selector("type=kubernetes.io/tls", group="", kind="Secret")
    assert secret.matches({"type": "kubernetes.io/tls"}) and not secret.matches({"type": "Opaque"})
    # cluster-scoped objects have no namespace: it reads as ""
    sc: dict[str, Any] = {"group": "storage.k8s.io", "kind": "StorageClass"}
    assert parse_field_selector("metadata.namespace=", **sc).matches({"metadata": {"name": "s"}})
    assert not parse_field_selector("metadata.namespace=x", **sc).matches({"metadata": {}})


def test_event_fields_read_both_event_shapes() -> None:
    core = {
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "source": {"component": "kubelet"},
        "reportingComponent": "kubelet-r",
    }
    new = {
        "regarding": {"kind": "Pod", "name": "p"},
        "reason": "Started",
        "reportingController": "ctrl",
        "deprecatedSource": {},
    }
    core_sel = parse_field_selector(
        "involvedObject.name=p,involvedObject.kind=Pod", group="", kind="Event"
    )
    new_sel = parse_field_selector(
        "regarding.name=p,regarding.kind=Pod", group="events.k8s.io", kind="Event"
    )
    for selector in (core_sel, new_sel):
        assert selector.matches(core) and selector.matches(new)
        assert not selector.matches({"involvedObject": {"kind": "Pod", "name": "q"}})
    source = parse_field_selector("source=kubelet", group="", kind="Event")
    assert source.matches(core) and not source.matches(new)
    # with no source component, source falls back to the reporting controller
    assert parse_field_selector("source=ctrl", group="", kind="Event").matches(new)
    reporter = parse_field_selector("reportingController=ctrl", group="events.k8s.io", kind="Event")
    assert reporter.matches(new) and not reporter.matches(core)


def test_custom_resource_fields() -> None:
    widget: dict[str, Any] = {
        "group": "example.com",
        "kind": "Widget",
        "selectable": [".spec.color", ".spec.size", ".spec.on"],
    }
    obj = {
        "metadata": {"name": "w", "namespace": "ns"},
        "spec": {"color": "red", "size": 3, "on": True},
    }
    assert parse_field_selector("spec.color=red", **widget).matches(obj)
    assert parse_field_selector("spec.size=3,spec.on=true", **widget).matches(obj)
    assert parse_field_selector("spec.color=", **widget).matches({"spec": {}})
    assert not parse_field_selector("spec.color!=red", **widget).matches(obj)
    assert parse_field_selector("metadata.namespace=ns", **widget).matches(obj)
    assert field_error("spec.shape=x", **widget) == "field label not supported: spec.shape"
    assert field_error("metadata.namespace=ns", namespaced=False, **widget) == (
        "field label not supported: metadata.namespace"
    )
    plain: dict[str, Any] = {"group": "example.com", "kind": "Gadget"}
    assert field_error("spec.color=red", **plain) == "field label not supported: spec.color"


def test_exact_name_and_namespace() -> None:
    selector = parse_field_selector("metadata.namespace==ns,metadata.name=p", **POD)
    assert selector.exact_name() == "p"
    assert selector.exact_namespace() == "ns"
    negated = parse_field_selector("metadata.name!=p", **POD)
    assert negated.exact_name() is None and negated.exact_namespace() is None
    assert parse_field_selector("status.phase=Running", **POD).exact_name() is None
