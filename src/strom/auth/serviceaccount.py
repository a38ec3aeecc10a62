"""ServiceAccount tokens as kube-apiserver signs, verifies and publishes them, and nothing more.

This module is pure: keys in, JWTs and claims out. It follows kubernetes/kubernetes
`pkg/serviceaccount` (`jwt.go`, `claims.go`, `legacy.go`, `openidmetadata.go`, `util.go`) and
client-go's `keyutil` for key files, down to the error wordings, because clients and operators
match on them (TokenReview's `status.error`, kube-apiserver's log lines).

What it does not do is look anything up. kube's validators go on, after the checks here, to
fetch the ServiceAccount (and the Secret, Pod or Node a token is bound to) and reject the token
unless each still exists with the uid the token names. That is the caller's job
(`strom.auth.sa_tokens`): `ServiceAccountClaims.objects_to_check()` lists what to fetch in
kube's order and `bound_object_error()` turns what was found into kube's message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from strom.registry.patch.gojson import unmarshal_type_error

__all__ = [
    "DEFAULT_LEEWAY",
    "ERR_CRYPTO",
    "ERR_EXPIRED",
    "ERR_ISSUED_IN_FUTURE",
    "ERR_NOT_VALID_YET",
    "ERR_NO_KEYS",
    "ISSUED_CREDENTIAL_ID_ANNOTATION",
    "LEGACY_INVALID_SINCE_LABEL",
    "LEGACY_ISSUER",
    "LEGACY_TOKEN_INVALIDATED",
    "LEGACY_TOKEN_MISMATCH",
    "MAX_TOKEN_LENGTH",
    "STALE_TOKEN_ANNOTATION",
    "TOKEN_INVALIDATED",
    "BoundRef",
    "InvalidToken",
    "LiveObject",
    "PrivateKey",
    "PublicKey",
    "ServiceAccountClaims",
    "ServiceAccountKeyError",
    "TokenIssuer",
    "TokenVerifier",
    "algorithm_for",
    "bound_object_error",
    "credential_id",
    "generate_signing_key",
    "jwks",
    "key_id",
    "legacy_token_marked_invalid",
    "legacy_token_mismatch",
    "load_public_keys",
    "load_signing_key",
    "openid_configuration",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# legacy.go LegacyIssuer: the `iss` of Secret-based tokens, verified whatever issuers are set.
LEGACY_ISSUER = "kubernetes/serviceaccount"
# go-jose's jwt.DefaultLeeway: clock skew allowed on nbf/exp/iat, and the grace after which a
# deleted bound object stops its tokens (claims.go invalidIfDeletedBefore).
DEFAULT_LEEWAY = 60
# We never issue tokens this large; anything longer is not parsed at all.
MAX_TOKEN_LENGTH = 16 * 1024

# jwt.go: the token's kid names no key we have.
ERR_NO_KEYS = "invalid signature, no keys found"
# go-jose (gopkg.in/go-jose/go-jose.v2) ErrCryptoFailure: every failed signature check.
ERR_CRYPTO = "go-jose/go-jose: error in cryptographic primitive"
# claims.go Validate, on go-jose's ErrExpired / ErrNotValidYet / ErrIssuedInTheFuture.
ERR_EXPIRED = "service account token has expired"
ERR_NOT_VALID_YET = "service account token is not valid yet"
ERR_ISSUED_IN_FUTURE = "service account token is issued in the future"
# claims.go: a bound Secret/Pod/Node is gone, or was deleted more than DEFAULT_LEEWAY ago.
TOKEN_INVALIDATED = "service account token has been invalidated"
# legacy.go: the Secret holding a legacy token is gone or being deleted / holds another token.
LEGACY_TOKEN_INVALIDATED = "Token has been invalidated"
LEGACY_TOKEN_MISMATCH = "Token does not match server's copy"
LEGACY_INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
# Audit annotations kube sets (claims.go warnafter; storage/token.go on TokenRequest).
STALE_TOKEN_ANNOTATION = "authentication.k8s.io/stale-token"
ISSUED_CREDENTIAL_ID_ANNOTATION = "authentication.kubernetes.io/issued-credential-id"

# go-jose's claim unmarshalling errors (jwt/claims.go) for NumericDate and Audience.
_ERR_NUMERIC_DATE = "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate"
_ERR_AUDIENCE = "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience"

_SA_PREFIX = "system:serviceaccount:"
_ALL_SA_GROUP = "system:serviceaccounts"
_SA_GROUP_PREFIX = "system:serviceaccounts:"
_POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
_POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
_NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
_NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
_CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"

_LEGACY_NAMESPACE = "kubernetes.io/serviceaccount/namespace"
_LEGACY_SECRET = "kubernetes.io/serviceaccount/secret.name"
_LEGACY_SA_NAME = "kubernetes.io/serviceaccount/service-account.name"
_LEGACY_SA_UID = "kubernetes.io/serviceaccount/service-account.uid"

_CURVE_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_CURVE_ERROR = "unknown private key curve, must be 256, 384, or 521"

# Only the asymmetric algorithms our keys produce are even registered, so "none" and HS256
# (the public key as an HMAC secret) can never verify.
_JWS = jwt.PyJWS(algorithms=["RS256", "ES256", "ES384", "ES512"])

_PEM_BLOCK = re.compile(r"-----BEGIN ([^\r\n-]*)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class ServiceAccountKeyError(Exception):
    """A key file is unreadable or holds no usable key; one line naming the file."""


class InvalidToken(Exception):
    """The token is ours (one of our issuers) but must be rejected; the message is kube's."""


