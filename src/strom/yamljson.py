"""YAML request bodies read as kube-apiserver reads them: sigs.k8s.io/yaml's YAMLToJSON over
its go-yaml v2 fork, with PyYAML's C loader where it is built.

Where PyYAML and go-yaml v2 resolve a plain scalar differently, go-yaml wins:

- timestamps stay strings (`when: 2020-01-01` is "2020-01-01"; go-yaml returns them as
  strings when decoding into interface{}),
- `y`, `Y`, `n`, `N` are booleans like `yes`/`no`/`on`/`off` (go-yaml v2's YAML 1.1 table),
- no base-60 numbers (`1:20` is a string) and no `=` value key,
- map keys become strings as Go's JSON conversion writes them (`1` -> "1", `true` -> "true"),
- floats with an integral value are integers, since Go's JSON writes 1.0 as `1`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["YAMLError", "load"]

YAMLError = yaml.YAMLError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_BOOL = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_INT = re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
)
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DROPPED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value", _BOOL_TAG}


class _GoYAMLLoader(_Base):  # type: ignore[misc]
    """SafeLoader with go-yaml v2's implicit types."""


def _resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = []
        for tag, pattern in entries:
            if tag in _DROPPED:
                continue
            if tag == _INT_TAG:
                pattern = _INT
            elif tag == _FLOAT_TAG:
                pattern = _FLOAT
            kept.append((tag, pattern))
        if kept:
            table[first] = kept
    for first in "yYnNtTfFoO":
        table.setdefault(first, []).insert(0, (_BOOL_TAG, _BOOL))
    return table


_GoYAMLLoader.yaml_implicit_resolvers = _resolvers()


def _bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)) in (
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"
    )  # fmt: skip


_GoYAMLLoader.add_constructor(_BOOL_TAG, _bool)


def _mapping(loader: Any, node: yaml.MappingNode) -> dict[str, Any]:
    # Keys become strings as they are read, so that 1 and true stay two keys.
    loader.flatten_mapping(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[_key(key)] = loader.construct_object(value_node, deep=True)
    return out


_GoYAMLLoader.add_constructor("tag:yaml.org,2002:map", _mapping)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return str(_number(key))
    return str(key)


def _number(value: float) -> int | float:
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, bytes):  # !!binary: Go's JSON writes []byte as base64
        import base64

        return base64.b64encode(value).decode()
    return value


def load(data: bytes | str) -> Any:
    """One YAML document as the JSON value kube-apiserver would decode from it."""
    return _jsonable(yaml.load(data, Loader=_GoYAMLLoader))
