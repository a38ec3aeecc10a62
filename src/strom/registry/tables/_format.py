"""Text helpers shared by the printers: ages, label sets and selectors, Go number text.

kube-apiserver fills Table cells with strings made by apimachinery helpers
(`duration.HumanDuration`, `labels.FormatLabels`, `metav1.FormatLabelSelector`, Go's `%v`);
kubectl prints those cells verbatim, so the exact text matters and is reproduced here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "age",
    "as_dict",
    "as_list",
    "format_labels",
    "format_selector",
    "human_duration",
    "join_containers",
    "parse_time",
    "selector_string",
    "since",
]

_NS_PER_SECOND = 1_000_000_000
_MINUTE = 60 * _NS_PER_SECOND
_HOUR = 60 * _MINUTE
# RFC 3339 as Go's time.Parse(time.RFC3339, ...) accepts it (fraction optional, upper-case T/Z).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def as_dict(value: Any) -> Mapping[str, Any]:
    """A JSON object, or an empty one where the field is missing, null or malformed."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> Sequence[Any]:
    """A JSON array, or an empty one where the field is missing, null or malformed."""
    return value if isinstance(value, list) else []


def human_duration(nanoseconds: int) -> str:
    """apimachinery's `duration.HumanDuration`: about 2-3 significant figures."""
    # Go converts with int(d.Seconds()), which truncates toward zero.
    magnitude = abs(nanoseconds) // _NS_PER_SECOND
    seconds = magnitude if nanoseconds >= 0 else -magnitude
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = nanoseconds // _MINUTE
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = nanoseconds // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as Go parses it; None for missing, empty or malformed values."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def age(value: Any, now: datetime) -> str:
    """`translateTimestampSince`: "<unknown>" for a zero (missing) time, else a human duration."""
    then = parse_time(value)
    if then is None:
        return "<unknown>"
    return since(then, now)


def meta_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """An object's metadata (empty when missing or malformed)."""
    return as_dict(obj.get("metadata"))


def name_of(obj: Mapping[str, Any]) -> Any:
    return meta_of(obj).get("name", "")


def age_of(obj: Mapping[str, Any], now: datetime) -> str:
    """The AGE cell: time since creationTimestamp."""
    return age(meta_of(obj).get("creationTimestamp"), now)


def since(then: datetime, now: datetime) -> str:
    """The human duration from `then` to `now` (negative spans read "0s" or "<invalid>")."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    delta = now - then
    nanoseconds = (delta.days * 86_400 + delta.seconds) * _NS_PER_SECOND
    return human_duration(nanoseconds + delta.microseconds * 1000)


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs, or "<none>"."""
    text = ",".join(f"{key}={value}" for key, value in sorted(as_dict(labels).items()))
    return text or "<none>"


def selector_string(selector: Any) -> str | None:
    """`LabelSelectorAsSelector(...).String()`; None where the selector is invalid.

    A missing selector selects nothing and an empty one everything; both print as "".
    """
    if not isinstance(selector, Mapping):
        return "" if selector is None else None
    requirements: list[tuple[str, str]] = []
    for key, value in as_dict(selector.get("matchLabels")).items():
        requirements.append((key, f"{key}={value}"))
    for expression in as_list(selector.get("matchExpressions")):
        requirement = _requirement(as_dict(expression))
        if requirement is None:
            return None
        requirements.append(requirement)
    # labels.Selector.Add sorts requirements by key.
    requirements.sort(key=lambda pair: pair[0])
    return ",".join(text for _, text in requirements)


def _requirement(expression: Mapping[str, Any]) -> tuple[str, str] | None:
    key = str(expression.get("key", ""))
    values = sorted(str(v) for v in as_list(expression.get("values")))
    match expression.get("operator"):
        case "In":
            return key, f"{key} in ({','.join(values)})"
        case "NotIn":
            return key, f"{key} notin ({','.join(values)})"
        case "Exists":
            return key, key
        case "DoesNotExist":
            return key, f"!{key}"
    return None


def format_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: "<none>" when empty, "<error>" when invalid."""
    text = selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def join_containers(containers: Any) -> tuple[str, str]:
    """`layoutContainerCells`: comma-joined container names and images."""
    items = [as_dict(c) for c in as_list(containers)]
    names = ",".join(str(c.get("name", "")) for c in items)
    images = ",".join(str(c.get("image", "")) for c in items)
    return names, images
