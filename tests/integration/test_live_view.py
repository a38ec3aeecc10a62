"""The live web view (`/ui/`) in a real headless browser (Debian's chromium): what a person
sees as another client's watch opens, gets events and ends; a wrong token is one clear line.
Each look is chromium running the page's JavaScript and printing the resulting DOM; one look
is also kept as a screenshot (a test artifact in the test's tmp_path)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from strom.testing.server import StromServer

from .conftest import Api, wait_for
from .test_watch import RawWatch

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",  # strom's own CA is not in chromium's store
    "--virtual-time-budget=3000",  # let the page poll and draw
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium not installed (Debian: apt-get install chromium)")
    return found


def _look(url: str, *extra: str) -> str:
    """The page's DOM after its scripts ran, as chromium renders it."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [_chromium(), *_FLAGS, f"--user-data-dir={profile}", *extra, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _rows(dom: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table}">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert body, f"no table {table} in the page"
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body[1])
    ]


def test_a_watch_appears_counts_events_and_ends(
    server: StromServer, api: Api, ns: str, tmp_path: Path
) -> None:
    url = f"{server.url}/ui/#token={server.token}"
    base = f"/api/v1/namespaces/{ns}/configmaps"
    watch = RawWatch(server, f"{base}?watch=true&timeoutSeconds=60&allowWatchBookmarks=true")
    try:
        assert api.post(base, {"metadata": {"name": "first"}}).status == 201
        wait_for(lambda: any(e["type"] == "ADDED" for e in watch.events), what="an event")
        first = [r for r in _rows(_look(url), "watches") if ns in r]
        assert len(first) == 1, first
        user, resource, namespace, _selectors, _opened, events, queued, lag, marks = first[0]
        assert (user, resource, namespace) == ("admin", "configmaps", ns)
        assert (queued, lag, marks) == ("0", "-", "yes")  # a client that keeps up
        for name in ("second", "third"):
            assert api.post(base, {"metadata": {"name": name}}).status == 201
        wait_for(lambda: sum(e["type"] == "ADDED" for e in watch.events) >= 3, what="three events")
        shot = tmp_path / "live-view.png"
        dom = _look(url, f"--screenshot={shot}", "--window-size=1200,900")
        (row,) = [r for r in _rows(dom, "watches") if ns in r]
        assert int(row[5]) == int(events) + 2  # the count rose with the writes
        writes = [r for r in _rows(dom, "writes") if ns in r]
        assert [r[4] for r in writes][:3] == ["third", "second", "first"]
    finally:
        watch.close()
    wait_for(
        lambda: not [w for w in api.get("/ui/api/state").json["watches"] if w["namespace"] == ns],
        what="the watch to end",
    )
    dom = _look(url)
    assert not [r for r in _rows(dom, "watches") if ns in r]  # gone from the open watches
    (ended,) = [r for r in _rows(dom, "ended") if ns in r]
    assert ended[0] == "admin" and ended[5] == "client closed"
    picture = shot.read_bytes()  # a picture of the page was kept
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) > 1000


def test_a_wrong_token_is_one_clear_line(server: StromServer) -> None:
    dom = _look(f"{server.url}/ui/#token=not-a-token")
    error = re.search(r'<p id="error" role="alert">(.*?)</p>', dom)
    assert error and error[1] == "401: Unauthorized", dom[:2000]


def test_a_watch_opens_its_stream(server: StromServer, api: Api, ns: str) -> None:
    """Opening a watch's stream (the row's click, or a link naming the watch) shows its
    events live as they happen."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    watch = RawWatch(server, f"{base}?watch=true&timeoutSeconds=60")
    try:
        watch.wait_events(1)

        def mine() -> list[dict[str, object]]:
            state = api.get("/ui/api/state").json
            return [w for w in state["watches"] if w["namespace"] == ns]

        (other,) = wait_for(mine, what="the other client's watch in the view")
        url = f"{server.url}/ui/#token={server.token}&stream={other['id']}&streamSeconds=5"
        with tempfile.TemporaryDirectory() as profile:
            browser = subprocess.Popen(
                [_chromium(), *_FLAGS[:-1], "--virtual-time-budget=30000",
                 f"--user-data-dir={profile}", "--dump-dom", url],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            try:
                wait_for(lambda: len(mine()) == 2, what="the page's own watch of the stream")
                for name in ("streamed-1", "streamed-2"):
                    assert api.post(base, {"metadata": {"name": name}}).status == 201
                dom, _ = browser.communicate(timeout=90)
            finally:
                if browser.poll() is None:
                    browser.kill()
                    browser.wait(10)
    finally:
        watch.close()
    assert "Stream of configmaps in " + ns in dom
    names = [row[2] for row in _rows(dom, "stream-events") if len(row) == 4]
    assert "streamed-1" in names and "streamed-2" in names, names
