"""`strom tls-inspect` against a live strom, and against a deliberately weak server.

The weak server (TLS 1.0+, static-RSA key exchange only) is there so that strom's "refused"
cannot pass vacuously: the same probes must say "accepted" where the server does accept.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strom.testing.certs import self_signed
from strom.testing.server import StromServer


def tls_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strom.cli.main", "tls-inspect", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def strom_report(strom_server: StromServer) -> dict[str, Any]:
    proc = tls_inspect(strom_server.url, "--ca-file", str(strom_server.ca_file), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def probes(report: dict[str, Any]) -> dict[str, bool | None]:
    return {p["name"]: p["accepted"] for p in [*report["versions"], *report["suites"]]}


def test_strom_negotiates_forward_secret_tls13(strom_report: dict[str, Any]) -> None:
    hs = strom_report["handshake"]
    assert hs["version"] == "TLSv1.3"
    assert hs["cipher_iana"].startswith("TLS_AES_") or hs["cipher_iana"].startswith("TLS_CHACHA")
    assert hs["forward_secret"] is True
    assert hs["key_exchange"] == "ECDHE"
    assert hs["group"] in {"x25519", "secp256r1", "secp384r1", "X25519MLKEM768"}
    assert hs["alpn"] == "http/1.1"


def test_strom_certificate_chain_verifies(
    strom_report: dict[str, Any], strom_server: StromServer
) -> None:
    assert strom_report["verification"] == {
        "verified": True,
        "trust": f"CA file {strom_server.ca_file}",
        "hostname": "127.0.0.1",
        "error": None,
    }
    assert strom_report["server_name"] == "127.0.0.1" and strom_report["sni_sent"] is False
    leaf, ca = strom_report["chain"]
    assert leaf["subject"] == "CN=kube-apiserver"
    assert leaf["issuer"] == ca["subject"] == "CN=kubernetes"
    assert "IP:127.0.0.1" in leaf["sans"] and "DNS:kubernetes.default.svc" in leaf["sans"]
    assert leaf["key"].startswith("ECDSA P-256")
    assert 300 < leaf["days_left"] <= 365 and ca["is_ca"] and not leaf["is_ca"]


def test_strom_refuses_old_versions_and_non_forward_secret_suites(
    strom_report: dict[str, Any],
) -> None:
    assert probes(strom_report) == {
        "TLS 1.0": False,
        "TLS 1.1": False,
        "TLS 1.2": True,
        "TLS 1.3": True,
        "AES128-GCM-SHA256": False,
        "AES256-GCM-SHA384": False,
        "AES128-SHA": False,
        "CBC suites": False,
    }
    tls12 = next(p for p in strom_report["versions"] if p["name"] == "TLS 1.2")
    assert tls12["detail"].startswith("TLSv1.2 ECDHE-ECDSA-")


def test_text_report_reads_as_a_person_wants(strom_server: StromServer) -> None:
    proc = tls_inspect(strom_server.url, "--ca-file", str(strom_server.ca_file))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "  protocol        TLSv1.3\n" in out
    assert "  forward secret  yes" in out
    assert "  verified        yes, against CA file" in out
    assert "  [0] CN=kube-apiserver  (leaf)" in out
    assert "  TLS 1.0            refused" in out
    assert "  AES128-GCM-SHA256  refused" in out


def test_unverified_certificate_is_an_error_unless_insecure(strom_server: StromServer) -> None:
    wrong_name = ("--sni", "not-in-the-cert.example", "--ca-file", str(strom_server.ca_file))
    strict = tls_inspect(strom_server.url, *wrong_name, "--no-probes", "-o", "json")
    assert strict.returncode == 1
    verification = json.loads(strict.stdout)["verification"]
    assert verification["verified"] is False
    assert "not-in-the-cert.example" in verification["error"]
    insecure = tls_inspect(strom_server.url, *wrong_name, "--no-probes", "--insecure")
    assert insecure.returncode == 0, insecure.stderr
    assert "verified        NO" in insecure.stdout


def free_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "message", "code"),
    [
        ("http://127.0.0.1:6443", "not an https:// URL", 2),
        ("https://127.0.0.1:99999", "not a valid URL", 2),
        ("https://", "no host in URL", 2),
        ("https://127.0.0.1:{free}", "cannot connect to 127.0.0.1:", 1),
    ],
)
def test_bad_url_or_unreachable_is_one_line(url: str, message: str, code: int) -> None:
    proc = tls_inspect(url.format(free=free_port()))
    assert proc.returncode == code
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"strom tls-inspect: {message}"), proc.stderr


def test_plain_http_port_is_one_line() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer_in_plain_http() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer_in_plain_http, daemon=True)
        thread.start()
        proc = tls_inspect(f"https://127.0.0.1:{port}")
        thread.join(10)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"strom tls-inspect: TLS handshake with 127.0.0.1:{port} failed")


# --- a weak server: proves the probes can tell "accepted" -----------------------------------


@pytest.fixture
def weak_server(tmp_path: Path) -> Iterator[int]:
    """TLS 1.0-1.2, static-RSA key exchange only; handshakes every connection, then closes."""
    cert, key = self_signed(tmp_path, "legacy.test", rsa_key=True, days=30)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-GCM-SHA256:AES128-SHA:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # listener closed: the test is over
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except OSError:
                conn.close()  # a refused probe; expected

    thread = threading.Thread(target=serve, name="weak-tls-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        listener.close()
        thread.join(10)
        assert not thread.is_alive()


def test_weak_server_is_reported_as_weak(weak_server: int) -> None:
    proc = tls_inspect(f"https://127.0.0.1:{weak_server}", "--insecure", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    hs = report["handshake"]
    assert hs["version"] == "TLSv1.2"
    assert hs["key_exchange"] == "RSA" and hs["forward_secret"] is False and hs["group"] is None
    assert hs["cipher_iana"] == "TLS_RSA_WITH_AES_128_GCM_SHA256"
    assert hs["cipher_openssl"] == "AES128-GCM-SHA256"
    assert report["verification"]["verified"] is False  # self-signed, not in any store
    assert report["chain"][0]["key"] == "RSA 2048 bits"
    found = probes(report)
    if ssl.HAS_TLSv1:
        assert found["TLS 1.0"] is True
    assert found["TLS 1.2"] is True and found["TLS 1.3"] is False
    assert found["AES128-GCM-SHA256"] is True and found["AES128-SHA"] is True
    assert found["AES256-GCM-SHA384"] is False
