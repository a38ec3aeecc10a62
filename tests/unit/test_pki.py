"""PKI creation/reuse, kubeconfig writing and the TLS contexts (real handshakes)."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from strom.pki import (
    PKIError,
    PKIPaths,
    client_ssl_context,
    ensure_pki,
    issue_client_cert,
    server_ssl_context,
    write_kubeconfig,
)
from strom.pki import certs as certs_mod
from strom.pki.kubeconfig import kubeconfig_name

# --------------------------------------------------------------------------- helpers


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def snapshot(paths: PKIPaths) -> dict[str, bytes]:
    return {name: getattr(paths, name).read_bytes() for name in paths.__dataclass_fields__}


def san_strings(cert: x509.Certificate) -> set[str]:
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(s.value) for s in sans}


def eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def pki(tmp_path: Path) -> PKIPaths:
    return ensure_pki(cert_dir=tmp_path / "pki", sans=["10.1.2.3", "strom.example"])


# --------------------------------------------------------------------------- ensure_pki


def test_creates_kubeadm_layout(tmp_path: Path) -> None:
    paths = ensure_pki(cert_dir=tmp_path / "pki", sans=[])
    assert paths == PKIPaths.in_dir(tmp_path / "pki")
    assert sorted(p.name for p in (tmp_path / "pki").iterdir()) == [
        "admin.crt",
        "admin.key",
        "apiserver.crt",
        "apiserver.key",
        "ca.crt",
        "ca.key",
    ]
    for key in (paths.ca_key, paths.server_key, paths.admin_key):
        assert mode_of(key) == 0o600
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        assert loaded.curve.name == "secp256r1"


def test_ca_is_self_signed_kubernetes_for_ten_years(pki: PKIPaths) -> None:
    ca = load_cert(pki.ca_crt)
    assert ca.subject.rfc4514_string() == "CN=kubernetes"
    assert ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    ca.verify_directly_issued_by(ca)
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=3649) < lifetime < dt.timedelta(days=3651)


def test_serving_cert_has_default_and_requested_sans(pki: PKIPaths) -> None:
    server = load_cert(pki.server_crt)
    assert server.subject.rfc4514_string() == "CN=kube-apiserver"
    server.verify_directly_issued_by(load_cert(pki.ca_crt))
    assert eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert {
        "localhost",
        "127.0.0.1",
        "::1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "10.1.2.3",
        "strom.example",
    } <= san_strings(server)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in sans.get_values_for_type(x509.IPAddress)
    assert "strom.example" in sans.get_values_for_type(x509.DNSName)
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert dt.timedelta(days=364) < lifetime < dt.timedelta(days=366)
    assert server.not_valid_before_utc < dt.datetime.now(dt.UTC)


def test_admin_cert_is_system_masters_client(pki: PKIPaths) -> None:
    admin = load_cert(pki.admin_crt)
    admin.verify_directly_issued_by(load_cert(pki.ca_crt))
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "kubernetes-admin"
    )
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    assert eku(admin) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_restart_reuses_everything(pki: PKIPaths) -> None:
    before = snapshot(pki)
    again = ensure_pki(cert_dir=pki.ca_crt.parent, sans=["strom.example", "10.1.2.3"])
    assert snapshot(again) == before


def test_new_san_reissues_only_serving_cert(pki: PKIPaths) -> None:
    before = snapshot(pki)
    ensure_pki(cert_dir=pki.ca_crt.parent, sans=["10.1.2.3", "strom.example", "10.9.9.9"])
    after = snapshot(pki)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"server_crt", "server_key"}
    server = load_cert(pki.server_crt)
    assert {"10.9.9.9", "10.1.2.3", "strom.example"} <= san_strings(server)
    server.verify_directly_issued_by(load_cert(pki.ca_crt))


def test_san_spelling_variants_do_not_force_reissue(pki: PKIPaths) -> None:
    before = snapshot(pki)
    ensure_pki(cert_dir=pki.ca_crt.parent, sans=["[0:0::1]", " STROM.example ", "", "10.1.2.3"])
    assert snapshot(pki) == before


def test_invalid_san_is_pki_error(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match="subject alternative name"):
        ensure_pki(cert_dir=tmp_path / "pki", sans=["bücher.example"])
    assert not (tmp_path / "pki").exists()


def test_corrupt_ca_cert_names_the_file(pki: PKIPaths) -> None:
    pki.ca_crt.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    with pytest.raises(PKIError) as err:
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])
    message = str(err.value)
    assert str(pki.ca_crt) in message
    assert "\n" not in message


def test_corrupt_leaf_key_names_the_file(pki: PKIPaths) -> None:
    pki.server_key.write_bytes(b"not a key")
    with pytest.raises(PKIError, match=str(pki.server_key)):
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])


def test_unreadable_file_names_the_file(pki: PKIPaths) -> None:
    pki.admin_crt.unlink()
    pki.admin_crt.mkdir()  # unreadable as a file for every user, root included
    with pytest.raises(PKIError, match=f"cannot read {pki.admin_crt}"):
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])


def test_missing_ca_key_with_existing_ca_cert_is_refused(pki: PKIPaths) -> None:
    pki.ca_key.unlink()
    with pytest.raises(PKIError, match=str(pki.ca_key)):
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])


def test_mismatched_ca_key_is_refused(pki: PKIPaths, tmp_path: Path) -> None:
    other = ensure_pki(cert_dir=tmp_path / "other", sans=[])
    shutil.copyfile(other.ca_key, pki.ca_key)
    with pytest.raises(PKIError, match="does not match"):
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])


def test_orphan_ca_key_from_interrupted_start_is_replaced(tmp_path: Path) -> None:
    cert_dir = tmp_path / "pki"
    cert_dir.mkdir()
    (cert_dir / "ca.key").write_bytes(b"half written")
    paths = ensure_pki(cert_dir=cert_dir, sans=[])
    load_cert(paths.server_crt).verify_directly_issued_by(load_cert(paths.ca_crt))


def test_leaf_with_mismatched_key_is_reissued(pki: PKIPaths, tmp_path: Path) -> None:
    # What a crash between writing the new key and the new cert leaves behind.
    other = ensure_pki(cert_dir=tmp_path / "other", sans=[])
    shutil.copyfile(other.admin_key, pki.admin_key)
    before = snapshot(pki)
    ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])
    assert pki.admin_crt.read_bytes() != before["admin_crt"]
    admin = load_cert(pki.admin_crt)
    key = serialization.load_pem_private_key(pki.admin_key.read_bytes(), password=None)
    assert admin.public_key() == key.public_key()


def test_new_ca_reissues_all_leaves(pki: PKIPaths) -> None:
    before = snapshot(pki)
    pki.ca_crt.unlink()
    pki.ca_key.unlink()
    ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])
    after = snapshot(pki)
    assert all(before[name] != after[name] for name in before)
    ca = load_cert(pki.ca_crt)
    load_cert(pki.server_crt).verify_directly_issued_by(ca)
    load_cert(pki.admin_crt).verify_directly_issued_by(ca)


def test_expiring_leaf_is_renewed(pki: PKIPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(pki)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    monkeypatch.setattr(certs_mod, "_now", lambda: future)
    ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])
    after = snapshot(pki)
    assert {n for n in before if before[n] != after[n]} == {
        "server_crt",
        "server_key",
        "admin_crt",
        "admin_key",
    }


@pytest.mark.parametrize("which", ["server_key", "ca_key", "admin_key"])
def test_loose_key_mode_is_refused(pki: PKIPaths, which: str) -> None:
    key = getattr(pki, which)
    os.chmod(key, 0o640)
    with pytest.raises(PKIError, match=r"readable by group or others \(mode 0640\)"):
        ensure_pki(cert_dir=pki.ca_crt.parent, sans=[])
    assert mode_of(key) == 0o640  # not silently "fixed"


def test_issue_client_cert(pki: PKIPaths, tmp_path: Path) -> None:
    crt, key = tmp_path / "alice.crt", tmp_path / "alice.key"
    issue_client_cert(
        ca=pki, common_name="alice", organizations=["dev", "ops"], out_crt=crt, out_key=key
    )
    cert = load_cert(crt)
    cert.verify_directly_issued_by(load_cert(pki.ca_crt))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["dev", "ops"]
    assert eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert mode_of(key) == 0o600


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.key"
    target.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        certs_mod.atomic_write(target, b"new", mode=0o600)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.key"]


def test_atomic_write_sets_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "k"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    certs_mod.atomic_write(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


# --------------------------------------------------------------------------- kubeconfig


def test_kubeconfig_contents(pki: PKIPaths, tmp_path: Path) -> None:
    path = tmp_path / "out" / "admin.kubeconfig"
    write_kubeconfig(
        path=path,
        server="https://127.0.0.1:6443",
        ca_pem=pki.ca_crt.read_bytes(),
        token="tok123",
        client_cert_pem=pki.admin_crt.read_bytes(),
        client_key_pem=pki.admin_key.read_bytes(),
    )
    assert mode_of(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["admin.kubeconfig"]
    cfg = yaml.safe_load(path.read_text())
    assert cfg["kind"] == "Config"
    assert cfg["current-context"] == "strom-6443"  # unique per server: kubeconfigs merge
    (cluster,) = cfg["clusters"]
    assert cluster["name"] == "strom-6443"
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    ca_data = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca_data == pki.ca_crt.read_bytes()
    users = {u["name"]: u["user"] for u in cfg["users"]}
    contexts = {c["name"]: c["context"] for c in cfg["contexts"]}
    assert users[contexts["strom-6443"]["user"]] == {"token": "tok123"}
    assert contexts["strom-6443"]["user"] == "admin@strom-6443"
    cert_user = users[contexts["strom-6443-cert"]["user"]]
    assert base64.b64decode(cert_user["client-certificate-data"]) == pki.admin_crt.read_bytes()
    assert base64.b64decode(cert_user["client-key-data"]) == pki.admin_key.read_bytes()
    assert {c["cluster"] for c in contexts.values()} == {"strom-6443"}


def test_kubeconfig_token_only(pki: PKIPaths, tmp_path: Path) -> None:
    path = tmp_path / "kc"
    write_kubeconfig(
        path=path,
        server="https://h:1",
        ca_pem=pki.ca_crt.read_bytes(),
        token="t",
        client_cert_pem=None,
        client_key_pem=None,
        user="bob",
    )
    cfg = yaml.safe_load(path.read_text())
    assert [c["name"] for c in cfg["contexts"]] == ["strom-1"]
    assert cfg["users"] == [{"name": "bob@strom-1", "user": {"token": "t"}}]


def test_kubeconfig_rejects_half_a_client_pair(pki: PKIPaths, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="together"):
        write_kubeconfig(
            path=tmp_path / "kc",
            server="https://h:1",
            ca_pem=pki.ca_crt.read_bytes(),
            token="t",
            client_cert_pem=pki.admin_crt.read_bytes(),
            client_key_pem=None,
        )
    assert not (tmp_path / "kc").exists()


# --------------------------------------------------------------------------- TLS handshakes


@dataclass
class Handshake:
    client: ssl.SSLObject
    server: ssl.SSLObject


class HandshakeFailed(Exception):
    def __init__(self, side: str, error: ssl.SSLError) -> None:
        super().__init__(f"{side}: {error}")
        self.side = side
        self.error = error


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Handshake:
    """Run a full handshake between two in-memory TLS endpoints, shuttling bytes by hand."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    done = {"client": False, "server": False}
    for _ in range(10):
        for side, obj in (("client", client), ("server", server)):
            if done[side]:
                continue
            try:
                obj.do_handshake()
                done[side] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                raise HandshakeFailed(side, exc) from exc
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            # TLS 1.3: the server only sees the client's certificate/Finished after its own
            # handshake call consumed them; one more exchange of pending bytes is harmless.
            return Handshake(client=client, server=server)
    raise AssertionError("handshake did not converge")


