"""Kubernetes protobuf decoding: the wire reader, the envelope, JSON semantics, bad input.

Bodies are built by hand with the tiny encoder below, from field numbers in kube's
generated.proto files, so each test states exactly which bytes it feeds in. The tables
themselves are proven against kubectl in tests/integration/test_protobuf_kubectl.py.
"""

from __future__ import annotations

import base64
import itertools
import logging
from typing import Any

import orjson
import pytest

from strom.errors import StatusError
from strom.server.protobuf import MAGIC, SUPPORTED_KINDS, decode_k8s_protobuf
from strom.server.protobuf.schema import MESSAGES, parse_tables
from strom.server.protobuf.wire import (
    WireError,
    iter_fields,
    read_varint,
    signed64,
    unpack_varints,
)
from tests.captures import KUBE_APISERVER_V1_36


# --- a minimal encoder ---------------------------------------------------------------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negatives as 64-bit two's complement, like Go's int32/int64
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or sub-message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map<string, _> entry."""
    return ld(number, ld(1, key) + ld(2, value))


def body(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = ld(1, api_version) + ld(2, kind)
    return MAGIC + ld(1, type_meta) + ld(2, raw) + ld(3, "") + ld(4, "")


def meta(name: str, *extra: bytes) -> bytes:
    return ld(1, ld(1, name) + b"".join(extra))


def bad_request(raw: bytes, **kwargs: Any) -> str:
    with pytest.raises(StatusError) as caught:
        decode_k8s_protobuf(raw, **kwargs)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


# --- wire -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**63, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = varint(value) + b"\xff"
    assert read_varint(encoded, 0) == (value, len(encoded) - 1)


def test_negative_int32_is_ten_byte_varint() -> None:
    encoded = varint(-5)
    assert len(encoded) == 10
    raw, _ = read_varint(encoded, 0)
    assert signed64(raw) == -5


def test_varint_errors() -> None:
    with pytest.raises(WireError, match="unexpected EOF"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(WireError, match="integer overflow"):
        read_varint(b"\xff" * 11, 0)


def test_iter_fields_all_wire_types() -> None:
    data = vi(1, 150) + ld(2, "hi") + varint(3 << 3 | 1) + (7).to_bytes(8, "little")
    data += varint(4 << 3 | 5) + (9).to_bytes(4, "little")
    assert list(iter_fields(data)) == [(1, 0, 150), (2, 2, b"hi"), (3, 1, 7), (4, 5, 9)]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (varint(1 << 3 | 3), "illegal wireType 3"),  # groups are never used by kube
        (ld(1, "abc")[:-1], "unexpected EOF"),
        (varint(1 << 3 | 1) + b"\x00" * 4, "unexpected EOF"),
        (varint(0 << 3 | 0) + varint(1), "illegal tag 0"),
    ],
)
def test_iter_fields_errors(data: bytes, error: str) -> None:
    with pytest.raises(WireError, match=error):
        list(iter_fields(data))


def test_unpack_varints() -> None:
    assert unpack_varints(varint(1) + varint(300) + varint(2**40)) == [1, 300, 2**40]


# --- envelope and errors -----------------------------------------------------------------------
def test_configmap_envelope_and_maps() -> None:
    raw = (
        meta("cm", ld(3, "default"), entry(11, "app", "web"))
        + entry(2, "a", "1")
        + entry(2, "empty", "")
        + entry(3, "bin", b"\x00\xff")
        + vi(4, 1)
    )
    assert decode_k8s_protobuf(body("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "web"}},
        "data": {"a": "1", "empty": ""},
        "binaryData": {"bin": base64.b64encode(b"\x00\xff").decode()},
        "immutable": True,
    }


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "empty data (<empty>)"),
        (MAGIC, "empty body (6b387300)"),
        (
            b'{"kind":"ConfigMap"}',
            "provided data does not appear to be a protobuf message, expected prefix "
            "[107 56 115 0] (7b226b696e64223a22436f6e6669674d6170227d)",
        ),
        (MAGIC + ld(1, "x")[:-1], "unexpected EOF (6b3873000a01)"),
    ],
)
def test_malformed_envelope_uses_kube_wording(raw: bytes, error: str) -> None:
    message = bad_request(raw, expected_kind="ConfigMap")
    assert message == f"the object provided is unrecognized (must be of type ConfigMap): {error}"


def test_long_body_summary_is_30_bytes_of_hex() -> None:
    raw = MAGIC + b"\x0a\xff" + b"x" * 40  # length 127 > what follows
    message = bad_request(raw, expected_kind="Secret")
    assert message.endswith(f"unexpected EOF ({raw[:30].hex()} ...)")


def test_malformed_object_names_kind_and_version() -> None:
    raw = body("apps/v1", "Deployment", ld(2, vi(1, 1)[:1]))  # spec with a dangling key
    assert bad_request(raw, expected_kind="Deployment") == (
        'Deployment in version "v1" cannot be handled as a Deployment: unexpected EOF'
    )


def test_wrong_wire_type_is_bad_request() -> None:
    raw = body("v1", "ConfigMap", vi(2, 5))  # data (a map) sent as a varint
    assert bad_request(raw) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        "proto: wrong wireType = 0 for field Data"
    )


def test_missing_kind_uses_expected_kind_or_fails() -> None:
    raw = MAGIC + ld(1, ld(1, "v1")) + ld(2, meta("n"))
    assert decode_k8s_protobuf(raw, expected_kind="Namespace")["metadata"] == {"name": "n"}
    assert bad_request(raw) == (
        """Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:"v1", Kind:""}'"""
    )


