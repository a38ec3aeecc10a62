"""What the API endpoints need from authentication and authorization, handed over as one
value: the authorizer, the rules resolver for SelfSubjectRulesReview, the token check for
TokenReview, the API audiences, and the TokenRequest issuer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from strom.auth.authz import Authorizer
from strom.auth.reviews import RulesResolver, TokenAuthenticator
from strom.registry.kinds import ResourceType

__all__ = ["TOKEN_REQUEST", "AuthServices", "TokenRequests"]

# The body type of serviceaccounts/token (named in decode errors).
TOKEN_REQUEST = ResourceType(
    group="authentication.k8s.io",
    version="v1",
    kind="TokenRequest",
    plural="",
    singular="",
    namespaced=True,
)


class TokenRequests(Protocol):
    async def create(
        self, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """The TokenRequest answered for ServiceAccount namespace/name (its status filled)."""
        ...


@dataclass(frozen=True, slots=True)
class AuthServices:
    authorizer: Authorizer
    rules: RulesResolver
    authenticate_token: TokenAuthenticator
    api_audiences: tuple[str, ...] = ()
    token_requests: TokenRequests | None = None
