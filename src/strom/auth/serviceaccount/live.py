"""Checks against the live objects a token names (claims.go / legacy.go, after the lookups)."""

from __future__ import annotations

import hmac
import time

from strom.auth.serviceaccount.claims import (
    DEFAULT_LEEWAY,
    LEGACY_INVALID_SINCE_LABEL,
    LEGACY_TOKEN_INVALIDATED,
    LEGACY_TOKEN_MISMATCH,
    TOKEN_INVALIDATED,
    LiveObject,
    ServiceAccountClaims,
)


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
