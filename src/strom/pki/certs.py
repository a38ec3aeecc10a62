"""Self-managed cluster PKI: a CA, the apiserver serving cert and an admin client cert.

strom has to come up with TLS and client-certificate auth and no operator setup, and it must
survive restarts without invalidating kubeconfigs already handed out.  So `ensure_pki` mirrors
what `kubeadm init phase certs` lays down (same names, subjects, usages and lifetimes) but is
idempotent: whatever exists and is still usable is reused, and only what is missing or no
longer fits (e.g. a serving cert without a newly requested SAN) is (re)issued from the CA.

Keys are ECDSA P-256 (kubeadm's `ECDSA-P256` encryption algorithm) rather than kubeadm's
default RSA-2048: key generation is ~100x cheaper (tests create many PKIs) and handshakes sign
faster.  Go (kubectl, client-go), OpenSSL (curl) and Python's `ssl` (the `kubernetes` client)
all handle ECDSA certificates and the resulting ECDHE_ECDSA TLS 1.2 suites.  Existing RSA keys
are accepted and reused.

Every file is written atomically (temp file + rename) so a crash never leaves half a PEM, and
private keys are created mode 0600.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_SERVING_SANS",
    "PKIError",
    "PKIPaths",
    "atomic_write",
    "check_key_mode",
    "ensure_pki",
    "issue_client_cert",
]

CA_COMMON_NAME = "kubernetes"
SERVER_COMMON_NAME = "kube-apiserver"
ADMIN_COMMON_NAME = "kubernetes-admin"
ADMIN_ORGANIZATION = "system:masters"

# kubeadm's apiserver SANs (minus the service IP and host name, which depend on the deployment
# and can be passed in `sans`), plus the loopback names every local client uses.
DEFAULT_SERVING_SANS: tuple[str, ...] = (
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
# kubeadm backdates NotBefore so that slightly skewed clocks do not reject fresh certs.
BACKDATE = dt.timedelta(minutes=5)
# A leaf this close to expiry is reissued on start-up rather than failing mid-run.
RENEW_BEFORE = dt.timedelta(days=1)

KEY_MODE = 0o600
CERT_MODE = 0o644

SANValue = x509.DNSName | x509.IPAddress


class PKIError(Exception):
    """The PKI directory holds something unusable; the message is one line naming the file."""


@dataclass(frozen=True)
class PKIPaths:
    """Where the cluster's PEM files live."""

    ca_crt: Path
    ca_key: Path
    server_crt: Path
    server_key: Path
    admin_crt: Path
    admin_key: Path

    @classmethod
    def in_dir(cls, cert_dir: Path) -> PKIPaths:
        """kubeadm's file names inside the pki directory `cert_dir`."""
        return cls(
            ca_crt=cert_dir / "ca.crt",
            ca_key=cert_dir / "ca.key",
            server_crt=cert_dir / "apiserver.crt",
            server_key=cert_dir / "apiserver.key",
            admin_crt=cert_dir / "admin.crt",
            admin_key=cert_dir / "admin.key",
        )


@dataclass(frozen=True)
class _Issuer:
    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes


# --------------------------------------------------------------------------- public API


def ensure_pki(*, cert_dir: Path, sans: Sequence[str]) -> PKIPaths:
    """Create whatever is missing under `cert_dir`, reuse what is still valid, return the paths.

    The serving cert is reissued (from the existing CA) when it lacks any requested SAN.
    Raises PKIError for corrupt or unreadable files, or a CA cert whose key is gone.
    """
    wanted_sans = _parse_sans([*DEFAULT_SERVING_SANS, *sans])  # bad input: fail before writing
    paths = PKIPaths.in_dir(cert_dir)
    cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    issuer = _ensure_ca(paths)
    if not _leaf_reusable(issuer, paths.server_crt, paths.server_key, wanted_sans):
        _issue_leaf(
            issuer,
            subject=_name(SERVER_COMMON_NAME, ()),
            sans=wanted_sans,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            out_crt=paths.server_crt,
            out_key=paths.server_key,
        )
    if not _leaf_reusable(issuer, paths.admin_crt, paths.admin_key, []):
        _issue_leaf(
            issuer,
            subject=_name(ADMIN_COMMON_NAME, (ADMIN_ORGANIZATION,)),
            sans=[],
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            out_crt=paths.admin_crt,
            out_key=paths.admin_key,
        )
    return paths


def issue_client_cert(
    *,
    ca: PKIPaths,
    common_name: str,
    organizations: Sequence[str],
    out_crt: Path,
    out_key: Path,
) -> None:
    """Issue a client cert (CN = user name, one O per group) signed by the cluster CA."""
    issuer = _Issuer(cert=_load_cert(ca.ca_crt), key=_load_private_key(ca.ca_key))
    _issue_leaf(
        issuer,
        subject=_name(common_name, tuple(organizations)),
        sans=[],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        out_crt=out_crt,
        out_key=out_key,
    )


def atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` with `data` so readers see the old file or the whole new one, never a part.

    The temp file is created with `mode` already set (no window where a key is world-readable).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


# --------------------------------------------------------------------------- CA


def _ensure_ca(paths: PKIPaths) -> _Issuer:
    if paths.ca_crt.exists():
        if not paths.ca_key.exists():
            raise PKIError(
                f"pki: {paths.ca_key} is missing but {paths.ca_crt} exists; "
                "restore the key or remove both to create a new CA"
            )
        issuer = _Issuer(cert=_load_cert(paths.ca_crt), key=_load_private_key(paths.ca_key))
        if not _same_public_key(issuer.cert, issuer.key):
            raise PKIError(f"pki: {paths.ca_key} does not match the certificate {paths.ca_crt}")
        check_key_mode(paths.ca_key)
        return issuer
    # No CA cert: any ca.key left is an orphan of an interrupted first start; replace it.
    return _create_ca(paths)


def _create_ca(paths: PKIPaths) -> _Issuer:
    key = _new_key()
    now = _now()
    subject = _name(CA_COMMON_NAME, ())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    # Key first: a crash between the two writes leaves no ca.crt, so the next start redoes it.
    atomic_write(paths.ca_key, _key_pem(key), mode=KEY_MODE)
    atomic_write(paths.ca_crt, cert.public_bytes(serialization.Encoding.PEM), mode=CERT_MODE)
    return _Issuer(cert=cert, key=key)


# --------------------------------------------------------------------------- leaves


def _leaf_reusable(
    issuer: _Issuer, crt_path: Path, key_path: Path, wanted_sans: Sequence[SANValue]
) -> bool:
    """True when the pair exists, matches, is signed by this CA, is current and has the SANs."""
    if not (crt_path.exists() and key_path.exists()):
        return False
    cert = _load_cert(crt_path)
    key = _load_private_key(key_path)
    if not _same_public_key(cert, key) or not _issued_by(cert, issuer.cert):
        return False
    if cert.not_valid_after_utc - RENEW_BEFORE <= _now():
        return False
    if not _has_sans(cert, wanted_sans):
        return False
    check_key_mode(key_path)
    return True


def _issue_leaf(
    issuer: _Issuer,
    *,
    subject: x509.Name,
    sans: Sequence[SANValue],
    usage: x509.ObjectIdentifier,
    out_crt: Path,
    out_key: Path,
) -> None:
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + LEAF_VALIDITY, issuer.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(_authority_key_id(issuer.cert), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    out_crt.parent.mkdir(parents=True, exist_ok=True)
    # Key first: a crash in between leaves a key that no longer matches the old cert, which
    # `_leaf_reusable` detects and repairs on the next start.
    atomic_write(out_key, _key_pem(key), mode=KEY_MODE)
    atomic_write(out_crt, cert.public_bytes(serialization.Encoding.PEM), mode=CERT_MODE)


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # kubeadm: DigitalSignature everywhere, CertSign for the CA.  KeyEncipherment is only
    # meaningful for RSA keys, which we do not generate.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


# --------------------------------------------------------------------------- SANs


def _parse_sans(values: Sequence[str]) -> list[SANValue]:
    """IP literals become IP SANs, everything else a DNS SAN; duplicates dropped, order kept."""
    out: list[SANValue] = []
    seen: set[tuple[str, str]] = set()
    for raw in values:
        san = _parse_san(raw)
        if san is None:
            continue
        ident = _san_key(san)
        if ident not in seen:
            seen.add(ident)
            out.append(san)
    return out


def _parse_san(raw: str) -> SANValue | None:
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]  # bracketed IPv6 as written in URLs
    if not text:
        return None
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        return x509.DNSName(text.lower())
    except ValueError as exc:
        raise PKIError(f"pki: invalid subject alternative name {raw!r}: {exc}") from None


def _san_key(san: SANValue) -> tuple[str, str]:
    if isinstance(san, x509.IPAddress):
        return ("ip", str(san.value))
    return ("dns", san.value.lower())


def _has_sans(cert: x509.Certificate, wanted: Sequence[SANValue]) -> bool:
    if not wanted:
        return True
    try:
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {_san_key(s) for s in present if isinstance(s, x509.DNSName | x509.IPAddress)}
    return all(_san_key(s) in have for s in wanted)


# --------------------------------------------------------------------------- loading


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PKIError(f"pki: cannot read {path}: {exc.strerror or exc}") from None


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as exc:
        raise PKIError(f"pki: {path} is not a valid PEM certificate: {_one_line(exc)}") from None


def _load_private_key(path: Path) -> CertificateIssuerPrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"pki: {path} is not a valid PEM private key: {_one_line(exc)}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"pki: {path} holds a {type(key).__name__}; only EC and RSA are supported")
    return key


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------- helpers


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    # "EC PRIVATE KEY" (SEC1), the encoding kubeadm/client-go write for EC keys.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organizations: Sequence[str]) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _same_public_key(cert: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(
        cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)
    )


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_key_mode(path: Path) -> None:
    """Refuse a private key that group or others may read: whoever could read it could
    impersonate the server or sign for it, so strom does not start on it (nor silently
    fixes it, which would hide that the key may already have leaked)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise PKIError(f"private key {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise PKIError(
            f"private key {path} is readable by group or others (mode {mode:04o});"
            f" run: chmod 600 {path}"
        )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