@dataclass(frozen=True, slots=True)
class BoundRef:
    """An object a token is bound to, by name and uid (claims.go `ref`)."""

    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class LiveObject:
    """What the caller found for an object a token names: its uid and deletionTimestamp."""

    uid: str
    deleted_at: float | None = None  # metadata.deletionTimestamp as unix seconds


@dataclass(frozen=True, slots=True)
class ServiceAccountClaims:
    """A signature-checked token's identity; still to be checked against live objects."""

    namespace: str
    name: str
    uid: str
    pod: BoundRef | None = None
    secret: BoundRef | None = None  # legacy tokens: the Secret holding them, uid ""
    node: BoundRef | None = None
    legacy: bool = False
    token_id: str = ""  # jti
    expires: int | None = None
    audiences: tuple[str, ...] = ()  # the token's own aud claim (legacy: none)
    warn_after: int | None = None

    @property
    def username(self) -> str:
        """serviceaccount.MakeUsername."""
        return f"{_SA_PREFIX}{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, str]:
        """serviceaccount.MakeGroupNames (the caller adds system:authenticated)."""
        return (_ALL_SA_GROUP, _SA_GROUP_PREFIX + self.namespace)

    def extra(self) -> dict[str, list[str]]:
        """ServiceAccountInfo.UserInfo's extras: pod name+uid (both or neither), credential
        id from the jti, node name and (only with a name) node uid. Legacy tokens have none."""
        out: dict[str, list[str]] = {}
        if self.legacy:
            return out
        if self.pod is not None and self.pod.name and self.pod.uid:
            out[_POD_NAME_KEY] = [self.pod.name]
            out[_POD_UID_KEY] = [self.pod.uid]
        if self.token_id:
            out[_CREDENTIAL_ID_KEY] = [credential_id(self.token_id)]
        if self.node is not None and self.node.name:
            out[_NODE_NAME_KEY] = [self.node.name]
            if self.node.uid:
                out[_NODE_UID_KEY] = [self.node.uid]
        return out

    def objects_to_check(self) -> tuple[tuple[str, str, str], ...]:
        """(resource, namespace, name) the caller must fetch, in kube's order, passing each
        result to `bound_object_error`. A pod-bound token's node is informational only."""
        ns = self.namespace
        if self.legacy:
            secret = self.secret.name if self.secret is not None else ""
            return (("secrets", ns, secret), ("serviceaccounts", ns, self.name))
        out = [("serviceaccounts", ns, self.name)]
        if self.secret is not None:
            out.append(("secrets", ns, self.secret.name))
        if self.pod is not None:
            out.append(("pods", ns, self.pod.name))
        elif self.node is not None:
            out.append(("nodes", "", self.node.name))
        return tuple(out)

    def stale_token_annotation(self, now: float | None = None) -> str | None:
        """The `authentication.k8s.io/stale-token` audit value once past warnafter."""
        if not self.warn_after:
            return None
        at = time.time() if now is None else now
        if at <= self.warn_after:
            return None
        seconds = math.floor(at) - self.warn_after
        return f"subject: {self.username}, seconds after warning threshold: {seconds}"


