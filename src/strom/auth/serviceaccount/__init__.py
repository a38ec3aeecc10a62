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

from strom.auth.serviceaccount.claims import (
    DEFAULT_LEEWAY,
    ERR_CRYPTO,
    ERR_EXPIRED,
    ERR_ISSUED_IN_FUTURE,
    ERR_NO_KEYS,
    ERR_NOT_VALID_YET,
    ISSUED_CREDENTIAL_ID_ANNOTATION,
    LEGACY_INVALID_SINCE_LABEL,
    LEGACY_ISSUER,
    LEGACY_TOKEN_INVALIDATED,
    LEGACY_TOKEN_MISMATCH,
    MAX_TOKEN_LENGTH,
    STALE_TOKEN_ANNOTATION,
    TOKEN_INVALIDATED,
    BoundRef,
    InvalidToken,
    LiveObject,
    PrivateKey,
    PublicKey,
    ServiceAccountClaims,
    ServiceAccountKeyError,
    credential_id,
)
from strom.auth.serviceaccount.discovery import (
    jwks,
    openid_configuration,
)
from strom.auth.serviceaccount.issuer import (
    TokenIssuer,
)
from strom.auth.serviceaccount.keys import (
    algorithm_for,
    generate_signing_key,
    key_id,
    load_public_keys,
    load_signing_key,
)
from strom.auth.serviceaccount.live import (
    bound_object_error,
    legacy_token_marked_invalid,
    legacy_token_mismatch,
)
from strom.auth.serviceaccount.verifier import (
    TokenVerifier,
)

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
