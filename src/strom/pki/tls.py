"""TLS contexts for the apiserver's secure port (and for tests that talk to it).

The server side follows kube-apiserver's posture with the legacy parts removed: TLS 1.2 is the
floor, TLS 1.3 is preferred, and TLS 1.2 is restricted to forward-secret ECDHE key exchange with
AEAD ciphers (no static-RSA key exchange, no CBC).  We only speak HTTP/1.1, so ALPN advertises
just `http/1.1`; Go clients (kubectl, client-go) offer `h2,http/1.1` and fall back cleanly.

Client certificates are requested but optional, like kube-apiserver with `--client-ca-file`:
a request without one can still authenticate with a bearer token.  One difference: Go's server
only *requests* the cert and lets the x509 authenticator verify it (an untrusted cert then just
fails that authenticator), whereas OpenSSL with CERT_OPTIONAL verifies during the handshake, so
an untrusted client cert aborts the handshake instead.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

__all__ = ["ALPN_PROTOCOLS", "TLS12_CIPHERS", "client_ssl_context", "server_ssl_context"]

# OpenSSL cipher string for TLS <= 1.2 only (TLS 1.3 suites are configured separately and are
# all AEAD).  Covers ECDHE_ECDSA and ECDHE_RSA with AES-GCM and ChaCha20-Poly1305.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!PSK:!SRP"

ALPN_PROTOCOLS = ("http/1.1",)


def server_ssl_context(
    *,
    cert_file: Path,
    key_file: Path,
    client_ca_file: Path | None,
    keylog_file: Path | None = None,
) -> ssl.SSLContext:
    """Context for the secure port; client certs are verified against `client_ca_file` if set.

    `keylog_file` writes NSS key-log lines (for Wireshark) and is meant for debugging only.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= (
        ssl.OP_NO_COMPRESSION
        | ssl.OP_CIPHER_SERVER_PREFERENCE
        | ssl.OP_SINGLE_ECDH_USE
        | ssl.OP_NO_RENEGOTIATION
    )
    ctx.set_alpn_protocols(list(ALPN_PROTOCOLS))
    ctx.load_cert_chain(certfile=cert_file, keyfile=key_file)
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if keylog_file is not None:
        _create_private(keylog_file)
        ctx.keylog_filename = str(keylog_file)
    return ctx


def _create_private(path: Path) -> None:
    """Create the key log 0600 before OpenSSL opens it (it would use the umask): its lines
    decrypt every session. An existing file is narrowed to 0600 too."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def client_ssl_context(
    *,
    ca_file: Path,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> ssl.SSLContext:
    """Client context trusting only the cluster CA, optionally presenting a client cert."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(list(ALPN_PROTOCOLS))
    if cert_file is not None:
        ctx.load_cert_chain(certfile=cert_file, keyfile=key_file)
    return ctx
