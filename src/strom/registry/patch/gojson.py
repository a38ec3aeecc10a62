"""Go's `encoding/json` and `fmt` as kube-apiserver's patch errors show them.

Patch errors reach clients with Go's own wording in them: a syntax error reads `invalid
character 'n' looking for beginning of object key string`, a wrong shape reads `json: cannot
unmarshal array into Go value of type map[string]interface {}`, and strategic-merge-patch errors
print values with `%v` (`map[image:nginx]`). orjson does the parsing; when it refuses a body, the
scanner below (a transcription of the states in Go's `encoding/json/scanner.go`) finds the byte
and the words Go would report, so clients that match on message text see the same text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

from strom.gofmt import go_float, go_quote

__all__ = [
    "GoJSONError",
    "decode",
    "go_quote",
    "go_sprint",
    "go_type_name",
    "json_kind",
    "unmarshal_type_error",
]


class GoJSONError(Exception):
    """A body Go's decoder would refuse; `str(exc)` is Go's `err.Error()`."""


def decode(data: bytes) -> Any:
    """Parse JSON like Go does into `interface{}` (integers stay ints, as with PreserveInts)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    message = syntax_error(data)
    if message is not None:
        raise GoJSONError(message)
    # Valid for Go, refused by orjson: invalid UTF-8 (Go substitutes U+FFFD) or a number
    # beyond float64, which Go refuses with a type error.
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text, parse_float=_go_float, parse_int=_go_int)
    except RecursionError as exc:  # nesting beyond what orjson and Python's stack take
        raise GoJSONError("exceeded max depth") from exc


def _go_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise GoJSONError(f"json: cannot unmarshal number {literal} into Go value of type float64")
    return value


def _go_int(literal: str) -> int | float:
    value = int(literal)
    if -(2**63) <= value < 2**63:
        return value
    return _go_float(literal)  # Go falls back to float64 for integers beyond int64


def json_kind(value: Any) -> str:
    """The word Go's UnmarshalTypeError uses for a JSON value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def unmarshal_type_error(value: Any, go_type: str, *, field: str = "") -> str:
    """`json: cannot unmarshal <kind> into Go value of type <T>` (or `Go struct field`)."""
    target = f"Go struct field {field}" if field else "Go value"
    return f"json: cannot unmarshal {json_kind(value)} into {target} of type {go_type}"


# --- fmt ---------------------------------------------------------------------------------
def go_type_name(value: Any) -> str:
    """reflect.TypeOf(v).String() for a decoded JSON value, as `%s` prints it."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return "float64"


def go_sprint(value: Any) -> str:
    """`fmt.Sprintf("%v", v)` of a decoded JSON value (map keys sorted, as fmt does)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        items = " ".join(f"{key}:{go_sprint(value[key])}" for key in sorted(value))
        return f"map[{items}]"
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(item) for item in value) + "]"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _quote_char(byte: int) -> str:
    """Go's scanner quoteChar: one byte as a Go rune literal."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(byte))[1:-1] + "'"


# --- the scanner ---------------------------------------------------------------------------
_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_LITERALS = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}
_PARSE_OBJECT_KEY, _PARSE_OBJECT_VALUE, _PARSE_ARRAY_VALUE = range(3)

_State = Callable[[int], None]


class _SyntaxError(Exception):
    pass