@pytest.fixture
def server_ctx(pki: PKIPaths) -> ssl.SSLContext:
    return server_ssl_context(
        cert_file=pki.server_crt, key_file=pki.server_key, client_ca_file=pki.ca_crt
    )


def test_tls13_by_default(server_ctx: ssl.SSLContext, pki: PKIPaths) -> None:
    hs = handshake(server_ctx, client_ssl_context(ca_file=pki.ca_crt))
    assert hs.server.version() == "TLSv1.3"
    assert hs.client.selected_alpn_protocol() == "http/1.1"
    assert hs.server.getpeercert() is None


def test_tls12_negotiates_ecdhe_aead(server_ctx: ssl.SSLContext, pki: PKIPaths) -> None:
    client = client_ssl_context(ca_file=pki.ca_crt)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    hs = handshake(server_ctx, client)
    assert hs.server.version() == "TLSv1.2"
    name, _, _ = hs.server.cipher() or ("", "", 0)
    assert name.startswith("ECDHE-ECDSA-")
    assert "GCM" in name or "CHACHA20" in name


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls11_client_refused(server_ctx: ssl.SSLContext, pki: PKIPaths) -> None:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=pki.ca_crt)
    client.set_ciphers("ALL:@SECLEVEL=0")
    client.minimum_version = ssl.TLSVersion.TLSv1_1
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(HandshakeFailed) as err:
        handshake(server_ctx, client)
    assert err.value.side == "server"
    assert "UNSUPPORTED_PROTOCOL" in str(err.value.error).upper()


