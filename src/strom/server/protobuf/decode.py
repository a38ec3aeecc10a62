"""Turn a `application/vnd.kubernetes.protobuf` request body into the dict its JSON form gives.

kubectl and every client-go clientset send typed creates and updates as protobuf. strom
answers in JSON, so it only has to read protobuf: this module walks the wire format with the
field tables of `schema` and produces what Go's encoding/json would print for the same Go
object (`go_json=True`, used by the tests to prove the tables against kubectl's own encoder),
or by default a tidied form of it. Tidying only drops what carries no information: JSON
`null`s (zero Time, nil slices and pointers without omitempty) and non-pointer sub-objects
that come out empty (`status: {}`, `strategy: {}`, `resources: {}`), which Go prints because
omitempty does not apply to structs and which gogo always writes to the wire. A pointer that
is set stays, however empty (`emptyDir: {}`, `replicas: 0`): there, presence is meaning.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from strom.errors import StatusError
from strom.server.protobuf.schema import MESSAGES, SCALARS, SPECIAL, Field, message_for
from strom.server.protobuf.wire import (
    LENGTH_DELIMITED,
    VARINT,
    WireError,
    iter_fields,
    signed64,
    unpack_varints,
)

__all__ = ["MAGIC", "decode_k8s_protobuf"]

log = logging.getLogger(__name__)

MAGIC = b"k8s\x00"  # k8s.io/apimachinery/pkg/runtime/serializer/protobuf: protoEncodingPrefix

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME_UNIX = -62135596800  # time.Time{}.Unix(): Go's zero time is year 1
_ABSENT = object()


def decode_k8s_protobuf(
    body: bytes, *, expected_kind: str = "", go_json: bool = False
) -> dict[str, Any]:
    """The object in a Kubernetes protobuf body, as the dict a JSON client would send.

    `expected_kind` (the kind the URL serves) fills a missing envelope kind and words errors
    as kube-apiserver does. Raises StatusError: 400 for malformed bytes, 415 for a kind that
    has no table here.
    """
    api_version, kind, raw = _open_envelope(body, expected_kind=expected_kind)
    message = message_for(api_version, kind)
    if message is None:
        raise StatusError.unsupported_media_type()
    decoder = _Decoder(go_json=go_json)
    try:
        obj = decoder.message(message, raw)
    except RecursionError:  # RawExtensions nested without end
        raise StatusError.bad_request("the object provided is nested too deeply") from None
    except WireError as err:
        version = api_version.rpartition("/")[2]
        raise StatusError.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {expected_kind or kind}: {err}'
        ) from None
    if decoder.unknown:
        log.debug("protobuf %s %s: skipped unknown fields %s", api_version, kind, decoder.unknown)
    return {"kind": kind, "apiVersion": api_version, **obj}


def _open_envelope(body: bytes, *, expected_kind: str) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw object bytes) from the magic prefix and `runtime.Unknown`."""
    try:
        if not body:
            raise WireError("empty data")
        if not body.startswith(MAGIC):
            raise WireError(
                "provided data does not appear to be a protobuf message, "
                "expected prefix [107 56 115 0]"
            )
        if len(body) == len(MAGIC):
            raise WireError("empty body")
        api_version, kind, raw = _parse_unknown(body[len(MAGIC) :])
    except WireError as err:
        raise StatusError.bad_request(_unrecognized(expected_kind, err, body)) from None
    kind = kind or expected_kind
    type_meta = f'runtime.TypeMeta{{APIVersion:"{api_version}", Kind:"{kind}"}}'
    if not kind:
        raise StatusError.bad_request(f"Object 'Kind' is missing in '{type_meta}'")
    if not api_version:
        raise StatusError.bad_request(f"Object 'apiVersion' is missing in '{type_meta}'")
    return api_version, kind, raw


def _parse_unknown(buf: bytes) -> tuple[str, str, bytes]:
    """runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
    4 contentType (the last two are always empty from clients and ignored)."""
    api_version = kind = ""
    raw = b""
    for number, wire_type, value in iter_fields(buf):
        if number == 1:
            type_meta = _bytes(wire_type, value, "TypeMeta")
            for sub_number, sub_type, sub_value in iter_fields(type_meta):
                if sub_number == 1:
                    api_version = _text(_bytes(sub_type, sub_value, "APIVersion"))
                elif sub_number == 2:
                    kind = _text(_bytes(sub_type, sub_value, "Kind"))
        elif number == 2:
            raw = _bytes(wire_type, value, "Raw")
    return api_version, kind, raw


