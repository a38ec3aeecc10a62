"""The HTTP layer against hostile and unusual clients, over raw TLS sockets: Go net/http's
limits as kube-apiserver sets them, deadlines, pipelining, and no crash on any of it."""

from __future__ import annotations

import io
import json
import select
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, cast

import pytest

from strom.testing.server import StromServer, start_server

HEADER_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, strom_store_args: Callable[[], tuple[str, ...]]
) -> Iterator[StromServer]:
    server = start_server(
        tmp_path_factory.mktemp("limits"),
        *strom_store_args(),
        "--request-header-timeout",
        f"{HEADER_TIMEOUT}s",
        "--idle-timeout",
        f"{IDLE_TIMEOUT}s",
    )
    try:
        yield server
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
    assert "never retrieved" not in log, log[-4000:]


def connect(server: StromServer, timeout: float = 10.0) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def auth(server: StromServer) -> bytes:
    return b"Authorization: Bearer %s\r\n" % server.token.encode()


def sock_file(sock: ssl.SSLSocket) -> BinaryIO:
    return cast(BinaryIO, sock.makefile("rb"))


class Reader:
    """HTTP/1.1 responses read one after another from one socket (pipelining-safe)."""

    def __init__(self, source: ssl.SSLSocket | bytes) -> None:
        self.file: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else sock_file(source)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        if not status_line:
            raise EOFError("connection closed")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("utf-8").partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self.file.readline().strip(), 16)) > 0:
                body += self.file.read(size)
                self.file.readline()
            self.file.readline()
            return status, headers, body
        return status, headers, self.file.read(int(headers.get("content-length", "0")))


