"""Go's text formatting where kube-apiserver's messages use it, shared by every layer.

Messages are matched word for word by people and sometimes by clients, so values are quoted
exactly as Go's `%q` (strconv.Quote) quotes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

__all__ = ["aggregate_errors", "go_json_marshal", "go_quote", "go_quote_list"]

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