def _unrecognized(expected_kind: str, err: WireError, body: bytes) -> str:
    """kube's transformDecodeError wording, with its 30-byte hex summary of the body."""
    if not body:
        summary = "<empty>"
    elif len(body) > 30:
        summary = body[:30].hex() + " ..."
    else:
        summary = body.hex()
    of_type = f" (must be of type {expected_kind})" if expected_kind else ""
    return f"the object provided is unrecognized{of_type}: {err} ({summary})"


def _bytes(wire_type: int, value: int | bytes, field: str) -> bytes:
    if wire_type != LENGTH_DELIMITED or not isinstance(value, bytes):
        raise WireError(f"proto: wrong wireType = {wire_type} for field {field}")
    return value


def _text(value: bytes) -> str:
    # Go strings hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    return value.decode("utf-8", errors="replace")


def _go_name(f: Field) -> str:
    return f.json_name[:1].upper() + f.json_name[1:] if f.json_name else f.elem.split(".")[-1]


class _Decoder:
    """One decode: the output mode, zero values already computed, unknown fields seen."""

    def __init__(self, *, go_json: bool) -> None:
        self.go_json = go_json
        self.unknown: list[str] = []
        self._zeros: dict[str, Any] = {}

    # --- messages ---------------------------------------------------------------------------
    def message(self, name: str, buf: bytes) -> Any:
        """The JSON value of message `name` encoded as `buf` (b"" = the zero message)."""
        if name in SPECIAL:
            return _special(self, name, buf)
        schema = MESSAGES[name]
        values = self._collect(name, buf)
        if schema.list_of:
            items = values.get(1)
            return None if items is None else [self._value(schema.list_of, x) for x in items]
        out: dict[str, Any] = {}
        for f in schema.fields:
            value = self._field_value(f, values.get(f.number, _ABSENT))
            if not f.json_name:  # embedded struct: JSON promotes its fields
                if isinstance(value, dict):
                    out.update(value)
            elif not self._omitted(f, value):
                out[f.json_name] = value
        return out

    def _collect(self, name: str, buf: bytes) -> dict[int, Any]:
        """Raw values by field number: the last scalar, all of a message's bytes joined (proto
        merge semantics), every list item, every map entry."""
        by_number = MESSAGES[name].by_number
        values: dict[int, Any] = {}
        for number, wire_type, value in iter_fields(buf):
            f = by_number.get(number)
            if f is None:
                self.unknown.append(f"{name}.{number}")
                continue
            if f.shape == "list":
                values.setdefault(number, []).extend(_list_items(f, wire_type, value))
            elif f.shape == "map":
                key, item = self._map_entry(f, _bytes(wire_type, value, _go_name(f)))
                values.setdefault(number, {})[key] = item
            elif f.elem in SCALARS:
                values[number] = _scalar_raw(f, wire_type, value)
            else:
                values[number] = values.get(number, b"") + _bytes(wire_type, value, _go_name(f))
        return values

    def _map_entry(self, f: Field, entry: bytes) -> tuple[str, Any]:
        key, item = "", _ABSENT
        for number, wire_type, value in iter_fields(entry):
            if number == 1:
                key = _text(_bytes(wire_type, value, "key"))
            elif number == 2:
                item = _scalar_raw(f, wire_type, value) if f.elem in SCALARS else value
        if item is _ABSENT:  # Go's unmarshaller stores the zero value
            item = {"s": b"", "b": b"", "i": 0, "t": 0}.get(f.elem, b"")
        return key, item

    # --- values -----------------------------------------------------------------------------
    def _field_value(self, f: Field, raw: Any) -> Any:
        if f.shape == "list":
            return None if raw is _ABSENT else [self._value(f.elem, x) for x in raw]
        if f.shape == "map":
            return None if raw is _ABSENT else {k: self._value(f.elem, v) for k, v in raw.items()}
        if raw is not _ABSENT:
            return self._value(f.elem, raw)
        if f.pointer or f.elem == "b":  # nil pointer, nil []byte
            return None
        return self.zero(f.elem)

    def _value(self, elem: str, raw: Any) -> Any:
        if elem == "s":
            return _text(raw)
        if elem == "b":
            return base64.b64encode(raw).decode("ascii")
        if elem == "i":
            return signed64(raw)
        if elem == "t":
            return raw != 0
        return self.message(elem, raw)

    def zero(self, elem: str) -> Any:
        """The JSON form of a Go zero value of type `elem`."""
        if elem not in self._zeros:
            scalar_zeros: dict[str, Any] = {"s": "", "b": None, "i": 0, "t": False}
            self._zeros[elem] = scalar_zeros[elem] if elem in SCALARS else self.message(elem, b"")
        return self._zeros[elem]

    def _omitted(self, f: Field, value: Any) -> bool:
        """Whether the JSON output leaves the field out (Go's rules, then tidying)."""
        if value is None:
            return f.omitempty or f.omitzero or not self.go_json
        if f.pointer:
            return False  # set pointers are emitted, even when they point at zero
        is_struct = f.shape == "one" and f.elem not in SCALARS
        if f.omitzero and f.shape == "one" and value == self.zero(f.elem):
            return True
        if not is_struct:
            return f.omitempty and value in ("", 0, [], {})  # 0 also matches False
        return not self.go_json and value == {}  # tidy: a struct left with nothing to say


