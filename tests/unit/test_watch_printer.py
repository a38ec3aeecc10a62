"""`strom watch` output: pretty lines with field diffs, raw NDJSON, YAML documents, colour."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import orjson
import pytest
import yaml

from strom.client.watch import WatchEvent
from strom.tools.watch_printer import diff_objects, format_pretty, make_printer, use_color

_NOON = datetime(2026, 1, 2, 12, 0, 1).astimezone()


def _cm(rv: str, *, ns: str = "default", **extra: Any) -> dict[str, Any]:
    meta = {"name": "web", "namespace": ns, "uid": "u1", "resourceVersion": rv}
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, **extra}


def _event(kind: str, obj: dict[str, Any], **kw: Any) -> WatchEvent:
    return WatchEvent(kind, obj, orjson.dumps({"type": kind, "object": obj}), **kw)


class _Recorder(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_diff_reports_changes_additions_and_removals_in_order() -> None:
    old = {
        "metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}},
        "data": {"k": "v", "gone": "x"},
        "spec": {"x": 1, "ports": [{"port": 80}]},
    }
    new = {
        "metadata": {"labels": {"app": "web", "tier": "front"}, "annotations": {"a": "1"}},
        "data": {"k": "w"},
        "spec": {"ports": [{"port": 8080}, {"port": 443}]},
    }
    assert diff_objects(old, new) == [
        '+metadata.labels.tier: "front"',
        'data.k: "v" → "w"',
        "-data.gone",
        "-spec.x",
        "spec.ports[0].port: 80 → 8080",
        '+spec.ports[1]: {"port":443}',
    ]


def test_diff_ignores_write_noise_but_not_other_metadata() -> None:
    old = {"metadata": {"resourceVersion": "1", "generation": 1, "managedFields": [{"m": 1}]}}
    new = {"metadata": {"resourceVersion": "2", "generation": 2, "managedFields": [], "uid": "x"}}
    assert diff_objects(old, new) == ['+metadata.uid: "x"']


def test_diff_quotes_keys_that_are_not_identifiers_and_truncates_long_values() -> None:
    old = {"metadata": {"labels": {"app.kubernetes.io/name": "a"}}, "data": {"blob": "x"}}
    new = {"metadata": {"labels": {"app.kubernetes.io/name": "b"}}, "data": {"blob": "y" * 200}}
    changes = diff_objects(old, new)
    assert changes[0] == 'metadata.labels["app.kubernetes.io/name"]: "a" → "b"'
    assert changes[1].startswith('data.blob: "x" → "yyyy') and changes[1].endswith("…")
    assert len(changes[1]) < 90


def test_diff_sees_type_changes() -> None:
    assert diff_objects({"x": 1}, {"x": "1"}) == ['x: 1 → "1"']
    assert diff_objects({"x": {"a": 1}}, {"x": None}) == ['x: {"a":1} → null']


def test_pretty_line_for_modified_has_time_type_name_rv_and_diff() -> None:
    event = _event(
        "MODIFIED",
        _cm("8", data={"k": "w"}),
        previous=_cm("7", data={"k": "v"}),
    )
    line = format_pretty(event, color=False, now=_NOON)
    assert line == '12:00:01 MODIFIED default/web rv=8 data.k: "v" → "w"'


def test_pretty_line_for_cluster_scoped_and_relist_events() -> None:
    ns = {"kind": "Namespace", "metadata": {"name": "prod", "resourceVersion": "9"}}
    added = _event("ADDED", ns)
    assert format_pretty(added, color=False, now=_NOON) == "12:00:01 ADDED    prod rv=9"
    gone = _event("DELETED", ns, synthetic=True, relist=True, previous=ns)
    assert format_pretty(gone, color=False, now=_NOON) == "12:00:01 DELETED  prod rv=9 (relist)"


def test_pretty_modified_with_only_noise_says_so() -> None:
    event = _event("MODIFIED", _cm("8"), previous=_cm("7"))
    assert format_pretty(event, color=False, now=_NOON).endswith("rv=8 (no field changes)")


def test_pretty_colours_the_type_only_when_asked() -> None:
    event = _event("DELETED", _cm("3"))
    coloured = format_pretty(event, color=True, now=_NOON)
    assert coloured == "12:00:01 \x1b[31mDELETED \x1b[0m default/web rv=3"
    assert "\x1b" not in format_pretty(event, color=False, now=_NOON)


def test_json_printer_writes_the_received_bytes_one_per_line_flushed() -> None:
    out = _Recorder()
    printer = make_printer("json", out=out)
    raw = b'{"type":"ADDED","object":{"metadata":{"name":"a" , "resourceVersion":"1"}}}'
    printer(WatchEvent("ADDED", orjson.loads(raw), raw))
    printer(_event("DELETED", _cm("2")))
    lines = out.getvalue().split(b"\n")
    assert lines[0] == raw  # byte for byte, odd spacing included
    assert orjson.loads(lines[1])["type"] == "DELETED"
    assert lines[2] == b""
    assert out.flushes == 2


def test_yaml_printer_writes_separated_documents() -> None:
    out = _Recorder()
    printer = make_printer("yaml", out=out)
    printer(_event("ADDED", _cm("1", data={"k": "v"})))
    printer(_event("DELETED", _cm("2")))
    text = out.getvalue().decode()
    assert text.startswith("---\n")
    docs = list(yaml.safe_load_all(text))
    assert [d["type"] for d in docs] == ["ADDED", "DELETED"]
    assert docs[0]["object"]["data"] == {"k": "v"}


def test_pretty_printer_writes_lines() -> None:
    out = _Recorder()
    make_printer("pretty", out=out)(_event("ADDED", _cm("1")))
    assert out.getvalue().decode().endswith(" ADDED    default/web rv=1\n")


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown output mode"):
        make_printer("table", out=io.BytesIO())


class _Tty(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_use_color_needs_a_tty_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Tty()) is True
    assert use_color(io.BytesIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_Tty()) is False
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset (no-color.org)
    assert use_color(_Tty()) is True
