"""Verifying tokens (jwt.go Validate, claims.go / legacy.go validators), go-jose's wordings kept."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import jwt

from strom.auth.serviceaccount.claims import (
    DEFAULT_LEEWAY,
    ERR_CRYPTO,
    ERR_EXPIRED,
    ERR_ISSUED_IN_FUTURE,
    ERR_NO_KEYS,
    ERR_NOT_VALID_YET,
    LEGACY_ISSUER,
    LEGACY_NAMESPACE_CLAIM,
    LEGACY_SA_NAME_CLAIM,
    LEGACY_SA_UID_CLAIM,
    LEGACY_SECRET_CLAIM,
    MAX_TOKEN_LENGTH,
    SA_PREFIX,
    BoundRef,
    InvalidToken,
    PrivateKey,
    PublicKey,
    ServiceAccountClaims,
)
from strom.auth.serviceaccount.keys import JWS, algorithm_for, key_id, public_key_of
from strom.auth.serviceaccount.verified import VerifiedTokens
from strom.gofmt import aggregate_errors, go_quote, go_quote_list
from strom.registry.patch.gojson import unmarshal_type_error

# go-jose's claim unmarshalling errors (jwt/claims.go) for NumericDate and Audience.
_ERR_NUMERIC_DATE = "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate"
_ERR_AUDIENCE = "go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience"

T = TypeVar("T")

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


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
    namespace = dec.string(payload.get(LEGACY_NAMESPACE_CLAIM))
    secret = dec.string(payload.get(LEGACY_SECRET_CLAIM))
    name = dec.string(payload.get(LEGACY_SA_NAME_CLAIM))
    uid = dec.string(payload.get(LEGACY_SA_UID_CLAIM))
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
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
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


@dataclass(slots=True, eq=False)
class _Verified:
    """A token whose signature one of our keys made, decoded."""

    legacy: bool
    public: _Public
    claims: ServiceAccountClaims
    api_checked: bool = False  # issuer, API audiences and legacy rules passed
    derived: object = None  # verify_and_derive's result for `derive`
    derive: object = None


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
        self._keys = [_Key(public_key_of(k), key_id(k), algorithm_for(k)) for k in public_keys]
        self._issuers = frozenset(i for i in issuers if i)
        self._legacy = legacy
        self.api_audiences = tuple(api_audiences)
        # Tokens whose signature verified, with what follows from that alone: verified.py
        self._verified: VerifiedTokens[_Verified] = VerifiedTokens()

    def verify(
        self, token: str, now: float | None = None, *, audiences: Sequence[str] | None = None
    ) -> ServiceAccountClaims | None:
        """The token's claims once signature, issuer, audience and times check out. None when
        it is not ours (not a compact JWT, unparseable, longer than MAX_TOKEN_LENGTH, another
        issuer) so other authenticators may try it; InvalidToken with kube's message when it
        is ours and bad. `audiences` are those asked for (TokenReview's spec.audiences);
        None means the API audiences. Bound objects are not looked up here."""
        entry = self._checked(token, audiences, time.time() if now is None else now)
        return None if entry is None else entry.claims

    def verify_and_derive(
        self, token: str, derive: Callable[[ServiceAccountClaims], T], now: float | None = None
    ) -> tuple[ServiceAccountClaims, T] | None:
        """`verify` for the API audiences, plus `derive(claims)` (a pure function, such as the
        UserInfo the claims make), computed once per cached token and reused on every hit."""
        entry = self._checked(token, None, time.time() if now is None else now)
        if entry is None:
            return None
        if entry.derived is None or entry.derive is not derive:
            entry.derived, entry.derive = derive(entry.claims), derive
        return entry.claims, cast(T, entry.derived)

    def _checked(self, token: str, audiences: Sequence[str] | None, now: float) -> _Verified | None:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return None
        entry = self._verified.get(token)
        if entry is None:
            found = self._verify_new(token)
            if found is None:
                return None
            entry = _Verified(*found)
            self._verified.put(token, entry)
        # Issuer, audiences and the legacy claim rules depend only on the token, so their
        # passing for the API audiences is remembered; the clock is read on every call.
        if audiences is not None or not entry.api_checked:
            legacy, public, claims = entry.legacy, entry.public, entry.claims
            allowed = {LEGACY_ISSUER} if legacy else self._issuers
            if public.iss not in allowed:
                raise InvalidToken(f"token issuer {go_quote(public.iss)} is invalid")
            self._check_audiences(public, audiences)
            if legacy:
                _check_legacy(public, claims)
            entry.api_checked = entry.api_checked or audiences is None
        if not entry.legacy:
            _check_times(entry.public, now)
        return entry

    def _verify_new(self, token: str) -> tuple[bool, _Public, ServiceAccountClaims] | None:
        """The signature check and claim decoding: None when the token is not ours,
        InvalidToken when it is and does not verify or decode."""
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
        return legacy, public, claims

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
        raise InvalidToken(aggregate_errors(errors))

    @staticmethod
    def _signed_payload(token: str, header: dict[str, Any], candidate: _Key) -> bytes | None:
        """The payload if `candidate` signed the token with the one algorithm its type
        allows; anything else (alg none, HS256, another curve, a bad signature) is None."""
        if header.get("alg") != candidate.alg:
            return None
        try:
            decoded = JWS.decode_complete(token, key=candidate.key, algorithms=[candidate.alg])
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
            f"token audiences {go_quote_list(token_auds)} is invalid for the target"
            f" audiences {go_quote_list(wanted)}"
        )
