"""What a ServiceAccount token says: kube's claim names, error wordings, and the decoded claims
(pkg/serviceaccount claims.go, legacy.go)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, rsa

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

SA_PREFIX = "system:serviceaccount:"
_ALL_SA_GROUP = "system:serviceaccounts"
_SA_GROUP_PREFIX = "system:serviceaccounts:"
_POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
_POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
_NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
_NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
_CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"

LEGACY_NAMESPACE_CLAIM = "kubernetes.io/serviceaccount/namespace"
LEGACY_SECRET_CLAIM = "kubernetes.io/serviceaccount/secret.name"
LEGACY_SA_NAME_CLAIM = "kubernetes.io/serviceaccount/service-account.name"
LEGACY_SA_UID_CLAIM = "kubernetes.io/serviceaccount/service-account.uid"


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
        return f"{SA_PREFIX}{self.namespace}:{self.name}"

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