def test_cbc_only_tls12_client_refused(server_ctx: ssl.SSLContext, pki: PKIPaths) -> None:
    client = client_ssl_context(ca_file=pki.ca_crt)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")
    with pytest.raises(HandshakeFailed) as err:
        handshake(server_ctx, client)
    assert err.value.side == "server"
    assert "NO_SHARED_CIPHER" in str(err.value.error).upper()


def make_rsa_server_cert(pki: PKIPaths, out_dir: Path) -> tuple[Path, Path]:
    """An RSA serving cert, so a refused RSA-kx suite is down to the cipher policy alone."""
    ca = load_cert(pki.ca_crt)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    crt_path, key_path = out_dir / "rsa.crt", out_dir / "rsa.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt_path, key_path


@pytest.mark.parametrize("key_type", ["ecdsa", "rsa"])
def test_rsa_key_exchange_only_client_refused(pki: PKIPaths, tmp_path: Path, key_type: str) -> None:
    if key_type == "rsa":
        crt, key = make_rsa_server_cert(pki, tmp_path)
    else:
        crt, key = pki.server_crt, pki.server_key
    server = server_ssl_context(cert_file=crt, key_file=key, client_ca_file=None)
    ok_client = client_ssl_context(ca_file=pki.ca_crt)
    ok_client.maximum_version = ssl.TLSVersion.TLSv1_2
    # Sanity: the same server does complete a TLS 1.2 handshake with an ECDHE suite.
    assert (handshake(server, ok_client).server.cipher() or ("",))[0].startswith("ECDHE-")
    client = client_ssl_context(ca_file=pki.ca_crt)
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("AES128-GCM-SHA256")
    with pytest.raises(HandshakeFailed) as err:
        handshake(server, client)
    assert err.value.side == "server"
    assert "NO_SHARED_CIPHER" in str(err.value.error).upper()


