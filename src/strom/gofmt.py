"""Go's text formatting where kube-apiserver's messages use it, shared by every layer.

Messages are matched word for word by people and sometimes by clients, so values are quoted
exactly as Go's `%q` (strconv.Quote) quotes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "aggregate_errors",
    "go_float",
    "go_json_marshal",
    "go_parse_bool",
    "go_quote",
    "go_quote_list",
]

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """strconv.Quote: double quotes; Go's escapes for what is not printable."""
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_quote_list(items: Iterable[str]) -> str:
    """Go's `%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def aggregate_errors(messages: Sequence[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): repeats dropped, one message alone, several as
    `[a, b]`."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


_JSON_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def go_json_marshal(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted at every level, and <, >, & and the
    line separators U+2028/U+2029 escaped as Go's HTML-safe encoder writes them."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    for char, escape in _JSON_ESCAPES:
        text = text.replace(char, escape)
    return text


def go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), which is what `%v` prints for a float64: the
    shortest digits that read back as the same float, in exponent form below 1e-4 and from 1e6
    on (fmt.Println(1e6) prints 1e+06); -0 keeps its sign."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    # repr() is Python's shortest round-trip form, the same digits Go's 'g', -1 chooses.
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits[:point] is the integer part
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


_PARSE_BOOL = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def go_parse_bool(text: str) -> bool | None:
    """strconv.ParseBool; None where Go returns an error."""
    return _PARSE_BOOL.get(text)