def credential_id(jti: str) -> str:
    """serviceaccount.CredentialIDForJTI."""
    return "JTI=" + jti if jti else ""


# --------------------------------------------------------------------------- keys


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


def _public(key: PublicKey | PrivateKey) -> PublicKey:
    """StaticPublicKeysGetter: a private key stands for its public half."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def key_id(public_key: PublicKey | PrivateKey) -> str:
    """jwt.go keyIDFromPublicKey: unpadded base64url SHA-256 of the PKIX (SPKI) DER, so the
    kid cannot be turned back into the key."""
    der = _public(public_key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def algorithm_for(key: PublicKey | PrivateKey) -> str:
    """openidmetadata.go algorithmFromPublicKey: RS256 for RSA, ES256/384/512 by curve."""
    public = _public(key)
    if isinstance(public, rsa.RSAPublicKey):
        return "RS256"
    alg = _CURVE_ALGS.get(public.curve.name)
    if alg is None:
        raise ServiceAccountKeyError(_CURVE_ERROR)
    return alg


# --------------------------------------------------------------------------- issuing


def _ref(name: str, uid: str) -> dict[str, str]:
    """claims.go `ref` with its omitempty fields."""
    out: dict[str, str] = {}
    if name:
        out["name"] = name
    if uid:
        out["uid"] = uid
    return out


def _payload_json(claims: dict[str, Any]) -> bytes:
    """go-jose's serialisation: compact, keys sorted at every level, HTML characters
    escaped as Go's encoding/json does."""
    text = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode()


class TokenIssuer:
    """Signs ServiceAccount JWTs (jwt.go JWTTokenGenerator): RS256 or ES256 by key type,
    the kid header being the signing key's key_id, no typ header."""

    def __init__(self, signing_key: PrivateKey, issuer: str) -> None:
        if not issuer:
            raise ValueError("a service account token issuer is required")
        self._key = signing_key
        self._issuer = issuer
        self._alg = algorithm_for(signing_key)
        self.key_id = key_id(signing_key)

    @property
    def issuer(self) -> str:
        return self._issuer

    def _sign(self, claims: dict[str, Any]) -> str:
        return _JWS.encode(
            _payload_json(claims),
            self._key,
            algorithm=self._alg,
            headers={"kid": self.key_id, "typ": None},
        )

    def issue(
        self,
        *,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        audiences: list[str],
        expiration_seconds: int,
        now: float | None = None,
        pod: BoundRef | None = None,
        secret: BoundRef | None = None,
        node: BoundRef | None = None,
        warn_after: int | None = None,
        jti: str | None = None,
    ) -> tuple[str, int]:
        """A bound token (claims.go Claims) and its exp in unix seconds. A pod-bound token
        also records the pod's node; `warn_after` is seconds from now (the warnafter claim);
        `jti` defaults to a fresh uuid4 (pass one to annotate the audit event with it)."""
        if secret is not None and (pod is not None or node is not None):
            raise ValueError("internal error, token can only be bound to one object type")
        issued = math.floor(time.time() if now is None else now)
        expires = issued + expiration_seconds
        private: dict[str, Any] = {"serviceaccount": _ref(sa_name, sa_uid)}
        if namespace:
            private["namespace"] = namespace
        if pod is not None:
            private["pod"] = _ref(pod.name, pod.uid)
            if node is not None:
                private["node"] = _ref(node.name, node.uid)
        elif secret is not None:
            private["secret"] = _ref(secret.name, secret.uid)
        elif node is not None:
            private["node"] = _ref(node.name, node.uid)
        if warn_after:
            private["warnafter"] = issued + warn_after
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": f"{_SA_PREFIX}{namespace}:{sa_name}",
            "exp": expires,
            "iat": issued,
            "nbf": issued,
            "jti": jti or str(uuid.uuid4()),
            "kubernetes.io": private,
        }
        if audiences:
            claims["aud"] = list(audiences)
        return self._sign(claims), expires

    def issue_legacy(self, namespace: str, sa_name: str, sa_uid: str, secret_name: str) -> str:
        """A Secret-based token (legacy.go LegacyClaims): no audience, no expiry; it is good
        for as long as the Secret holds it."""
        return self._sign(
            {
                "iss": LEGACY_ISSUER,
                "sub": f"{_SA_PREFIX}{namespace}:{sa_name}",
                _LEGACY_NAMESPACE: namespace,
                _LEGACY_SECRET: secret_name,
                _LEGACY_SA_NAME: sa_name,
                _LEGACY_SA_UID: sa_uid,
            }
        )


