"""The seed's forward-secrecy lesson, as a test: a captured watch is readable with the TLS key
log, and not without it, and not with the server's private key (`apiserver.key`) alone.

One loopback capture holds two conversations: a watch on strom (ECDSA key, ECDHE/TLS 1.3) with
a real client (the official `kubernetes` package), and a control exchange with a small server
that only speaks static-RSA key exchange (`AES128-GCM-SHA256`, no forward secrecy).  The
control proves the private-key option given to tshark does decrypt where the suite allows it,
so strom's capture staying unreadable with `apiserver.key` is forward secrecy, not a typo in
a tshark preference.

tshark itself captures (`-w` plus `-P -l` to print each packet as it is written): the test
waits for "Capturing on" before any traffic, and after the traffic for a sentinel connection
to appear in tshark's own output, so the capture is known to hold everything before it is
stopped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
import urllib3

from strom.testing.certs import self_signed
from strom.testing.server import StromServer

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None or shutil.which("dumpcap") is None,
    reason="tshark/dumpcap not installed (Debian package tshark; `make test` installs it)",
)

DEADLINE = 20.0


# --- a live capture --------------------------------------------------------------------------


class _Lines:
    """Lines of a subprocess pipe, read by a thread, waited for with a deadline."""

    def __init__(self, pipe: IO[str], name: str) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), name=name, daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line)
        self._queue.put(None)  # EOF

    def wait_for(self, wanted: Callable[[str], bool], *, what: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"tshark ended before {what}: {''.join(self.seen)[-2000:]}")
            self.seen.append(line)
            if wanted(line):
                return line
        pytest.fail(f"timed out after {DEADLINE}s waiting for {what}: {''.join(self.seen)[-2000:]}")


@dataclass
class LiveCapture:
    proc: subprocess.Popen[str]
    stdout: _Lines
    stderr: _Lines

    def wait_for_port(self, port: int) -> None:
        self.stdout.wait_for(lambda line: str(port) in line.split(), what=f"a packet on {port}")


@contextlib.contextmanager
def capturing(path: Path, ports: list[int]) -> Iterator[LiveCapture]:
    """tshark on `lo`, only these TCP ports, into `path`; stopped (SIGINT, then SIGKILL)."""
    assert TSHARK is not None
    bpf = " or ".join(f"tcp port {port}" for port in ports)
    cmd = [TSHARK, "-i", "lo", "-f", bpf, "-w", str(path), "-P", "-l", "-n"]
    cmd += ["-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its dumpcap child can be killed with it, and only with it
    )
    assert proc.stdout is not None and proc.stderr is not None
    capture = LiveCapture(
        proc, _Lines(proc.stdout, "tshark-out"), _Lines(proc.stderr, "tshark-err")
    )
    try:
        capture.stderr.wait_for(lambda line: "Capturing on" in line, what="capture to start")
        yield capture
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(DEADLINE)


# --- reading a capture -----------------------------------------------------------------------


def tshark(*args: str) -> str:
    assert TSHARK is not None
    proc = subprocess.run(
        [TSHARK, "-n", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"tshark {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def decrypted_streams(cap: Path, *prefs: str) -> dict[int, list[bytes]]:
    """Per TCP stream, the TLS plaintext tshark recovers with these preferences, per direction.

    `-z follow,tls,raw` prints decrypted application data as hex, one line per record, the
    second node's indented by a tab; with no usable keys it prints nothing for the stream.
    """
    streams = sorted(
        {int(s) for s in tshark("-r", str(cap), "-T", "fields", "-e", "tcp.stream").split()}
    )
    follow = [arg for n in streams for arg in ("-z", f"follow,tls,raw,{n}")]
    out: dict[int, list[bytearray]] = {}
    current: list[bytearray] | None = None
    for line in tshark("-r", str(cap), "-q", *prefs, *follow).splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = [bytearray(), bytearray()]
            out[int(line.rsplit(" ", 1)[1])] = current
        elif current is not None and line.strip() and all(c in "0123456789abcdef\t" for c in line):
            current[line.startswith("\t")] += bytes.fromhex(line.strip())
    return {n: [bytes(d) for d in dirs] for n, dirs in out.items() if any(dirs)}


def watch_events(streams: dict[int, list[bytes]]) -> list[dict[str, Any]]:
    """Every JSON watch event line found in the plaintext (chunk-size lines are skipped)."""
    events = []
    for directions in streams.values():
        for data in directions:
            for line in data.split(b"\n"):
                if line.startswith(b'{"type":'):
                    events.append(orjson.loads(line))
    return events


# --- the control: a server without forward secrecy ---------------------------------------------


def _rsa_kx_context(side: ssl._SSLMethod) -> ssl.SSLContext:
    ctx = ssl.SSLContext(side)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-GCM-SHA256")  # static RSA key exchange
    return ctx


@contextlib.contextmanager
def rsa_only_server(cert: Path, key: Path) -> Iterator[int]:
    """Answers one HTTP request over TLS 1.2 with static-RSA key exchange, echoing its line."""
    ctx = _rsa_kx_context(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            conn.settimeout(DEADLINE)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                request_line = tls.recv(4096).split(b"\r\n", 1)[0]
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(request_line), request_line)
                )

    thread = threading.Thread(target=serve_one, name="rsa-only-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes accept() if no client came
        listener.close()
        thread.join(DEADLINE)


def talk_without_forward_secrecy(port: int, marker: str) -> None:
    ctx = _rsa_kx_context(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    with raw, ctx.wrap_socket(raw) as tls:
        cipher = tls.cipher()
        assert cipher is not None and cipher[0] == "AES128-GCM-SHA256"
        tls.sendall(f"GET /{marker} HTTP/1.1\r\nHost: control\r\n\r\n".encode())
        reply = b""
        while marker.encode() not in reply:
            chunk = tls.recv(4096)
            assert chunk, f"control server closed early: {reply!r}"
            reply += chunk


# --- the watch, with a real client ---------------------------------------------------------------


def watch_until_added(server: StromServer, name: str) -> dict[str, Any]:
    """Open a watch with the official client, create a ConfigMap, return its ADDED event."""
    from kubernetes import client, config
    from kubernetes.watch.watch import iter_resp_lines

    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(server.kubeconfig)
    )
    api = client.CoreV1Api(api_client)
    # Returns once the response headers are in, so the change below happens during the watch
    # (and without a resourceVersion, an object older than the watch still comes as ADDED).
    resp: urllib3.BaseHTTPResponse = api.list_namespaced_config_map(  # type: ignore[assignment]
        "default", watch=True, timeout_seconds=60, _preload_content=False, _request_timeout=DEADLINE
    )
    try:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name), data={"lesson": "forward secrecy"}
        )
        api.create_namespaced_config_map("default", body)
        for line in iter_resp_lines(resp):  # type: ignore[no-untyped-call]
            event: dict[str, Any] = orjson.loads(line)
            if event["object"]["metadata"]["name"] == name:
                return event
        pytest.fail("the watch ended without the ConfigMap's event")
    finally:
        resp.close()
        resp.release_conn()


def sentinel(port: int) -> int:
    """A bare TCP connection, to see in tshark's output; returns its (unique) client port."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        client_port: int = sock.getsockname()[1]
    return client_port