def _list_items(f: Field, wire_type: int, value: int | bytes) -> list[Any]:
    if f.elem in ("i", "t") and wire_type == LENGTH_DELIMITED and isinstance(value, bytes):
        return list(unpack_varints(value))  # packed encoding
    if f.elem in SCALARS:
        return [_scalar_raw(f, wire_type, value)]
    return [_bytes(wire_type, value, _go_name(f))]


def _scalar_raw(f: Field, wire_type: int, value: int | bytes) -> int | bytes:
    if f.elem in ("i", "t"):
        if wire_type != VARINT or not isinstance(value, int):
            raise WireError(f"proto: wrong wireType = {wire_type} for field {_go_name(f)}")
        return value
    return _bytes(wire_type, value, _go_name(f))


# --- messages with hand-written JSON forms --------------------------------------------------
_Fields = dict[int, tuple[int, int | bytes]]  # field number -> (wire type, last value)


def _special(decoder: _Decoder, name: str, buf: bytes) -> Any:
    fields: _Fields = {number: (wt, value) for number, wt, value in iter_fields(buf)}
    if name in ("meta.Time", "meta.MicroTime"):
        return _time(buf, fields, micro=name == "meta.MicroTime")
    if name == "intstr.IntOrString":  # 1 type (0 int, 1 string), 2 intVal, 3 strVal
        if _int(fields, 1) == 1:
            return _text(_raw(fields, 3))
        return signed64(_int(fields, 2))
    if name == "resource.Quantity":  # 1 string, already canonical (the client's String())
        return _text(_raw(fields, 1)) or "0"
    raw = _raw(fields, 1)  # FieldsV1.Raw, RawExtension.raw
    if not raw:
        return None
    if name == "runtime.RawExtension" and raw.startswith(MAGIC):
        return decode_k8s_protobuf(raw, go_json=decoder.go_json)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise WireError(f"invalid JSON in {name.split('.')[-1]}: {err}") from None


def _int(fields: _Fields, number: int) -> int:
    wire_type, value = fields.get(number, (VARINT, 0))
    if wire_type != VARINT or not isinstance(value, int):
        raise WireError(f"proto: wrong wireType = {wire_type} for field {number}")
    return value


def _raw(fields: _Fields, number: int) -> bytes:
    return _bytes(*fields.get(number, (LENGTH_DELIMITED, b"")), field=str(number))


def _time(buf: bytes, fields: _Fields, *, micro: bool) -> str | None:
    """Timestamp {1 seconds, 2 nanos} as metav1.Time / MicroTime print it; zero is null."""
    if not buf:
        return None  # Time.Marshal writes nothing for the zero time
    seconds, nanos = signed64(_int(fields, 1)), signed64(_int(fields, 2))
    if seconds == _GO_ZERO_TIME_UNIX and (not micro or nanos < 1000):
        return None
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise WireError("Time.MarshalJSON: year outside of range [0,9999]") from None
    # Formatted by hand: strftime does not zero-pad years before 1000 as Go does.
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if not micro:  # Time keeps whole seconds (time_proto.go drops nanos)
        return text + "Z"
    return f"{text}.{(nanos // 1000) % 1_000_000:06d}Z"
