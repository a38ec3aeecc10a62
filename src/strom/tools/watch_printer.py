"""How `strom watch` shows events: pretty lines with field diffs, raw NDJSON, or YAML documents.

Pretty mode is for people: one line per event (local time, type, namespace/name, RV) and, for a
MODIFIED event, what changed since the previous version of that object, as compact paths
(`data.k: "v" → "w"`, `+metadata.labels.tier: "web"`, `-spec.x`).  Fields that change on every
write without meaning anything to a reader (resourceVersion, managedFields, generation) are
left out of the diff.  JSON mode is for jq: each event exactly as the server sent it, one per
line, flushed at once.  Every printer writes bytes and flushes per event, so a pipe sees events
as they happen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO

import orjson
import yaml

from strom.client.watch import WatchEvent

__all__ = ["MODES", "diff_objects", "format_pretty", "make_printer", "use_color"]

MODES = ("pretty", "json", "yaml")

Printer = Callable[[WatchEvent], None]
Path = tuple[str | int, ...]

_NOISE: frozenset[Path] = frozenset(
    {("metadata", "resourceVersion"), ("metadata", "managedFields"), ("metadata", "generation")}
)
_COLORS = {"ADDED": "32", "MODIFIED": "33", "DELETED": "31", "BOOKMARK": "36", "ERROR": "35"}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_MAX_VALUE = 60
_MAX_CHANGES = 12


def use_color(stream: BinaryIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_printer(mode: str, *, out: BinaryIO, color: bool = False) -> Printer:
    """A function that writes one event to `out` in `mode` (pretty, json or yaml)."""
    if mode == "json":
        return lambda event: _emit(out, event.raw.rstrip(b"\n") + b"\n")
    if mode == "yaml":
        return lambda event: _emit(out, _yaml_document(event))
    if mode == "pretty":
        return lambda event: _emit(out, (format_pretty(event, color=color) + "\n").encode())
    raise ValueError(f"unknown output mode {mode!r} (choose from {', '.join(MODES)})")


def _emit(out: BinaryIO, data: bytes) -> None:
    out.write(data)
    out.flush()


def _yaml_document(event: WatchEvent) -> bytes:
    doc = {"type": event.type, "object": event.object}
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return ("---\n" + text).encode()


def format_pretty(event: WatchEvent, *, color: bool, now: datetime | None = None) -> str:
    """`12:00:01 MODIFIED default/web rv=42 data.k: "v" → "w"` (no trailing newline)."""
    stamp = (now or datetime.now()).astimezone().strftime("%H:%M:%S")
    kind = f"{event.type:<8}"
    if color and event.type in _COLORS:
        kind = f"\x1b[{_COLORS[event.type]}m{kind}\x1b[0m"
    namespace, name = event.key
    parts = [stamp, kind, f"{namespace}/{name}" if namespace else name]
    parts.append(f"rv={event.resource_version}")
    if event.relist:
        parts.append("(relist)")
    if event.type == "MODIFIED" and event.previous is not None:
        changes = diff_objects(event.previous, event.object)
        if len(changes) > _MAX_CHANGES:
            extra = len(changes) - _MAX_CHANGES
            changes = [*changes[:_MAX_CHANGES], f"… +{extra} more"]
        parts.append(", ".join(changes) if changes else "(no field changes)")
    return " ".join(parts)


def diff_objects(old: Any, new: Any) -> list[str]:
    """Compact, ordered changes from `old` to `new`; noise fields are ignored."""
    changes: list[str] = []
    _diff(old, new, (), changes)
    return changes


def _diff(old: Any, new: Any, path: Path, out: list[str]) -> None:
    if path in _NOISE:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            child = (*path, key)
            if child in _NOISE:
                continue
            if key not in new:
                out.append(f"-{_path_text(child)}")
            elif key not in old:
                out.append(f"+{_path_text(child)}: {_value(new[key])}")
            else:
                _diff(old[key], new[key], child, out)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            child = (*path, index)
            if index >= len(new):
                out.append(f"-{_path_text(child)}")
            elif index >= len(old):
                out.append(f"+{_path_text(child)}: {_value(new[index])}")
            else:
                _diff(old[index], new[index], child, out)
    elif old != new or type(old) is not type(new):
        out.append(f"{_path_text(path)}: {_value(old)} → {_value(new)}")


def _path_text(path: Path) -> str:
    """`spec.containers[0].image`; keys that are not identifiers go in brackets."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{orjson.dumps(part).decode()}]"
    return text or "."


def _value(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