def test_kind_without_table_is_415() -> None:
    with pytest.raises(StatusError) as caught:
        decode_k8s_protobuf(body("example.com/v1", "Widget", b""))
    assert caught.value.code == 415
    assert caught.value.reason == "UnsupportedMediaType"


def test_unknown_fields_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    raw = meta("x", vi(99, 7)) + ld(77, "future") + vi(4, 0)
    with caplog.at_level(logging.DEBUG, logger="strom.server.protobuf.decode"):
        obj = decode_k8s_protobuf(body("v1", "ConfigMap", raw))
    assert obj == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "x"},
        "immutable": False,  # a set pointer stays, even false
    }
    assert "meta.ObjectMeta.99" in caplog.text
    assert "core.ConfigMap.77" in caplog.text


def test_delete_options_under_any_api_version() -> None:
    raw = vi(1, 0) + ld(4, "Foreground") + ld(5, "All")
    for api_version in ("meta.k8s.io/v1", "v1", "apps/v1", "example.com/v1"):
        obj = decode_k8s_protobuf(body(api_version, "DeleteOptions", raw))
        assert obj == {
            "kind": "DeleteOptions",
            "apiVersion": api_version,
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        }


def test_supported_kinds_cover_the_brief() -> None:
    wanted = {
        ("v1", k)
        for k in (
            "Namespace",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Service",
            "Pod",
            "ResourceQuota",
            "Event",
        )
    } | {
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("coordination.k8s.io/v1", "Lease"),
        ("meta.k8s.io/v1", "DeleteOptions"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authentication.k8s.io/v1", "TokenReview"),
    }
    assert wanted <= SUPPORTED_KINDS


# --- JSON semantics ---------------------------------------------------------------------------
def _deployment(replicas: bytes, pod_spec: bytes) -> bytes:
    template = ld(1, b"") + ld(2, pod_spec)  # metadata {} as gogo writes it
    spec = replicas + ld(3, template) + ld(4, b"")  # strategy: empty non-pointer struct
    return body("apps/v1", "Deployment", meta("d") + ld(2, spec) + ld(3, b""))


def test_pointers_keep_zero_and_empty_but_empty_structs_go() -> None:
    volume = ld(1, "scratch") + ld(2, ld(2, b""))  # emptyDir: {} (a pointer, set)
    container = ld(1, "c") + ld(2, "nginx") + ld(8, b"")  # resources: {} (not a pointer)
    obj = decode_k8s_protobuf(_deployment(vi(1, 0), ld(1, volume) + ld(2, container)))
    assert obj["spec"] == {
        "replicas": 0,
        "template": {
            "spec": {
                "volumes": [{"name": "scratch", "emptyDir": {}}],
                "containers": [{"name": "c", "image": "nginx"}],
            }
        },
    }
    assert "status" not in obj


def test_go_json_mode_prints_what_go_prints() -> None:
    container = ld(1, "c")
    obj = decode_k8s_protobuf(_deployment(b"", ld(2, container)), go_json=True)
    assert obj["status"] == {}
    assert obj["spec"]["selector"] is None  # pointer without omitempty
    assert obj["spec"]["strategy"] == {}
    assert obj["spec"]["template"]["metadata"] == {}
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "c", "resources": {}}]


