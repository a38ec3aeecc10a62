"""client-go's JSONPath dialect (`k8s.io/client-go/util/jsonpath`), as CRD printer columns use it.

Covers what `additionalPrinterColumns` use in practice: `.a.b`, `['a.b']`, `[0]`, `[-1]`,
`[1:3]`, `[*]`, `.*`, `..name` and filters like `[?(@.type=="Ready")]` (==, !=, <, <=, >, >=, or
bare existence). Missing keys yield no result (the table convertor sets AllowMissingKeys);
type mismatches raise `PathError`, which the caller turns into an empty cell, as upstream does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PathError", "compile_path"]

Step = Callable[[list[Any]], list[Any]]
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


class PathError(Exception):
    """The path cannot be parsed, or cannot be evaluated against this object."""


@dataclass(frozen=True, slots=True)
class Path:
    """A compiled path: `find` returns every value it selects, in order."""

    steps: tuple[Step, ...]

    def find(self, data: Any) -> list[Any]:
        values = [data]
        for step in self.steps:
            values = step(values)
        return values


def compile_path(text: str) -> Path:
    """Parse a column's jsonPath (without the surrounding braces client-go adds)."""
    return Path(tuple(_Parser(text.strip()).steps()))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def steps(self) -> list[Step]:
        steps: list[Step] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "$@" and self.pos == 0:
                self.pos += 1
            elif self.text.startswith("..", self.pos):
                self.pos += 2
                steps.append(_recursive(self._identifier()))
            elif char == ".":
                self.pos += 1
                name = self._identifier()
                steps.append(_wildcard if name == "*" else _field(name))
            elif char == "[":
                steps.append(self._bracket())
            elif char.isspace():
                self.pos += 1
            else:
                raise PathError(f"unrecognized character in action: {char!r}")
        return steps

    def _identifier(self) -> str:
        start = self.pos
        chars: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] not in _TERMINATORS:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1  # a backslash makes the next character (often '.') literal
            chars.append(self.text[self.pos])
            self.pos += 1
        if self.pos == start and not chars:
            raise PathError("empty field name")
        return "".join(chars)

    def _bracket(self) -> Step:
        if self.text.startswith("[?(", self.pos):
            return self._filter()
        end = self._closing(self.pos + 1, "]")
        inner = self.text[self.pos + 1 : end].strip()
        self.pos = end + 1
        if inner == "*":
            return _wildcard
        if inner[:1] in ("'", '"'):
            keys = [_unquote(part.strip()) for part in _split_union(inner)]
            return _fields(keys)
        return _slice(inner)

    def _closing(self, start: int, closer: str) -> int:
        quote = ""
        for index in range(start, len(self.text)):
            char = self.text[index]
            if quote:
                if char == quote and self.text[index - 1] != "\\":
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == closer:
                return index
        raise PathError(f"unclosed array expect {closer}")

    def _filter(self) -> Step:
        end = self._closing(self.pos + 3, ")")
        if not self.text.startswith(")]", end):
            raise PathError("unclosed array expect ]")
        body = self.text[self.pos + 3 : end]
        self.pos = end + 2
        match = _FILTER.match(body)
        if match is None:
            return _exists_filter(compile_path(body))
        left, operator, right = match.groups()
        if operator not in ("==", "!=", "<", "<=", ">", ">="):
            raise PathError(f"unrecognized filter operator {operator}")
        return _compare_filter(compile_path(left), operator, _operand(right.strip()))


def _split_union(inner: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    if len(text) < 2 or text[0] != text[-1] or text[0] not in "'\"":
        raise PathError(f"unquoted key {text}")
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _operand(text: str) -> Callable[[Any], list[Any]]:
    """The right side of a comparison: a literal, or a path evaluated against the item."""
    if text[:1] in ("'", '"'):
        literal: Any = _unquote(text)
    elif text in ("true", "false"):
        literal = text == "true"
    elif _NUMBER.fullmatch(text):
        literal = float(text) if any(c in text for c in ".eE") else int(text)
    else:
        path = compile_path(text)
        return path.find
    return lambda _item: [literal]


def _field(name: str) -> Step:
    return _fields([name])


def _fields(names: Sequence[str]) -> Step:
    def step(values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            if isinstance(value, Mapping):
                found.extend(value[name] for name in names if name in value)
        return found

    return step


def _wildcard(values: list[Any]) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if isinstance(value, Mapping):
            found.extend(value.values())
        elif isinstance(value, list):
            found.extend(value)
    return found


def _recursive(name: str) -> Step:
    def walk(value: Any, found: list[Any]) -> None:
        if isinstance(value, Mapping):
            if name in value:
                found.append(value[name])
            for child in value.values():
                walk(child, found)
        elif isinstance(value, list):
            for child in value:
                walk(child, found)

    def step(values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            walk(value, found)
        return found

    return step


def _slice(inner: str) -> Step:
    if "," in inner:
        return _union([_slice(part.strip()) for part in inner.split(",")])
    parts = inner.split(":")
    if len(parts) > 3 or not all(p.strip().lstrip("-").isdigit() or not p.strip() for p in parts):
        raise PathError(f"invalid array index {inner}")
    numbers = [int(p) if p.strip() else None for p in parts]
    single = len(parts) == 1

    def step(values: list[Any]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            if not isinstance(value, list):
                raise PathError(f"{value!r} is not array or slice")
            found.extend(_take(value, numbers, single=single))
        return found

    return step


def _union(steps: list[Step]) -> Step:
    def step(values: list[Any]) -> list[Any]:
        return [found for each in steps for found in each(values)]

    return step


def _take(items: list[Any], numbers: list[int | None], *, single: bool) -> list[Any]:
    length = len(items)
    start = numbers[0] if numbers[0] is not None else 0
    start = start + length if start < 0 else start
    if single:
        end = start + 1
    else:
        end = numbers[1] if len(numbers) > 1 and numbers[1] is not None else length
        end = end + length if end < 0 else end
    if start == end:
        return []
    if not 0 <= start < length or not 0 <= end <= length or start > end:
        raise PathError(f"array index out of bounds: index {start}, length {length}")
    step = numbers[2] if len(numbers) > 2 and numbers[2] else 1
    return items[start:end:step]


def _items(values: list[Any]) -> list[Any]:
    items: list[Any] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise PathError(f"{value!r} is not array or slice and cannot be filtered")
        items.extend(value)
    return items


def _exists_filter(path: Path) -> Step:
    def step(values: list[Any]) -> list[Any]:
        return [item for item in _items(values) if path.find(item)]

    return step


def _compare_filter(left: Path, operator: str, right: Callable[[Any], list[Any]]) -> Step:
    def step(values: list[Any]) -> list[Any]:
        kept = []
        for item in _items(values):
            lefts = left.find(item)
            if not lefts:
                continue
            rights = right(item)
            if len(lefts) > 1 or len(rights) != 1:
                raise PathError("can only compare one element at a time")
            if _compare(lefts[0], operator, rights[0]):
                kept.append(item)
        return kept

    return step


def _kind(value: Any) -> str:
    """text/template's basic kinds: comparisons across kinds are errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise PathError(f"invalid type for comparison: {type(value).__name__}")


def _compare(left: Any, operator: str, right: Any) -> bool:
    if _kind(left) != _kind(right):
        raise PathError("incompatible types for comparison")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if _kind(left) == "bool":
        raise PathError("invalid type for comparison")
    results: dict[str, bool] = {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }
    return results[operator]
