"""Server logs as kube's components write them: klog text or JSON, `-v` levels with kube's
meaning.

klog's text line is `Lmmdd hh:mm:ss.uuuuuu PID file:line] msg key="value" ...`; its JSON line
is `{"ts":…,"caller":"file:line","msg":…,"v":N,key:value…}`. `-v=2` is where kube-apiserver
logs one `"HTTP"` line per request (httplog); higher levels add detail. Messages are
structured (`info(level, msg, **fields)`), values are quoted as klog quotes them, and no
credential is ever a field.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson

__all__ = ["configure", "enabled", "info"]

_LOGGER = logging.getLogger("strom.httplog")
_LEVEL_LETTER = {"DEBUG": "I", "INFO": "I", "WARNING": "W", "ERROR": "E", "CRITICAL": "F"}
_verbosity = 0  # set once by configure(), read by enabled()


def enabled(level: int) -> bool:
    """klog's V(level).Enabled(): whether messages of this verbosity are written."""
    return _verbosity >= level


def _quote(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(str(value)).decode()


class _KlogText(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        seconds = record.created
        stamp = time.strftime("%m%d %H:%M:%S", time.localtime(seconds))
        micros = int((seconds % 1) * 1_000_000)
        letter = _LEVEL_LETTER.get(record.levelname, "I")
        caller = f"{os.path.basename(record.pathname)}:{record.lineno}"
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        message = record.getMessage()
        text = _quote(message) if fields else message
        parts = [f"{letter}{stamp}.{micros:06d} {record.process:>7} {caller}] {text}"]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _KlogJson(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 6),
            "caller": f"{os.path.basename(record.pathname)}:{record.lineno}",
            "msg": record.getMessage(),
        }
        if record.levelno >= logging.ERROR:
            out["err"] = record.getMessage()
        else:
            out["v"] = getattr(record, "v", 0)
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["stacktrace"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(verbosity: int = 0, fmt: str = "text") -> None:
    """Install the formatter on the root logger (`text` or `json`) and the `-v` level."""
    global _verbosity
    _verbosity = max(0, verbosity)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KlogJson() if fmt == "json" else _KlogText())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # strom's own info lines always (klog's V(0)); libraries' only from -v=6 on
    root.setLevel(logging.DEBUG if verbosity >= 6 else logging.WARNING)
    logging.getLogger("strom").setLevel(logging.DEBUG if verbosity >= 6 else logging.INFO)


def info(level: int, msg: str, **fields: Any) -> None:
    """Log `msg` with structured `fields` when `-v` is at least `level`."""
    if _verbosity >= level:
        _LOGGER.info(msg, extra={"fields": fields, "v": level}, stacklevel=2)