def test_int_or_string_quantity_and_negative_ints() -> None:
    port_by_number = ld(1, "a") + vi(3, 80) + ld(4, vi(1, 0) + vi(2, 8080))
    port_by_name = ld(1, "b") + vi(3, 443) + ld(4, vi(1, 1) + ld(3, "https"))
    spec = ld(1, port_by_number) + ld(1, port_by_name) + vi(12, -1 & 0xFFFFFFFFFFFFFFFF)
    obj = decode_k8s_protobuf(body("v1", "Service", meta("s") + ld(2, spec)))
    assert obj["spec"]["ports"] == [
        {"name": "a", "port": 80, "targetPort": 8080},
        {"name": "b", "port": 443, "targetPort": "https"},
    ]
    assert obj["spec"]["healthCheckNodePort"] == -1

    limits = entry(1, "cpu", ld(1, "500m")) + entry(1, "memory", ld(1, "128Mi"))
    container = ld(1, "c") + ld(8, limits)
    pod = decode_k8s_protobuf(body("v1", "Pod", meta("p") + ld(2, ld(2, container))))
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "128Mi"}}


def test_times() -> None:
    created = ld(8, vi(1, 1_700_000_000) + vi(2, 999))  # nanos dropped, as Time does
    zero = ld(8, b"")
    assert decode_k8s_protobuf(body("v1", "Namespace", meta("a", created)))["metadata"] == {
        "name": "a",
        "creationTimestamp": "2023-11-14T22:13:20Z",
    }
    assert decode_k8s_protobuf(body("v1", "Namespace", meta("b", zero)))["metadata"] == {
        "name": "b"
    }
    renew = ld(4, vi(1, 1_700_000_000) + vi(2, 123_456_789))  # MicroTime keeps microseconds
    lease = decode_k8s_protobuf(
        body("coordination.k8s.io/v1", "Lease", meta("l") + ld(2, ld(1, "me") + renew))
    )
    assert lease["spec"] == {"holderIdentity": "me", "renewTime": "2023-11-14T22:13:20.123456Z"}


def test_fields_v1_and_raw_extension() -> None:
    fields = orjson.dumps({"f:data": {"f:a": {}}})
    managed = ld(17, ld(1, "kubectl") + ld(2, "Update") + ld(6, "FieldsV1") + ld(7, ld(1, fields)))
    nested = body("v1", "ConfigMap", meta("inner"))
    revision = decode_k8s_protobuf(
        body("apps/v1", "ControllerRevision", meta("r", managed) + ld(2, ld(1, nested)) + vi(3, 2))
    )
    assert revision["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Update",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]
    assert revision["data"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "inner"},
    }
    as_json = body("apps/v1", "ControllerRevision", ld(2, ld(1, b'{"spec":{"x":1}}')))
    assert decode_k8s_protobuf(as_json)["data"] == {"spec": {"x": 1}}


def test_extra_values_are_plain_lists() -> None:
    extra = entry(5, "scopes", ld(1, "a") + ld(1, "b"))
    spec = ld(1, ld(2, "get") + ld(5, "pods")) + ld(3, "alice") + extra
    review = decode_k8s_protobuf(
        body("authorization.k8s.io/v1", "SubjectAccessReview", ld(2, spec))
    )
    assert review["spec"] == {
        "resourceAttributes": {"verb": "get", "resource": "pods"},
        "user": "alice",
        "extra": {"scopes": ["a", "b"]},
    }


def test_packed_and_unpacked_repeated_ints_agree() -> None:
    def pod(groups: bytes) -> dict[str, Any]:
        spec = ld(2, ld(1, "c")) + ld(14, groups)
        return decode_k8s_protobuf(body("v1", "Pod", ld(2, spec)))

    unpacked = pod(vi(4, 1) + vi(4, 2))
    packed = pod(ld(4, varint(1) + varint(2)))
    assert unpacked["spec"]["securityContext"] == {"supplementalGroups": [1, 2]}
    assert packed == unpacked


