"""Assemble who-may-do-what for `strom serve`: ServiceAccount keys and tokens, the authorizer
(RBAC over the watch cache, or AlwaysAllow), escalation checks on RBAC writes, the review
endpoints' services, the RBAC and token controllers, and the issuer discovery documents.

kube-apiserver's authorizer chain is the privileged group `system:masters` first, then the
configured mode; RBAC's bootstrap policy is reconciled before the server answers, so the
first request already sees `cluster-admin`, `view` & co.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from strom.auth import serviceaccount as sa
from strom.auth.authn import Authenticator
from strom.auth.authz import AlwaysAllow, Authorizer, PrivilegedGroups, Union
from strom.auth.csr_approval import CSRApprovalGuard
from strom.auth.escalation import EscalationGuard
from strom.auth.policy_source import CachedPolicy
from strom.auth.rbac import RBACAuthorizer
from strom.auth.reviews import RulesResolver
from strom.auth.sa_tokens import ServiceAccountTokens
from strom.auth.services import AuthServices
from strom.cache.state import StateCache
from strom.controllers.rbac_aggregation import ClusterRoleAggregation
from strom.controllers.rbac_bootstrap import reconcile_bootstrap_policy
from strom.controllers.sa_token_secrets import TokenSecrets
from strom.pki.certs import PKIError, check_key_mode
from strom.registry.kinds import BUILTIN
from strom.registry.rest import Registry
from strom.user import UserInfo

__all__ = ["AUTHORIZATION_MODES", "DEFAULT_ISSUER", "Security", "SecurityConfig"]

log = logging.getLogger(__name__)

AUTHORIZATION_MODES = ("RBAC", "AlwaysAllow")
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_BY_PLURAL = {rt.plural: rt for rt in BUILTIN if rt.group == ""}


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    pki_dir: Path
    authorization_mode: str = "RBAC"
    signing_key_file: Path | None = None
    key_files: tuple[Path, ...] = ()
    issuers: tuple[str, ...] = ()
    api_audiences: tuple[str, ...] = ()
    max_token_expiration: int = 0


class AlwaysAllowRules:
    """SelfSubjectRulesReview under AlwaysAllow: everything, as kube's AlwaysAllow RulesFor."""

    def rules_review_status(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }


@dataclass(slots=True)
class Security:
    """What the runner wires in; `start`/`stop` run the RBAC and token controllers."""

    authorizer: Authorizer
    rules: RulesResolver
    tokens: ServiceAccountTokens
    mode: str
    _issuer: str
    _public: list[Any]
    openid: tuple[bytes, bytes] = (b"", b"")
    _controllers: list[Any] = field(default_factory=list)

    def set_server_url(self, server_url: str) -> None:
        """The discovery documents; the JWKS URI is on this server (kube's default when no
        --service-account-jwks-uri is given: the API server's external address)."""
        jwks_uri = f"{server_url}/openid/v1/jwks"
        self.openid = (
            orjson.dumps(sa.openid_configuration(self._issuer, jwks_uri, self._public)),
            orjson.dumps(sa.jwks(self._public)),
        )

    @classmethod
    def load_keys(cls, cfg: SecurityConfig) -> tuple[Any, list[Any]]:
        """The signing key (generated into the PKI when absent) and the verification keys;
        PKIError with one line when a key is unusable or readable by others."""
        signing_path = cfg.signing_key_file or cfg.pki_dir / "sa.key"
        try:
            if cfg.signing_key_file is None and not signing_path.exists():
                sa.generate_signing_key(signing_path)
            check_key_mode(signing_path)
            signing = sa.load_signing_key(signing_path)
            public: list[Any] = []
            for path in cfg.key_files:
                public.extend(sa.load_public_keys(path))
        except sa.ServiceAccountKeyError as exc:
            raise PKIError(str(exc)) from exc
        if not public:
            public = [signing.public_key()]
        return signing, public

    @classmethod
    def build(
        cls,
        cfg: SecurityConfig,
        *,
        registry: Registry,
        cache: StateCache,
        server_url: str,
        ca_pem: bytes,
    ) -> Security:
        if cfg.authorization_mode not in AUTHORIZATION_MODES:
            raise PKIError(
                f"--authorization-mode {cfg.authorization_mode}: must be one of"
                f" {', '.join(AUTHORIZATION_MODES)}"
            )
        signing, public = cls.load_keys(cfg)
        issuers = list(cfg.issuers) or [DEFAULT_ISSUER]
        audiences = list(cfg.api_audiences) or [issuers[0]]

        def lookup(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
            rt = _BY_PLURAL[plural]
            state = cache.state(rt.key_prefix)
            if state is None:
                return None
            entry = state.get(rt.key(namespace, name))
            return None if entry is None else entry.obj

        bound_prefixes = [
            _BY_PLURAL[p].key_prefix for p in ("serviceaccounts", "secrets", "pods", "nodes")
        ]

        def stamp() -> object:
            # The states themselves too: a relisted resource gets a new state object.
            states = [cache.state(prefix) for prefix in bound_prefixes]
            return tuple((id(s), s.changes) if s is not None else None for s in states)

        tokens = ServiceAccountTokens(
            lookup=lookup,
            stamp=stamp,
            issuer=sa.TokenIssuer(signing, issuers[0]),
            verifier=sa.TokenVerifier(public, issuers, audiences),
            api_audiences=audiences,
            max_expiration=cfg.max_token_expiration,
        )
        rules: RulesResolver
        if cfg.authorization_mode == "RBAC":
            policy = CachedPolicy(cache)
            rbac = RBACAuthorizer(policy)
            mode: Authorizer = rbac
            rules = rbac
        else:
            mode = AlwaysAllow()
            rules = AlwaysAllowRules()
        authorizer = Union([PrivilegedGroups(), mode])
        if cfg.authorization_mode == "RBAC":
            registry.guards.append(EscalationGuard(authorizer=authorizer, policy=policy))
        registry.guards.append(CSRApprovalGuard(authorizer=authorizer))

        security = cls(
            authorizer=authorizer,
            rules=rules,
            tokens=tokens,
            mode=cfg.authorization_mode,
            _issuer=issuers[0],
            _public=public,
        )
        security.set_server_url(server_url)
        security._controllers = [
            ClusterRoleAggregation(registry=registry, cache=cache),
            TokenSecrets(
                registry=registry,
                cache=cache,
                issue=lambda ns, name, uid, secret: tokens.issue_legacy(ns, name, uid, secret),
                ca_pem=ca_pem,
            ),
        ]
        return security

    def services(self, authenticator: Authenticator) -> AuthServices:
        """The endpoints' view; TokenReview asks `authenticator`'s token file, then the
        ServiceAccount tokens for the review's audiences."""
        api_audiences = self.tokens.api_audiences

        def review_token(token: str, auds: list[str]) -> tuple[UserInfo | None, list[str], str]:
            wanted = auds or api_audiences
            user = authenticator.token_file_user(token)
            if user is not None:
                # Token-file tokens are good for the API audiences only (kube wraps such
                # audience-agnostic authenticators so).
                agnostic = [a for a in wanted if a in api_audiences]
                if agnostic:
                    return user, agnostic, ""
                return None, [], ""
            return self.tokens.review(token, wanted)

        return AuthServices(
            authorizer=self.authorizer,
            rules=self.rules,
            authenticate_token=review_token,
            api_audiences=tuple(api_audiences),
            token_requests=self.tokens,
        )

    async def start(self, registry: Registry) -> None:
        await reconcile_bootstrap_policy(registry)
        for controller in self._controllers:
            controller.start()

    async def stop(self) -> None:
        for controller in self._controllers:
            await controller.stop()