# --- the lesson ----------------------------------------------------------------------------------


def test_watch_is_readable_with_the_key_log_only(
    strom_server_factory: Callable[..., StromServer], tmp_path: Path
) -> None:
    keylog = tmp_path / "tls-keys.log"
    server = strom_server_factory("--tls-keylog-file", str(keylog))
    apiserver_key = server.data_dir / "pki" / "apiserver.key"
    control_cert, control_key = self_signed(tmp_path, "no-forward-secrecy.test", rsa_key=True)
    cm_name = f"fs-lesson-{uuid.uuid4().hex[:8]}"
    marker = f"control-{uuid.uuid4().hex[:8]}"
    cap = tmp_path / "watch.pcapng"

    with contextlib.ExitStack() as stack:
        control_port = stack.enter_context(rsa_only_server(control_cert, control_key))
        live = stack.enter_context(capturing(cap, [server.port, control_port]))
        event = watch_until_added(server, cm_name)
        talk_without_forward_secrecy(control_port, marker)
        live.wait_for_port(sentinel(server.port))
    assert event["type"] == "ADDED"

    raw = cap.read_bytes()
    assert cm_name.encode() not in raw, "the ConfigMap's name is on the wire in clear text"
    app_records = tshark("-r", str(cap), "-Y", f"tls.app_data && tcp.srcport == {server.port}")
    assert app_records.strip(), "no TLS application data from strom was captured"

    # (a) With the key log the watch stream is plaintext: the ADDED event is there.
    with_keylog = decrypted_streams(cap, "-o", f"tls.keylog_file:{keylog}")
    added = [
        e
        for e in watch_events(with_keylog)
        if e["type"] == "ADDED" and e["object"]["metadata"]["name"] == cm_name
    ]
    assert added, f"no ADDED event for {cm_name} in {list(with_keylog)} decrypted streams"
    assert added[0]["object"]["data"] == {"lesson": "forward secrecy"}

    # (b) Without it, tshark recovers nothing from strom's connections.
    assert not watch_events(decrypted_streams(cap)), "decrypted without any key"

    # (c) With the private keys: the control conversation (static RSA) opens, strom's does not.
    rsa_keys = f'uat:rsa_keys:"{apiserver_key}",""'
    control_keys = f'uat:rsa_keys:"{control_key}",""'
    with_private_keys = decrypted_streams(cap, "-o", rsa_keys, "-o", control_keys)
    plaintext = b"".join(b"".join(dirs) for dirs in with_private_keys.values())
    assert f"GET /{marker}".encode() in plaintext, "the RSA key did not decrypt the control"
    assert cm_name.encode() not in plaintext, "apiserver.key decrypted an ECDHE session"
    assert not watch_events(with_private_keys)
