"""What the tap saw, as records: shown live, saved as NDJSON, and shown again by `--replay`.

Everything the tap reports goes through one record shape (a flat JSON object with `type`, a
wall-clock `t` and the connection id `conn`), so the live display, `-o json`, the `--save`
capture and `--replay` cannot drift apart: replay is literally rendering the saved records.

Record types: `tap` (capture header), `open`/`close` (a client connection), `request`,
`response` (headers arrived: status and latency), `event` (one watch event), `body` (a
request's or response's body, with `--bodies`), `end` (the response finished, or was cut),
`error`.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import yaml

from strom.tools.watch_printer import diff_objects

from .bodies import event_object, object_block

__all__ = [
    "CAPTURE_VERSION",
    "Record",
    "Sink",
    "WatchDecoder",
    "read_capture",
    "render_pretty",
]

CAPTURE_VERSION = 1
Record = dict[str, Any]

# A JSON watch event larger than this is reported by size only (the tap never holds more).
MAX_DECODED_EVENT = 16 * 1024 * 1024
# What one watch keeps of previous object versions for MODIFIED events' changes (--bodies).
PREVIOUS_BUDGET = 16 * 1024 * 1024


# --------------------------------------------------------------------------- sink


class Sink:
    """Writes every record to the display (pretty or NDJSON) and, if asked, to a capture file.

    Both are flushed per record: the display must be live, and a capture of a tap that is
    killed must still hold everything up to the kill.
    """

    def __init__(
        self,
        *,
        output: str,
        out: IO[str] | None = None,
        save: Path | None,
        shows: Callable[[Record], bool] | None = None,
    ) -> None:
        self._pretty = output == "pretty"
        self._yaml = output == "yaml"
        self._out = out if out is not None else sys.stdout
        self._save: IO[bytes] | None = save.open("wb") if save is not None else None
        self._shows = shows  # the display's filter (the capture keeps everything)

    def emit(self, record: Record) -> None:
        line = orjson.dumps(record)
        if self._save is not None:
            self._save.write(line + b"\n")
            self._save.flush()
        if record.get("type") == "raw":
            return  # the session's bytes: for the capture only (--replay --raw-out)
        if self._shows is not None and not self._shows(record):
            return
        if self._pretty:
            text = render_pretty(record)
        elif self._yaml:
            text = "---\n" + yaml.safe_dump(record, sort_keys=False).rstrip("\n")
        else:
            text = line.decode("utf-8")
        if text is not None:
            try:
                self._out.write(text + "\n")
                self._out.flush()
            except BrokenPipeError:
                self._pretty = False  # nobody is reading (e.g. `| head`); keep proxying
                self._out = open("/dev/null", "w")  # noqa: SIM115 - lives as long as the sink

    def close(self) -> None:
        if self._save is not None:
            self._save.close()
            self._save = None


def read_capture(path: Path) -> Iterator[Record]:
    """The records of a `--save` file, in order; a torn last line (killed tap) is skipped."""
    with path.open("rb") as capture:
        for raw in capture:
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


# --------------------------------------------------------------------------- rendering


def _clock(t: float) -> str:
    local = time.localtime(t)
    return time.strftime("%H:%M:%S", local) + f".{int(t * 1000) % 1000:03d}"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n}B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}KiB"
    return f"{n / (1024 * 1024):.1f}MiB"


def _duration(ms: float) -> str:
    return f"{ms:.1f}ms" if ms < 1000 else f"{ms / 1000:.2f}s"


def render_pretty(record: Record) -> str | None:
    """One human line for `record` (None for records that have nothing to show)."""
    kind = record.get("type")
    renderer = _RENDERERS.get(str(kind))
    if renderer is None:
        return None
    conn = record.get("conn")
    who = f"c{conn}" if conn else "tap"
    prefix = f"{_clock(float(record.get('t', 0.0)))} [{who}]"
    return f"{prefix} {renderer(record)}"


def _r_tap(r: Record) -> str:
    return f"tap {r.get('listen', '')} -> {r.get('upstream', '')} {r.get('upstreamVersion', '')}"


def _r_open(r: Record) -> str:
    return f"open from {r.get('peer', '?')}"


def _r_close(r: Record) -> str:
    return f"closed after {r.get('requests', 0)} request(s)"


def _headers_block(r: Record) -> str:
    headers = r.get("headers")
    if not isinstance(headers, list):
        return ""
    return "".join(f"\n    {name}: {value}" for name, value in headers)


def _r_request(r: Record) -> str:
    body = f" body={r['contentType']}" if r.get("contentType") else ""
    agent = r.get("userAgent") or "-"
    line = f'#{r.get("req")} {r.get("method")} {r.get("path")}{body} "{agent}"'
    return line + _headers_block(r)


def _r_response(r: Record) -> str:
    extras = [str(r.get("contentType") or "-")]
    if r.get("watch"):
        extras.append("watch")
    if r.get("local"):
        extras.append("answered by tap")
    latency = _duration(float(r.get("latencyMs", 0.0)))
    line = f"#{r.get('req')} {r.get('status')} {r.get('reason', '')} in {latency} " + " ".join(
        extras
    )
    return line + _headers_block(r)


def _r_event(r: Record) -> str:
    size = _size(int(r.get("bytes", 0)))
    if r.get("eventType") is None:
        return f"#{r.get('req')}   {r.get('encoding', 'data')} event {size}"
    where = r.get("name") or ""
    if r.get("namespace"):
        where = f"{r['namespace']}/{where}"
    detail = f" {r['message']}" if r.get("message") else ""
    line = (
        f"#{r.get('req')}   {r.get('eventType'):<9} {where} "
        f"rv={r.get('resourceVersion', '')}{detail} ({size})"
    )
    if r.get("changes"):
        line += "\n" + "\n".join(f"      ~ {change}" for change in r["changes"])
    if "object" in r:
        line += "\n" + object_block(r["object"], indent="      ")
    return line


def _r_body(r: Record) -> str:
    head = (
        f"#{r.get('req')} {r.get('direction')} body {r.get('contentType') or '-'}"
        f" {_size(int(r.get('bytes', 0)))}"
    )
    if r.get("truncated"):
        return head + " (larger than the tap keeps: not shown)"
    if "json" in r:
        return head + "\n" + object_block(r["json"])
    if "text" in r:
        return head + "\n" + "\n".join("    " + line for line in str(r["text"]).splitlines())
    return head


def _r_end(r: Record) -> str:
    state = "cut" if r.get("aborted") else "done"
    events = f", {r['events']} events" if r.get("watch") else ""
    sent = f", sent {_size(int(r['requestBytes']))}" if r.get("requestBytes") else ""
    return (
        f"#{r.get('req')} {state} {r.get('status', '-')} after "
        f"{_duration(float(r.get('durationMs', 0.0)))}, {_size(int(r.get('bytes', 0)))}"
        f"{events}{sent}"
    )


def _r_error(r: Record) -> str:
    req = f"#{r['req']} " if r.get("req") else ""
    return f"{req}error: {r.get('message', '')}"


_RENDERERS = {
    "tap": _r_tap,
    "open": _r_open,
    "close": _r_close,
    "request": _r_request,
    "response": _r_response,
    "event": _r_event,
    "body": _r_body,
    "end": _r_end,
    "error": _r_error,
}


# --------------------------------------------------------------------------- watch bodies


class WatchDecoder:
    """Splits a watch body into events as its bytes pass, whatever the chunking.

    JSON watches are one event per line; protobuf watches are frames with a 4-byte big-endian
    length prefix (shown by size only, as is any other content type, per chunk).
    """

    def __init__(
        self, content_type: str, *, objects: bool = False, show_secrets: bool = False
    ) -> None:
        self.objects = objects  # include each event's object (`--bodies`)
        self.show_secrets = show_secrets
        # With objects: the last version of each object seen, for a MODIFIED event's changes;
        # oldest dropped past PREVIOUS_BUDGET bytes of event lines.
        self._previous: OrderedDict[tuple[Any, Any], tuple[int, Any]] = OrderedDict()
        self._previous_bytes = 0
        media = content_type.split(";", 1)[0].strip().lower()
        if media.endswith("json"):
            self.mode = "json"
        else:
            self.mode = "protobuf" if "protobuf" in media else "raw"
        self._buf = bytearray()
        self._skipping = 0  # JSON: bytes of an oversized event being skipped
        self._need = 0  # protobuf: bytes still missing from the current frame
        self._frame_len = 0

    def feed(self, data: bytes) -> list[Record]:
        """Fields of each event completed by `data` (without t/conn/req)."""
        if self.mode == "json":
            return self._feed_json(data)
        if self.mode == "protobuf":
            return self._feed_frames(data)
        return [{"eventType": None, "encoding": "data", "bytes": len(data)}]

    def _feed_json(self, data: bytes) -> list[Record]:
        out: list[Record] = []
        start = 0
        while (newline := data.find(b"\n", start)) >= 0:
            piece = data[start:newline]
            start = newline + 1
            if self._skipping:
                out.append({"eventType": None, "encoding": "json", "bytes": self._skipping})
                self._skipping = 0
                continue
            line = bytes(self._buf) + piece if self._buf else piece
            self._buf.clear()
            if line.strip():
                fields = describe_json_event(line, self.objects, self.show_secrets)
                if self.objects and fields.get("eventType"):
                    self._remember(fields, len(line))
                out.append(fields)
        rest = data[start:]
        if self._skipping:
            self._skipping += len(rest)
        elif len(self._buf) + len(rest) > MAX_DECODED_EVENT:
            self._skipping = len(self._buf) + len(rest)
            self._buf.clear()
        else:
            self._buf += rest
        return out

    def _remember(self, fields: Record, size: int) -> None:
        """Add `changes` to a MODIFIED event (against the version before) and keep this one."""
        inner = _inner_object(fields.get("object"))
        key = (fields.get("namespace"), fields.get("name"))
        before = self._previous.pop(key, None)
        if before is not None:
            self._previous_bytes -= before[0]
            if fields["eventType"] == "MODIFIED":
                fields["changes"] = diff_objects(before[1], inner)
        if fields["eventType"] == "DELETED" or size > PREVIOUS_BUDGET:
            return
        self._previous[key] = (size, inner)
        self._previous_bytes += size
        while self._previous_bytes > PREVIOUS_BUDGET:
            _, (freed, _) = self._previous.popitem(last=False)
            self._previous_bytes -= freed

    def _feed_frames(self, data: bytes) -> list[Record]:
        out: list[Record] = []
        view = memoryview(data)
        while view:
            if self._need:
                take = min(self._need, len(view))
                self._need -= take
                view = view[take:]
                if not self._need:
                    out.append(
                        {"eventType": None, "encoding": "protobuf", "bytes": self._frame_len}
                    )
                continue
            want = 4 - len(self._buf)
            self._buf += view[:want]
            view = view[want:]
            if len(self._buf) == 4:
                self._frame_len = int.from_bytes(self._buf, "big")
                self._need = self._frame_len
                self._buf.clear()
                if not self._need:
                    out.append({"eventType": None, "encoding": "protobuf", "bytes": 0})
        return out


def describe_json_event(line: bytes, objects: bool = False, show_secrets: bool = False) -> Record:
    """type, kind, namespace/name and resourceVersion of one JSON watch event line (and with
    `objects`, the event's object itself)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"eventType": None, "encoding": "json", "bytes": len(line)}
    if not isinstance(event, dict):
        return {"eventType": None, "encoding": "json", "bytes": len(line)}
    obj = event.get("object")
    obj = obj if isinstance(obj, dict) else {}
    meta = _metadata_of(obj)
    fields: Record = {
        "eventType": str(event.get("type", "?")),
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "resourceVersion": meta.get("resourceVersion"),
        "bytes": len(line),
    }
    if obj.get("kind") == "Status":
        fields["message"] = f"{obj.get('code', '')} {obj.get('reason', '')}: {obj.get('message')}"
    if objects:
        fields["object"] = event_object(obj, show_secrets)
    return fields


def _inner_object(obj: Any) -> Any:
    """The object itself, or for kubectl's Table events the row's object."""
    if isinstance(obj, dict) and obj.get("kind") == "Table":
        rows = obj.get("rows")
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            return rows[0].get("object")
    return obj


def _metadata_of(obj: dict[str, Any]) -> dict[str, Any]:
    # kubectl asks for server-side Tables: the object sits in rows[0].object.
    if obj.get("kind") == "Table":
        rows = obj.get("rows")
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            inner = rows[0].get("object")
            if isinstance(inner, dict) and isinstance(inner.get("metadata"), dict):
                return dict(inner["metadata"])
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}
