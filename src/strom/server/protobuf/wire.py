"""The protobuf wire format, just enough to read Kubernetes objects.

Kubernetes messages are proto2 and use only four wire types: varint (0), 64-bit (1),
length-delimited (2) and 32-bit (5); groups (3, 4) never occur and are rejected. Nothing
here knows about schemas: `iter_fields` yields raw (number, wire type, value) triples and the
schema layer decides what they mean. Errors carry the texts of Go's generated unmarshallers
(`unexpected EOF`, `proto: integer overflow`, ...) because kube-apiserver puts those in its
400 messages.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "FIXED32",
    "FIXED64",
    "LENGTH_DELIMITED",
    "VARINT",
    "WireError",
    "iter_fields",
    "read_varint",
    "signed64",
    "unpack_varints",
]

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10  # a 64-bit value never needs more


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint starting at `pos`, and the position after it."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise WireError("unexpected EOF")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, pos + i + 1
    raise WireError("proto: integer overflow")


def signed64(value: int) -> int:
    """Two's-complement view of a varint: int32/int64 fields store negatives as 64-bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field of one message, in wire order.

    Varint and fixed-width values come back as unsigned ints, length-delimited ones as bytes.
    """
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number <= 0:
            raise WireError(f"proto: illegal tag {number} (wire type {wire_type})")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire_type in (FIXED64, FIXED32):
            width = 8 if wire_type == FIXED64 else 4
            if pos + width > end:
                raise WireError("unexpected EOF")
            value = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(buf, pos)
            if length >= 1 << 63:
                raise WireError("proto: negative length found during unmarshaling")
            if pos + length > end:
                raise WireError("unexpected EOF")
            value = buf[pos : pos + length]
            pos += length
        else:
            raise WireError(f"proto: illegal wireType {wire_type}")
        yield number, wire_type, value


def unpack_varints(buf: bytes) -> list[int]:
    """The values of a packed repeated varint field."""
    values: list[int] = []
    pos = 0
    while pos < len(buf):
        value, pos = read_varint(buf, pos)
        values.append(value)
    return values