def test_client_cert_visible_to_server(server_ctx: ssl.SSLContext, pki: PKIPaths) -> None:
    client = client_ssl_context(ca_file=pki.ca_crt, cert_file=pki.admin_crt, key_file=pki.admin_key)
    hs = handshake(server_ctx, client)
    peer = hs.server.getpeercert()
    assert peer is not None
    subject = [attr for rdn in peer["subject"] for attr in rdn]
    assert ("commonName", "kubernetes-admin") in subject
    assert ("organizationName", "system:masters") in subject


def test_client_cert_from_other_ca_rejected(
    server_ctx: ssl.SSLContext, pki: PKIPaths, tmp_path: Path
) -> None:
    other = ensure_pki(cert_dir=tmp_path / "other", sans=[])
    client = client_ssl_context(
        ca_file=pki.ca_crt, cert_file=other.admin_crt, key_file=other.admin_key
    )
    with pytest.raises(HandshakeFailed) as err:
        handshake(server_ctx, client)
    assert err.value.side == "server"
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value.error).upper()


def test_client_cert_not_requested_without_client_ca(pki: PKIPaths) -> None:
    server = server_ssl_context(
        cert_file=pki.server_crt, key_file=pki.server_key, client_ca_file=None
    )
    client = client_ssl_context(ca_file=pki.ca_crt, cert_file=pki.admin_crt, key_file=pki.admin_key)
    assert handshake(server, client).server.getpeercert() is None