class _Scanner:
    """Go's JSON scanner, one byte at a time; only what it accepts and how it words a refusal.

    `step` is the current state function; `stack` holds the open containers (what a value
    closes into), `end_top` is set once a complete top-level value has been read.
    """

    def __init__(self) -> None:
        self.step: _State = self._begin_value
        self.stack: list[int] = []
        self.end_top = False

    def _error(self, byte: int, context: str) -> None:
        raise _SyntaxError(f"invalid character {_quote_char(byte)} {context}")

    def _begin_value_or_empty(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("]"):
            self._end_value(byte)
            return
        self._begin_value(byte)

    def _begin_value(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("{"):
            self.stack.append(_PARSE_OBJECT_KEY)
            self.step = self._begin_string_or_empty
        elif byte == ord("["):
            self.stack.append(_PARSE_ARRAY_VALUE)
            self.step = self._begin_value_or_empty
        elif byte == ord('"'):
            self.step = self._in_string
        elif byte == ord("-"):
            self.step = self._neg
        elif byte == ord("0"):
            self.step = self._zero
        elif byte in _DIGITS:
            self.step = self._digits
        elif byte in _LITERALS:
            self.step = self._literal(_LITERALS[byte], 1)
        else:
            self._error(byte, "looking for beginning of value")

    def _begin_string_or_empty(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("}"):
            self.stack[-1] = _PARSE_OBJECT_VALUE
            self._end_value(byte)
            return
        self._begin_string(byte)

    def _begin_string(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord('"'):
            self.step = self._in_string
            return
        self._error(byte, "looking for beginning of object key string")

    def _end_value(self, byte: int) -> None:
        if not self.stack:
            self.step = self._end_top
            self.end_top = True
            self._end_top(byte)
            return
        if byte in _SPACE:
            self.step = self._end_value
            return
        top = self.stack[-1]
        if top == _PARSE_OBJECT_KEY:
            if byte == ord(":"):
                self.stack[-1] = _PARSE_OBJECT_VALUE
                self.step = self._begin_value
                return
            self._error(byte, "after object key")
        elif top == _PARSE_OBJECT_VALUE:
            if byte == ord(","):
                self.stack[-1] = _PARSE_OBJECT_KEY
                self.step = self._begin_string
                return
            if byte == ord("}"):
                self._pop()
                return
            self._error(byte, "after object key:value pair")
        else:
            if byte == ord(","):
                self.step = self._begin_value
                return
            if byte == ord("]"):
                self._pop()
                return
            self._error(byte, "after array element")

    def _pop(self) -> None:
        self.stack.pop()
        self.step = self._end_value
        if not self.stack:
            self.step = self._end_top
            self.end_top = True

    def _end_top(self, byte: int) -> None:
        if byte not in _SPACE:
            self._error(byte, "after top-level value")

    def _in_string(self, byte: int) -> None:
        if byte == ord('"'):
            self.step = self._end_value
        elif byte == ord("\\"):
            self.step = self._in_string_escape
        elif byte < 0x20:
            self._error(byte, "in string literal")

    def _in_string_escape(self, byte: int) -> None:
        if byte in b'bfnrt\\/"':
            self.step = self._in_string
        elif byte == ord("u"):
            self.step = self._unicode_escape(4)
        else:
            self._error(byte, "in string escape code")

    def _unicode_escape(self, remaining: int) -> _State:
        def state(byte: int) -> None:
            if byte not in _HEX:
                self._error(byte, "in \\u hexadecimal character escape")
            self.step = self._in_string if remaining == 1 else self._unicode_escape(remaining - 1)

        return state

    def _neg(self, byte: int) -> None:
        if byte == ord("0"):
            self.step = self._zero
        elif byte in _DIGITS:
            self.step = self._digits
        else:
            self._error(byte, "in numeric literal")

    def _digits(self, byte: int) -> None:
        if byte not in _DIGITS:
            self._zero(byte)

    def _zero(self, byte: int) -> None:
        if byte == ord("."):
            self.step = self._dot
        elif byte in b"eE":
            self.step = self._exponent
        else:
            self._end_value(byte)

    def _dot(self, byte: int) -> None:
        if byte in _DIGITS:
            self.step = self._fraction
        else:
            self._error(byte, "after decimal point in numeric literal")

    def _fraction(self, byte: int) -> None:
        if byte in b"eE":
            self.step = self._exponent
        elif byte not in _DIGITS:
            self._end_value(byte)

    def _exponent(self, byte: int) -> None:
        if byte in b"+-":
            self.step = self._exponent_sign
        else:
            self._exponent_sign(byte)

    def _exponent_sign(self, byte: int) -> None:
        if byte in _DIGITS:
            self.step = self._exponent_digits
        else:
            self._error(byte, "in exponent of numeric literal")

    def _exponent_digits(self, byte: int) -> None:
        if byte not in _DIGITS:
            self._end_value(byte)

    def _literal(self, word: str, position: int) -> _State:
        def state(byte: int) -> None:
            expected = word[position]
            if byte != ord(expected):
                self._error(byte, f"in literal {word} (expecting {_quote_char(ord(expected))})")
            done = position + 1 == len(word)
            self.step = self._end_value if done else self._literal(word, position + 1)

        return state


def syntax_error(data: bytes) -> str | None:
    """Go's checkValid: the syntax error message for `data`, or None if Go would accept it."""
    scanner = _Scanner()
    try:
        for byte in data:
            scanner.step(byte)
        if scanner.end_top:
            return None
        scanner.step(ord(" "))  # Go's eof(): a space ends a pending number or fails mid-token
    except _SyntaxError as exc:
        return str(exc)
    return None if scanner.end_top else "unexpected end of JSON input"