def test_repeated_message_field_merges_like_protobuf() -> None:
    raw = ld(1, ld(1, "n")) + ld(1, ld(3, "ns"))  # metadata sent in two pieces
    obj = decode_k8s_protobuf(body("v1", "ServiceAccount", raw))
    assert obj["metadata"] == {"name": "n", "namespace": "ns"}


def test_invalid_utf8_becomes_replacement_character() -> None:
    obj = decode_k8s_protobuf(body("v1", "Namespace", meta("a", entry(11, "k", b"\xff"))))
    assert obj["metadata"]["labels"] == {"k": "\ufffd"}


# --- the tables -------------------------------------------------------------------------------
def test_table_notation() -> None:
    parsed = parse_tables(
        "[x]\nThing name=1:s! sub=2:Other? items=3:[t] m=4:{y.Q}\n    ^=5:Inline#\nList [s]\n"
    )
    thing = parsed["x.Thing"]
    assert [(f.json_name, f.number, f.shape, f.elem) for f in thing.fields] == [
        ("name", 1, "one", "s"),
        ("sub", 2, "one", "x.Other"),
        ("items", 3, "list", "t"),
        ("m", 4, "map", "y.Q"),
        ("", 5, "one", "x.Inline"),
    ]
    assert not thing.by_number[1].omitempty
    assert thing.by_number[2].pointer
    assert thing.by_number[5].omitzero
    assert parsed["x.List"].list_of == "s"


def test_tables_know_core_field_numbers() -> None:
    # Spot checks against core/v1 and meta/v1 generated.proto.
    pod_spec = MESSAGES["core.PodSpec"].by_number
    assert (pod_spec[2].json_name, pod_spec[2].elem) == ("containers", "core.Container")
    assert pod_spec[20].json_name == "initContainers"
    assert MESSAGES["meta.ObjectMeta"].by_number[8].json_name == "creationTimestamp"
    assert MESSAGES["core.Secret"].by_number[2].elem == "b"


# --- a real kube-apiserver encoding -------------------------------------------------------------
REFERENCE = KUBE_APISERVER_V1_36
_OD_ESCAPES = {"\\0": 0, "\\a": 7, "\\b": 8, "\\t": 9, "\\n": 10, "\\v": 11, "\\f": 12, "\\r": 13}


def _from_od_c(dump: str) -> bytes:
    """Bytes back from `od -c` output: 16 right-aligned 4-column cells after each offset."""
    rows = [line for line in dump.splitlines() if line[:7].isdigit()]
    out = bytearray()
    for row, following in itertools.pairwise(rows):
        count = int(following[:7], 8) - int(row[:7], 8)
        cells = row[7:].ljust(4 * count)
        for i in range(count):
            cell = cells[4 * i : 4 * i + 4].strip()
            if not cell:
                out.append(ord(" "))
            elif cell in _OD_ESCAPES:
                out.append(_OD_ESCAPES[cell])
            elif len(cell) == 3 and cell.isdigit():
                out.append(int(cell, 8))
            else:
                out.extend(cell.encode())
    return bytes(out)


def test_real_kube_apiserver_configmap_decodes_to_its_json() -> None:
    # The same ConfigMap fetched from kube-apiserver v1.36 as protobuf and as JSON: the
    # server's own encoding of ObjectMeta, managedFields (FieldsV1) and Time.
    protobuf_capture = REFERENCE / "200-get-configmap-protobuf.txt"
    json_capture = REFERENCE / "200-get-configmap.txt"
    response = _from_od_c(protobuf_capture.read_text())
    raw = response.split(b"\r\n\r\n", 1)[1]
    assert raw.startswith(MAGIC)
    expected = orjson.loads(json_capture.read_text().rsplit("\n\n", 1)[1])
    assert decode_k8s_protobuf(raw, go_json=True) == expected
    assert decode_k8s_protobuf(raw) == expected


def test_endlessly_nested_raw_extensions_are_a_bad_request() -> None:
    raw = body("v1", "ConfigMap", b"")
    for _ in range(3000):
        raw = body("apps/v1", "ControllerRevision", ld(2, ld(1, raw)))
    assert bad_request(raw) == "the object provided is nested too deeply"