def closed_within(sock: ssl.SSLSocket, seconds: float) -> bool:
    """True when the server closes the connection (EOF or reset) before `seconds` pass."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def send_then_read(sock: ssl.SSLSocket, data: bytes, timeout: float = 30.0) -> bytes:
    """Send `data` while reading, on one thread (an OpenSSL connection must not be read and
    written from two threads at once: that loses records), until the server closes; the
    server may stop reading and close half-way. Returns all it answered."""
    sock.setblocking(False)
    unsent = memoryview(data)
    answer = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if unsent else [], [], 0.5)
        if writable:
            try:
                unsent = unsent[sock.send(unsent[:65536]) :]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except OSError:  # the server closed after answering: stop sending, keep reading
                unsent = unsent[:0]
        if readable or sock.pending():
            try:
                chunk = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except (ConnectionResetError, ssl.SSLError):
                return bytes(answer)
            if not chunk:
                return bytes(answer)
            answer += chunk
    raise AssertionError(f"the server did not close: {bytes(answer[:200])!r}")


def test_two_mib_of_headers_is_431_and_close(limited: StromServer) -> None:
    sock = connect(limited)
    filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    answer = send_then_read(sock, b"GET /version HTTP/1.1\r\nHost: x\r\n" + filler * 2100 + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
    assert answer.endswith(b"\r\n\r\n431 Request Header Fields Too Large")


def test_two_mib_url_is_431_and_a_100_kb_url_is_served(limited: StromServer) -> None:
    sock = connect(limited)
    answer = send_then_read(sock, b"GET /version?x=" + b"a" * (2 << 20) + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]

    sock = connect(limited)
    path = b"/api/v1/namespaces/default/configmaps?limit=1&junk=" + b"a" * 100_000
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, auth(limited)))
    status, _, body = Reader(sock).response()
    assert status == 200, body[:300]
    assert json.loads(body)["kind"] == "ConfigMapList"


def test_slow_headers_are_cut_by_the_header_timeout(limited: StromServer) -> None:
    sock = connect(limited)
    started = time.monotonic()
    closed = False
    for byte in b"GET /version HTTP/1.1\r\nHost: x\r\n":
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        if closed_within(sock, 0.25):
            closed = True
            break
    elapsed = time.monotonic() - started
    assert closed, "the server kept a connection whose headers came one byte at a time"
    assert HEADER_TIMEOUT - 0.2 <= elapsed < HEADER_TIMEOUT + 3, elapsed


def test_idle_keep_alive_connection_is_closed(limited: StromServer) -> None:
    sock = connect(limited)
    sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth(limited))
    reader = Reader(sock)
    assert reader.response()[0] == 200
    started = time.monotonic()
    assert closed_within(sock, IDLE_TIMEOUT + 5)
    assert time.monotonic() - started >= IDLE_TIMEOUT - 0.3


def test_each_request_starts_the_idle_wait_again(limited: StromServer) -> None:
    # The idle deadline moves with every request (the server's timer re-arms itself when it
    # fires early): a client asking every 0.6 IDLE_TIMEOUT keeps its connection.
    sock = connect(limited)
    request = b"GET /version HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth(limited)
    reader = Reader(sock)
    for _ in range(4):
        sock.sendall(request)
        assert reader.response()[0] == 200
        assert not closed_within(sock, IDLE_TIMEOUT * 0.6)
    started = time.monotonic()
    assert closed_within(sock, IDLE_TIMEOUT + 5)
    assert time.monotonic() - started >= IDLE_TIMEOUT * 0.4 - 0.3


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        b"\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Length: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}",
    ],
    ids=["bad-chunk-size", "content-length-and-chunked", "two-content-lengths"],
)
def test_broken_framing_is_400_and_close(limited: StromServer, request_bytes: bytes) -> None:
    sock = connect(limited)
    answer = send_then_read(sock, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:200]
    assert b"Connection: close" in answer


def test_warning_with_a_non_latin1_field_name(limited: StromServer) -> None:
    sock = connect(limited)
    name = f"w-{uuid.uuid4().hex[:6]}"
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "名前": "x"},
        ensure_ascii=False,
    ).encode()
    sock.sendall(
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n%s"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (auth(limited), len(body), body)
    )
    status, headers, reply = Reader(sock).response()
    assert status == 201, reply[:300]
    assert headers["warning"] == '299 - "unknown field \\"名前\\""'


def test_a_client_header_cannot_fake_a_too_large_body(limited: StromServer) -> None:
    sock = connect(limited)
    sock.sendall(
        b"GET /version HTTP/1.1\r\nHost: x\r\nX-Strom-Too-Large: 1\r\n%s\r\n" % auth(limited)
    )
    status, _, body = Reader(sock).response()
    assert status == 200, body[:300]


def test_body_over_three_mib_is_kubes_413(limited: StromServer) -> None:
    sock = connect(limited)
    body = b'{"metadata":{"name":"big"},"data":{"k":"' + b"a" * (3 << 20) + b'"}}'
    head = (
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n%s"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (auth(limited), len(body))
    )
    answer = send_then_read(sock, head + body)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    status_body: dict[str, Any] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert status_body["reason"] == "RequestEntityTooLarge"
    assert status_body["message"] == "Request entity too large: limit is 3145728"


def test_ten_thousand_pipelined_requests_answered_in_order(limited: StromServer) -> None:
    ns = "default"
    names = [f"pipe-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    setup = connect(limited)
    reader = Reader(setup)
    for name in names:
        body = json.dumps({"metadata": {"name": name}}).encode()
        setup.sendall(
            b"POST /api/v1/namespaces/%s/configmaps HTTP/1.1\r\nHost: x\r\n%s"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (ns.encode(), auth(limited), len(body), body)
        )
        assert reader.response()[0] == 201
    count = 10_000
    wire = b"".join(
        b"GET /api/v1/namespaces/%s/configmaps/%s HTTP/1.1\r\nHost: x\r\n%s\r\n"
        % (ns.encode(), names[i % 3].encode(), auth(limited))
        for i in range(count)
    )
    # The last request asks to close, so the whole answer ends with the connection.
    wire += b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n" % auth(limited)
    reader = Reader(send_then_read(connect(limited, timeout=60), wire, timeout=120))
    for i in range(count):
        status, _, body = reader.response()
        assert status == 200, (i, body[:200])
        assert json.loads(body)["metadata"]["name"] == names[i % 3], i
    status, headers, _ = reader.response()
    assert status == 200 and headers["connection"] == "close"


def test_health_checks_name_and_check_the_store(limited: StromServer) -> None:
    sock = connect(limited)
    reader = Reader(sock)
    store = "etcd" if "--etcd-servers" in " ".join(limited.extra_args) else "sqlite"
    for path, want in (
        ("/readyz?verbose", f"[+]{store} ok\n[+]informer-sync ok\nreadyz check passed\n"),
        ("/livez?verbose", f"[+]{store} ok\nlivez check passed\n"),
        (f"/readyz/{store}", "ok"),
    ):
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path.encode(), auth(limited)))
        status, _, body = reader.response()
        assert status == 200 and body.decode().endswith(want), (path, body)
    sock.sendall(b"GET /readyz/no-such-check HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth(limited))
    assert reader.response()[0] == 404
