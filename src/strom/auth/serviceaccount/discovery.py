"""Publishing the keys: the JWKS and OpenID configuration (openidmetadata.go)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from strom.auth.serviceaccount.claims import PrivateKey, PublicKey
from strom.auth.serviceaccount.keys import algorithm_for, key_id, public_key_of

_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _b64url_uint(value: int, size: int = 0) -> str:
    """go-jose byteBuffer: big-endian, minimal unless a fixed size (EC coordinates)."""
    length = max(size, (value.bit_length() + 7) // 8, 1)
    return base64.urlsafe_b64encode(value.to_bytes(length, "big")).rstrip(b"=").decode()


def _jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """go-jose JSONWebKey.MarshalJSON field order: use, kty, kid, crv, alg, x, y, n, e."""
    public = public_key_of(key)
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
