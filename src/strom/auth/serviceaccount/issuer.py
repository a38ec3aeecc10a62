"""Issuing tokens (jwt.go JWTTokenGenerator, claims.go Claims, legacy.go LegacyClaims)."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from strom.auth.serviceaccount.claims import (
    LEGACY_ISSUER,
    LEGACY_NAMESPACE_CLAIM,
    LEGACY_SA_NAME_CLAIM,
    LEGACY_SA_UID_CLAIM,
    LEGACY_SECRET_CLAIM,
    SA_PREFIX,
    BoundRef,
    PrivateKey,
)
from strom.auth.serviceaccount.keys import JWS, algorithm_for, key_id
from strom.gofmt import go_json_marshal


def _ref(name: str, uid: str) -> dict[str, str]:
    """claims.go `ref` with its omitempty fields."""
    out: dict[str, str] = {}
    if name:
        out["name"] = name
    if uid:
        out["uid"] = uid
    return out


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
        return JWS.encode(
            go_json_marshal(claims).encode(),  # go-jose serialises with encoding/json
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
            "sub": f"{SA_PREFIX}{namespace}:{sa_name}",
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
                "sub": f"{SA_PREFIX}{namespace}:{sa_name}",
                LEGACY_NAMESPACE_CLAIM: namespace,
                LEGACY_SECRET_CLAIM: secret_name,
                LEGACY_SA_NAME_CLAIM: sa_name,
                LEGACY_SA_UID_CLAIM: sa_uid,
            }
        )
