"""Signing and verification keys as client-go's keyutil reads them, generated when absent."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strom.auth.serviceaccount.claims import PrivateKey, PublicKey, ServiceAccountKeyError

_CURVE_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_CURVE_ERROR = "unknown private key curve, must be 256, 384, or 521"

# Only the asymmetric algorithms our keys produce are even registered, so "none" and HS256
# (the public key as an HMAC secret) can never verify.
JWS = jwt.PyJWS(algorithms=["RS256", "ES256", "ES384", "ES512"])

_PEM_BLOCK = re.compile(r"-----BEGIN ([^\r\n-]*)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def _pem_blocks(data: bytes) -> Iterable[tuple[str, bytes]]:
    """(type, DER) of each PEM block, skipping undecodable ones as Go's pem.Decode does."""
    text = data.decode("latin-1")
    for match in _PEM_BLOCK.finditer(text):
        lines = match.group(2).splitlines()
        if any(":" in line for line in lines):  # RFC 1421 headers, then a blank line
            while lines and lines[0].strip():
                lines.pop(0)
        body = "".join(line.strip() for line in lines)
        try:
            yield match.group(1), base64.b64decode(body, validate=True)
        except ValueError:
            continue


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ServiceAccountKeyError(
            f"error reading {what} file {os.fspath(path)}: {exc.strerror or exc}"
        ) from None


def _curve_ok(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bool:
    return key.curve.name in _CURVE_ALGS


def load_signing_key(path: str | os.PathLike[str]) -> PrivateKey:
    """The first RSA or ECDSA private key in a PEM file (keyutil.PrivateKeyFromFile: block
    types `RSA PRIVATE KEY`, `EC PRIVATE KEY`, `PRIVATE KEY`; other blocks skipped)."""
    data = _read(path, "private key")
    name = os.fspath(path)
    for block_type, der in _pem_blocks(data):
        if block_type not in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"):
            continue
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if block_type == "RSA PRIVATE KEY" and not isinstance(key, rsa.RSAPrivateKey):
            continue
        if block_type == "EC PRIVATE KEY" and not isinstance(key, ec.EllipticCurvePrivateKey):
            continue
        if isinstance(key, rsa.RSAPrivateKey):
            return key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if not _curve_ok(key):
                raise ServiceAccountKeyError(f"private key file {name}: {_CURVE_ERROR}")
            return key
        raise ServiceAccountKeyError(
            f"private key file {name}: unknown private key type {type(key).__name__},"
            " must be RSA or ECDSA"
        )
    raise ServiceAccountKeyError(
        f"error reading private key file {name}: data does not contain a valid RSA or ECDSA"
        " private key"
    )


def _public_from_der(der: bytes) -> PublicKey | None:
    """keyutil.ParsePublicKeysPEM on one block: a private key, a SubjectPublicKeyInfo or a
    certificate, RSA or ECDSA, by content whatever the block type."""
    candidate: object = None
    try:
        candidate = serialization.load_der_private_key(der, password=None).public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        try:
            public = serialization.load_der_public_key(der)
            spki = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if spki == der:  # Go's ParsePKIXPublicKey takes no PKCS#1 "RSA PUBLIC KEY"
                candidate = public
        except (ValueError, TypeError, UnsupportedAlgorithm):
            try:
                candidate = x509.load_der_x509_certificate(der).public_key()
            except (ValueError, TypeError, UnsupportedAlgorithm):
                return None
    if isinstance(candidate, rsa.RSAPublicKey):
        return candidate
    if isinstance(candidate, ec.EllipticCurvePublicKey) and _curve_ok(candidate):
        return candidate
    return None


def load_public_keys(path: str | os.PathLike[str]) -> list[PublicKey]:
    """Every RSA/ECDSA key in a PEM file (public keys, certificates or private keys, as
    --service-account-key-file takes them); non-key blocks are tolerated."""
    data = _read(path, "public key")
    keys = [k for _, der in _pem_blocks(data) if (k := _public_from_der(der)) is not None]
    if not keys:
        raise ServiceAccountKeyError(
            f"error reading public key file {os.fspath(path)}: data does not contain any"
            " valid RSA or ECDSA public keys"
        )
    return keys


def generate_signing_key(path: str | os.PathLike[str]) -> PrivateKey:
    """A new RSA 2048 key written as PKCS#1 PEM, mode 0600, atomically (a temporary file in
    the same directory, then os.replace), so a crash never leaves a half-written key."""
    target = Path(path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    tmp_name = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = ""
    except OSError as exc:
        raise ServiceAccountKeyError(
            f"cannot write service account key file {target}: {exc.strerror or exc}"
        ) from None
    finally:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
    return key


def public_key_of(key: PublicKey | PrivateKey) -> PublicKey:
    """StaticPublicKeysGetter: a private key stands for its public half."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def key_id(public_key: PublicKey | PrivateKey) -> str:
    """jwt.go keyIDFromPublicKey: unpadded base64url SHA-256 of the PKIX (SPKI) DER, so the
    kid cannot be turned back into the key."""
    der = public_key_of(public_key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def algorithm_for(key: PublicKey | PrivateKey) -> str:
    """openidmetadata.go algorithmFromPublicKey: RS256 for RSA, ES256/384/512 by curve."""
    public = public_key_of(key)
    if isinstance(public, rsa.RSAPublicKey):
        return "RS256"
    alg = _CURVE_ALGS.get(public.curve.name)
    if alg is None:
        raise ServiceAccountKeyError(_CURVE_ERROR)
    return alg