@pytest.mark.parametrize(
    ("offered", "selected"), [(["h2", "http/1.1"], "http/1.1"), (["h2"], None)]
)
def test_alpn_http11_only(
    server_ctx: ssl.SSLContext, pki: PKIPaths, offered: list[str], selected: str | None
) -> None:
    client = client_ssl_context(ca_file=pki.ca_crt)
    client.set_alpn_protocols(offered)
    hs = handshake(server_ctx, client)
    assert hs.client.selected_alpn_protocol() == selected
    assert hs.server.selected_alpn_protocol() == selected


def test_keylog_file(pki: PKIPaths, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    server = server_ssl_context(
        cert_file=pki.server_crt, key_file=pki.server_key, client_ca_file=None, keylog_file=keylog
    )
    handshake(server, client_ssl_context(ca_file=pki.ca_crt))
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_text()


# --------------------------------------------------------------------------- real clients


@dataclass
class Seen:
    peer_cn: str | None
    authorization: str | None
    alpn: str | None
    version: str | None


class _VersionHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[Seen]

    def do_GET(self) -> None:
        conn = self.connection
        assert isinstance(conn, ssl.SSLSocket)
        peer = conn.getpeercert()
        cn = None
        subject = peer.get("subject", ()) if peer else ()
        assert isinstance(subject, tuple)
        for rdn in subject:
            for attr in rdn:
                if attr[0] == "commonName":
                    cn = str(attr[1])
        self.seen.append(
            Seen(
                cn, self.headers.get("Authorization"), conn.selected_alpn_protocol(), conn.version()
            )
        )
        body = json.dumps(
            {
                "major": "1",
                "minor": "36",
                "gitVersion": "v1.36.0",
                "gitCommit": "0",
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.25",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LiveServer:
    url: str
    seen: list[Seen]


@pytest.fixture
def live_server(server_ctx: ssl.SSLContext) -> Iterator[LiveServer]:
    seen: list[Seen] = []
    handler = type("Handler", (_VersionHandler,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"https://127.0.0.1:{httpd.server_address[1]}", seen=seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def kubeconfig(pki: PKIPaths, live_server: LiveServer, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(
        path=path,
        server=live_server.url,
        ca_pem=pki.ca_crt.read_bytes(),
        token="secret-token",
        client_cert_pem=pki.admin_crt.read_bytes(),
        client_key_pem=pki.admin_key.read_bytes(),
    )
    return path


@pytest.mark.parametrize(
    ("context", "expected"),
    [("", (None, "Bearer secret-token")), ("-cert", ("kubernetes-admin", None))],
)
def test_python_kubernetes_client(
    kubeconfig: Path, live_server: LiveServer, context: str, expected: tuple[str | None, ...]
) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    name = kubeconfig_name(live_server.url) + context
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context=name)
    try:
        version = kubernetes.client.VersionApi(api).get_code()
    finally:
        api.close()
    assert version.git_version == "v1.36.0"
    (seen,) = live_server.seen
    assert (seen.peer_cn, seen.authorization) == expected


KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
@pytest.mark.parametrize(
    ("context", "expected"),
    [("", (None, "Bearer secret-token")), ("-cert", ("kubernetes-admin", None))],
)
def test_kubectl_accepts_ecdsa_and_falls_back_to_http11(
    kubeconfig: Path,
    live_server: LiveServer,
    tmp_path: Path,
    context: str,
    expected: tuple[str | None, ...],
) -> None:
    assert KUBECTL is not None
    out = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig),
            "--context",
            kubeconfig_name(live_server.url) + context,
            "version",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")},
        check=True,
    )
    assert json.loads(out.stdout)["serverVersion"]["gitVersion"] == "v1.36.0"
    assert live_server.seen
    for seen in live_server.seen:
        assert (seen.peer_cn, seen.authorization) == expected
        assert seen.alpn == "http/1.1"  # Go offered h2 too; we picked http/1.1
        assert seen.version == "TLSv1.3"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_tls12_with_client_cert(pki: PKIPaths, live_server: LiveServer) -> None:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--cacert",
            str(pki.ca_crt),
            "--cert",
            str(pki.admin_crt),
            "--key",
            str(pki.admin_key),
            f"{live_server.url}/version",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout)["gitVersion"] == "v1.36.0"
    (seen,) = live_server.seen
    assert seen.peer_cn == "kubernetes-admin"
    assert seen.version == "TLSv1.2"