# --------------------------------------------------------------------------- verifying


def _go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote)."""
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    named |= {"\v": "\\v", '"': '\\"', "\\": "\\\\"}
    out = []
    for char in text:
        code = ord(char)
        if char in named:
            out.append(named[char])
        elif char.isprintable() and not 0xD800 <= code <= 0xDFFF:
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _go_quote_list(items: Sequence[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(_go_quote(item) for item in items) + "]"


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, duplicates collapsed."""
    if len(errors) == 1:
        return errors[0]
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _b64url_strict(segment: str) -> bytes | None:
    """Go's base64.RawURLEncoding.DecodeString: no padding, URL alphabet (CR/LF skipped)."""
    segment = segment.replace("\r", "").replace("\n", "")
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return None


def _b64url_lenient(segment: str) -> bytes | None:
    """go-jose's base64URLDecode: trailing padding tolerated."""
    return _b64url_strict(segment.rstrip("="))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _json_object(data: bytes) -> dict[str, Any] | None:
    """A JSON object as Go decodes one (invalid UTF-8 replaced, no NaN/Infinity), else None."""
    try:
        value = json.loads(data.decode("utf-8", "replace"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class _Abort(Exception):
    """A custom unmarshaler's error: Go stops decoding at once."""


class _Decoder:
    """Type-checks claims as go-jose's json fork unmarshals them (case-sensitive keys; a type
    mismatch is remembered and decoding goes on; null leaves a field unset)."""

    def __init__(self) -> None:
        self.error: str | None = None

    def _mismatch(self, value: object, go_type: str) -> None:
        if self.error is None:
            self.error = unmarshal_type_error(value, go_type)

    def string(self, value: object) -> str:
        if value is None or isinstance(value, str):
            return value or ""
        self._mismatch(value, "string")
        return ""

    def obj(self, value: object, go_type: str) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        self._mismatch(value, go_type)
        return None

    @staticmethod
    def numeric_date(value: object) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Abort(_ERR_NUMERIC_DATE)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Abort(_ERR_NUMERIC_DATE)
        return int(value)

    @staticmethod
    def audience(value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise _Abort(_ERR_AUDIENCE)


@dataclass(slots=True)
class _Public:
    """go-jose jwt.Claims."""

    iss: str = ""
    sub: str = ""
    aud: tuple[str, ...] = ()
    exp: int | None = None
    nbf: int | None = None
    iat: int | None = None
    jti: str = ""


def _decode_public(payload: dict[str, Any]) -> _Public:
    dec = _Decoder()
    out = _Public()
    try:
        for key, value in payload.items():
            if key in ("iss", "sub", "jti"):
                setattr(out, key, dec.string(value))
            elif key == "aud":
                out.aud = dec.audience(value)
            elif key in ("exp", "nbf", "iat"):
                setattr(out, key, dec.numeric_date(value))
    except _Abort as exc:
        raise InvalidToken(str(exc)) from None
    if dec.error is not None:
        raise InvalidToken(dec.error)
    return out


def _bound_ref(dec: _Decoder, value: object) -> BoundRef | None:
    ref = dec.obj(value, "serviceaccount.ref")
    if ref is None:
        return None
    return BoundRef(dec.string(ref.get("name")), dec.string(ref.get("uid")))


def _decode_bound(payload: dict[str, Any], public: _Public) -> ServiceAccountClaims:
    """claims.go privateClaims."""
    dec = _Decoder()
    fields: dict[str, Any] = {}
    try:
        k8s = dec.obj(payload.get("kubernetes.io"), "serviceaccount.kubernetes") or {}
        for key, value in k8s.items():
            if key == "namespace":
                fields["namespace"] = dec.string(value)
            elif key == "serviceaccount":
                sa = _bound_ref(dec, value)
                fields["name"], fields["uid"] = (sa.name, sa.uid) if sa else ("", "")
            elif key in ("pod", "secret", "node"):
                fields[key] = _bound_ref(dec, value)
            elif key == "warnafter":
                fields["warn_after"] = dec.numeric_date(value)
    except _Abort as exc:
        raise InvalidToken(str(exc)) from None
    if dec.error is not None:
        raise InvalidToken(dec.error)
    return ServiceAccountClaims(
        namespace=fields.get("namespace", ""),
        name=fields.get("name", ""),
        uid=fields.get("uid", ""),
        pod=fields.get("pod"),
        secret=fields.get("secret"),
        node=fields.get("node"),
        token_id=public.jti,
        expires=public.exp,
        audiences=public.aud,
        warn_after=fields.get("warn_after"),
    )


def _decode_legacy(payload: dict[str, Any], public: _Public) -> ServiceAccountClaims:
    """legacy.go legacyPrivateClaims."""
    dec = _Decoder()
    namespace = dec.string(payload.get(_LEGACY_NAMESPACE))
    secret = dec.string(payload.get(_LEGACY_SECRET))
    name = dec.string(payload.get(_LEGACY_SA_NAME))
    uid = dec.string(payload.get(_LEGACY_SA_UID))
    if dec.error is not None:
        raise InvalidToken(dec.error)
    return ServiceAccountClaims(
        namespace=namespace,
        name=name,
        uid=uid,
        secret=BoundRef(secret, ""),
        legacy=True,
        token_id=public.jti,
        expires=public.exp,
        audiences=public.aud,
    )


def _split_username(username: str) -> tuple[str, str] | None:
    """serviceaccount.SplitUsername."""
    if not username.startswith(_SA_PREFIX):
        return None
    parts = username[len(_SA_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        return None
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        return None
    return namespace, name


def _check_legacy(public: _Public, claims: ServiceAccountClaims) -> None:
    """legacy.go Validate, up to the lookups (which are the caller's)."""
    if not public.sub:
        raise InvalidToken("sub claim is missing")
    if not claims.namespace:
        raise InvalidToken("namespace claim is missing")
    if claims.secret is None or not claims.secret.name:
        raise InvalidToken("secretName claim is missing")
    if not claims.name:
        raise InvalidToken("serviceAccountName claim is missing")
    if not claims.uid:
        raise InvalidToken("serviceAccountUID claim is missing")
    if _split_username(public.sub) != (claims.namespace, claims.name):
        raise InvalidToken("sub claim is invalid")


def _check_times(public: _Public, now: float) -> None:
    """go-jose Claims.Validate with DefaultLeeway, as claims.go maps its errors."""
    if public.nbf is not None and now + DEFAULT_LEEWAY < public.nbf:
        raise InvalidToken(ERR_NOT_VALID_YET)
    if public.exp is not None and now - DEFAULT_LEEWAY > public.exp:
        raise InvalidToken(ERR_EXPIRED)
    if public.iat is not None and now + DEFAULT_LEEWAY < public.iat:
        raise InvalidToken(ERR_ISSUED_IN_FUTURE)


@dataclass(frozen=True, slots=True)
class _Key:
    key: PublicKey
    kid: str
    alg: str


class TokenVerifier:
    """kube's two ServiceAccount JWT authenticators in one: bound tokens from `issuers` and
    legacy Secret tokens (iss kubernetes/serviceaccount), verified against `public_keys`
    (any may have signed; the kid header picks among them). `api_audiences` are kube's
    implicit audiences (--api-audiences): what a token without aud is good for, and what a
    token must share one of when the caller names no audiences."""

    def __init__(
        self,
        public_keys: Sequence[PublicKey | PrivateKey],
        issuers: Sequence[str],
        api_audiences: Sequence[str],
        *,
        legacy: bool = True,
    ) -> None:
        self._keys = [_Key(_public(k), key_id(k), algorithm_for(k)) for k in public_keys]
        self._issuers = frozenset(i for i in issuers if i)
        self._legacy = legacy
        self.api_audiences = tuple(api_audiences)

    def verify(
        self, token: str, now: float | None = None, *, audiences: Sequence[str] | None = None
    ) -> ServiceAccountClaims | None:
        """The token's claims once signature, issuer, audience and times check out. None when
        it is not ours (not a compact JWT, unparseable, longer than MAX_TOKEN_LENGTH, another
        issuer) so other authenticators may try it; InvalidToken with kube's message when it
        is ours and bad. `audiences` are those asked for (TokenReview's spec.audiences);
        None means the API audiences. Bound objects are not looked up here."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return None
        issuer = self._claimed_issuer(token)
        if issuer is None:
            return None
        legacy = self._legacy and issuer == LEGACY_ISSUER
        if not legacy and issuer not in self._issuers:
            return None
        header_b64, _, signature_b64 = token.split(".")
        header_raw = _b64url_lenient(header_b64)
        header = None if header_raw is None else _json_object(header_raw)
        if header is None or _b64url_lenient(signature_b64) is None:
            return None  # jwt.ParseSigned fails: "not mine"
        kid = header.get("kid", "")
        if kid is None:
            kid = ""
        if not isinstance(kid, str):
            return None
        public, claims = self._verify_signature(token, header, kid, legacy)
        allowed = {LEGACY_ISSUER} if legacy else self._issuers
        if public.iss not in allowed:
            raise InvalidToken(f"token issuer {_go_quote(public.iss)} is invalid")
        self._check_audiences(public, audiences)
        if legacy:
            _check_legacy(public, claims)
        else:
            _check_times(public, time.time() if now is None else now)
        return claims

    @staticmethod
    def _claimed_issuer(token: str) -> str | None:
        """jwt.go hasCorrectIssuer's unverified peek at `iss` (Go's case-insensitive field
        match, last one winning); None when the token is not even shaped like a JWT."""
        if token.strip().startswith("{"):
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        raw = _b64url_strict(parts[1])
        payload = None if raw is None else _json_object(raw)
        if payload is None:
            return None
        issuer = ""
        for key, value in payload.items():
            if key.lower() != "iss" or value is None:
                continue
            if not isinstance(value, str):
                return None
            issuer = value
        return issuer

    def _verify_signature(
        self, token: str, header: dict[str, Any], kid: str, legacy: bool
    ) -> tuple[_Public, ServiceAccountClaims]:
        """Each candidate key in turn until one verifies and the claims decode; otherwise
        the aggregate of every key's error, as jwt.go reports it."""
        keys = [k for k in self._keys if k.kid == kid] if kid else self._keys
        if not keys:
            raise InvalidToken(ERR_NO_KEYS)
        errors: list[str] = []
        for candidate in keys:
            payload_bytes = self._signed_payload(token, header, candidate)
            if payload_bytes is None:
                errors.append(ERR_CRYPTO)
                continue
            payload = _json_object(payload_bytes)
            if payload is None:
                errors.append("invalid character in token claims")
                continue
            try:
                public = _decode_public(payload)
                decode = _decode_legacy if legacy else _decode_bound
                return public, decode(payload, public)
            except InvalidToken as exc:
                errors.append(str(exc))
        raise InvalidToken(_aggregate(errors))

    @staticmethod
    def _signed_payload(token: str, header: dict[str, Any], candidate: _Key) -> bytes | None:
        """The payload if `candidate` signed the token with the one algorithm its type
        allows; anything else (alg none, HS256, another curve, a bad signature) is None."""
        if header.get("alg") != candidate.alg:
            return None
        try:
            decoded = _JWS.decode_complete(token, key=candidate.key, algorithms=[candidate.alg])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        payload = decoded["payload"]
        return payload if isinstance(payload, bytes) else None

    def _check_audiences(self, public: _Public, requested: Sequence[str] | None) -> None:
        """jwt.go: a token without aud is good for the API audiences; the token must share
        one audience with those requested, unless no API audiences are configured."""
        token_auds = list(public.aud) or list(self.api_audiences)
        wanted = list(self.api_audiences) if requested is None else list(requested)
        if any(a in token_auds for a in wanted) or not self.api_audiences:
            return
        raise InvalidToken(
            f"token audiences {_go_quote_list(token_auds)} is invalid for the target"
            f" audiences {_go_quote_list(wanted)}"
        )


# --------------------------------------------------------------------------- live objects


def bound_object_error(
    claims: ServiceAccountClaims,
    resource: str,
    live: LiveObject | None,
    *,
    now: float | None = None,
) -> str | None:
    """kube's message when an object from `claims.objects_to_check()` no longer backs the
    token (`live` is None when it was not found), else None. Bound tokens (claims.go): the
    ServiceAccount must exist with the claimed uid and not have been deleted more than
    DEFAULT_LEEWAY ago; a bound Secret, Pod or Node likewise. Legacy tokens (legacy.go): the
    Secret and ServiceAccount must exist and not be being deleted at all, and the Secret must
    still hold this token (`legacy_token_mismatch`, checked between the two)."""
    cutoff = (time.time() if now is None else now) - DEFAULT_LEEWAY
    ns = claims.namespace
    if resource == "serviceaccounts":
        if live is None:
            return f'serviceaccounts "{claims.name}" not found'
        if claims.legacy:
            if live.deleted_at is not None:
                return f"ServiceAccount {ns}/{claims.name} has been deleted"
            if live.uid != claims.uid:
                return f"ServiceAccount UID ({live.uid}) does not match claim ({claims.uid})"
            return None
        if live.uid != claims.uid:
            return f"service account UID ({live.uid}) does not match claim ({claims.uid})"
        if live.deleted_at is not None and live.deleted_at < cutoff:
            return f"service account {ns}/{claims.name} has been deleted"
        return None
    if resource == "secrets" and claims.legacy:
        if live is None or live.deleted_at is not None:
            return LEGACY_TOKEN_INVALIDATED
        return None
    ref = {"secrets": claims.secret, "pods": claims.pod, "nodes": claims.node}.get(resource)
    if ref is None:
        raise ValueError(f"the token is not bound to any {resource}")
    if live is None:
        return TOKEN_INVALIDATED
    if live.uid != ref.uid:
        kind = {"secrets": "secret", "pods": "pod", "nodes": "node"}[resource]
        return (
            f"{kind} UID ({live.uid}) does not match service account {kind} ref claim ({ref.uid})"
        )
    if live.deleted_at is not None and live.deleted_at < cutoff:
        return TOKEN_INVALIDATED
    return None


def legacy_token_mismatch(token: str, stored: bytes) -> str | None:
    """legacy.go: the Secret's data.token (decoded) must be this very token (constant time)."""
    return None if hmac.compare_digest(stored, token.encode()) else LEGACY_TOKEN_MISMATCH


def legacy_token_marked_invalid(claims: ServiceAccountClaims) -> str:
    """legacy.go's message for a Secret labelled LEGACY_INVALID_SINCE_LABEL (checked last)."""
    ns, secret = claims.namespace, claims.secret.name if claims.secret else ""
    return (
        f"the token in secret {ns}/{secret} for service account {ns}/{claims.name} has been"
        " marked invalid. Use tokens from the TokenRequest API or manually created"
        f" secret-based tokens, or remove the '{LEGACY_INVALID_SINCE_LABEL}' label from the"
        " secret to temporarily allow use of this token"
    )


# --------------------------------------------------------------------------- discovery


def _b64url_uint(value: int, size: int = 0) -> str:
    """go-jose byteBuffer: big-endian, minimal unless a fixed size (EC coordinates)."""
    length = max(size, (value.bit_length() + 7) // 8, 1)
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode()


def _jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """go-jose JSONWebKey.MarshalJSON field order: use, kty, kid, crv, alg, x, y, n, e."""
    public = _public(key)
    alg = algorithm_for(public)
    kid = key_id(public)
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": kid,
            "alg": alg,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }
    point = public.public_numbers()
    size = (public.curve.key_size + 7) // 8
    return {
        "use": "sig",
        "kty": "EC",
        "kid": kid,
        "crv": _CURVE_NAMES[public.curve.name],
        "alg": alg,
        "x": _b64url_uint(point.x, size),
        "y": _b64url_uint(point.y, size),
    }


def jwks(public_keys: Sequence[PublicKey | PrivateKey]) -> dict[str, Any]:
    """The JWKS served at /openid/v1/jwks (openidmetadata.go openIDKeysetJSON)."""
    return {"keys": [_jwk(key) for key in public_keys]}


def openid_configuration(
    issuer: str,
    jwks_uri: str,
    public_keys: Sequence[PublicKey | PrivateKey] | None = None,
) -> dict[str, Any]:
    """The document at /.well-known/openid-configuration (openidmetadata.go openIDMetadata,
    in its field order). The signing algorithms are the keys' (sorted, distinct); without
    keys, RS256."""
    algs = sorted({algorithm_for(k) for k in public_keys}) if public_keys else ["RS256"]
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    }
