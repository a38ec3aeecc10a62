"""ServiceAccount tokens against live objects: the TokenRequest subresource and the bearer
authenticator, both reading ServiceAccounts, Pods, Secrets and Nodes from the watch cache.

`strom.auth.serviceaccount` signs and verifies JWTs and knows nothing of the cluster; this
module is kube's `TokenREST` and its token validator: a token names a ServiceAccount (and maybe
a Pod or Secret it is bound to) by name and uid, and is good only while each still exists with
that uid, so deleting the Pod kills its tokens at once. A legacy Secret-based token must also
still be the token that Secret holds (compared in constant time).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from strom.auth.authn import TokenRejected
from strom.auth.serviceaccount import (
    BoundRef,
    InvalidToken,
    LiveObject,
    ServiceAccountClaims,
    TokenIssuer,
    TokenVerifier,
    bound_object_error,
    legacy_token_mismatch,
)
from strom.errors import Cause, StatusError
from strom.user import UserInfo

__all__ = ["ObjectLookup", "ServiceAccountTokens"]

# (plural, namespace, name) -> the live object, or None
ObjectLookup = Callable[[str, str, str], dict[str, Any] | None]

DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
_VALID_AGAINST_MAX = 4096  # tokens remembered as valid against their objects


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_of(claims: ServiceAccountClaims) -> UserInfo:
    """The identity a ServiceAccount token authenticates as (ServiceAccountInfo.UserInfo)."""
    return UserInfo(
        username=claims.username,
        uid=claims.uid,
        groups=(*claims.groups, "system:authenticated"),
        extra={k: tuple(v) for k, v in claims.extra().items()},
    )


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


class ServiceAccountTokens:
    """Issue (TokenRequest) and check (bearer authentication, TokenReview) SA tokens."""

    def __init__(
        self,
        *,
        lookup: ObjectLookup,
        issuer: TokenIssuer,
        verifier: TokenVerifier,
        api_audiences: list[str],
        max_expiration: int = 0,
        stamp: Callable[[], object] | None = None,
    ) -> None:
        self._lookup = lookup
        # What changes whenever any object a token may name changes (ServiceAccounts,
        # Secrets, Pods, Nodes): while it is the same, a token valid before still is.
        self._stamp = stamp
        self._issuer = issuer
        self._verifier = verifier
        self.api_audiences = list(api_audiences)
        self._max_expiration = max_expiration
        # id(claims) -> (claims, the live objects they were found valid against). A write
        # replaces an object in the watch cache with a new dict, so finding the very same
        # objects again means nothing they say has changed; objects being deleted are
        # checked every time (their verdict depends on the clock).
        self._valid_against: dict[int, tuple[ServiceAccountClaims, tuple[Any, ...], object]] = {}

    # --- authentication ------------------------------------------------------------------
    def authenticate_token(self, token: str) -> UserInfo | None:
        """The ServiceAccount user of a valid token; None when the token is not ours; raises
        TokenRejected when it is ours and bad (expired, wrong audience, stale binding)."""
        try:
            found = self._verifier.verify_and_derive(token, _user_of)
            if found is None:
                return None
            self._validate(found[0], token)
        except InvalidToken as exc:
            raise TokenRejected(str(exc)) from None
        return found[1]

    def review(self, token: str, audiences: list[str]) -> tuple[UserInfo | None, list[str], str]:
        """TokenReview's answer: the user, the audiences the token is good for among those
        asked, and why not when it is not."""
        try:
            claims = self._verifier.verify(token, audiences=audiences)
            if claims is None:
                return None, [], ""
            self._validate(claims, token)
        except InvalidToken as exc:
            return None, [], str(exc)
        good = [a for a in audiences if a in claims.audiences] or audiences
        return _user_of(claims), good, ""

    def issue_legacy(self, namespace: str, name: str, uid: str, secret_name: str) -> str:
        return self._issuer.issue_legacy(namespace, name, uid, secret_name)

    def _validate(self, claims: ServiceAccountClaims, token: str) -> None:
        """kube's validator: every object the token names must still be there, with its uid
        (checked in kube's order, with kube's messages); a legacy token must still be the
        one its Secret holds."""
        memo = self._valid_against.get(id(claims))
        stamp = self._stamp() if self._stamp is not None else None
        if memo is not None and memo[0] is claims and stamp is not None and memo[2] == stamp:
            return  # nothing a token can name has changed since it was found valid
        checks = claims.objects_to_check()
        found = tuple(self._lookup(resource, ns, name) for resource, ns, name in checks)
        if (
            memo is not None
            and memo[0] is claims
            and len(memo[1]) == len(found)
            and all(a is b for a, b in zip(memo[1], found, strict=True))
        ):
            self._valid_against[id(claims)] = (claims, found, stamp)
            return
        self._check_objects(claims, token, checks, found)
        if all(obj is not None and not _meta(obj).get("deletionTimestamp") for obj in found):
            if len(self._valid_against) >= _VALID_AGAINST_MAX:
                self._valid_against.clear()
            self._valid_against[id(claims)] = (claims, found, stamp)

    def _check_objects(
        self,
        claims: ServiceAccountClaims,
        token: str,
        checks: tuple[tuple[str, str, str], ...],
        found: tuple[dict[str, Any] | None, ...],
    ) -> None:
        for (resource, _, _), obj in zip(checks, found, strict=True):
            live = None
            if obj is not None:
                meta = _meta(obj)
                live = LiveObject(
                    str(meta.get("uid", "")), _parse_time(meta.get("deletionTimestamp"))
                )
            problem = bound_object_error(claims, resource, live)
            if problem is None and resource == "secrets" and claims.legacy and obj is not None:
                stored = (obj.get("data") or {}).get("token", "")
                try:
                    raw = base64.b64decode(stored) if isinstance(stored, str) else b""
                except ValueError:
                    raw = b""
                problem = legacy_token_mismatch(token, raw)
            if problem is not None:
                raise InvalidToken(problem)

    # --- TokenRequest --------------------------------------------------------------------
    async def create(
        self, namespace: str, name: str, body: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        sa = self._lookup("serviceaccounts", namespace, name)
        if sa is None:
            raise StatusError.not_found("serviceaccounts", name)
        spec = body.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        expiration = spec.get("expirationSeconds")
        if expiration is None:
            expiration = DEFAULT_EXPIRATION
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise StatusError.bad_request(
                'TokenRequest in version "v1" cannot be handled as a TokenRequest:'
                " json: cannot unmarshal into Go struct field"
                " TokenRequestSpec.spec.expirationSeconds of type int64"
            )
        self._validate_expiration(name, expiration)
        if self._max_expiration and expiration > self._max_expiration:
            expiration = self._max_expiration
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise StatusError.bad_request("spec.audiences must be a list of strings")
        if not audiences:
            audiences = list(self.api_audiences)
        pod, secret, node = self._bound(namespace, name, spec.get("boundObjectRef"))
        out_spec: dict[str, Any] = {"audiences": audiences, "expirationSeconds": expiration}
        if spec.get("boundObjectRef"):
            out_spec["boundObjectRef"] = spec["boundObjectRef"]
        status: dict[str, Any] = {"token": "", "expirationTimestamp": None}
        if not dry_run:
            token, expires = self._issuer.issue(
                namespace=namespace,
                sa_name=name,
                sa_uid=_meta(sa).get("uid", ""),
                audiences=audiences,
                expiration_seconds=expiration,
                pod=pod,
                secret=secret,
                node=node,
            )
            status = {"token": token, "expirationTimestamp": _rfc3339(expires)}
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": out_spec,
            "status": status,
        }

    @staticmethod
    def _validate_expiration(name: str, seconds: int) -> None:
        message = ""
        if seconds < MIN_EXPIRATION:
            message = "may not specify a duration less than 10 minutes"
        elif seconds > MAX_EXPIRATION:
            message = "may not specify a duration larger than 2^32 seconds"
        if message:
            raise StatusError.invalid(
                "TokenRequest.authentication.k8s.io",
                name,
                [
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {seconds}: {message}",
                        "spec.expirationSeconds",
                    )
                ],
                group="authentication.k8s.io",
            )

    def _bound(
        self, namespace: str, sa_name: str, ref: Any
    ) -> tuple[BoundRef | None, BoundRef | None, BoundRef | None]:
        """The objects a token is bound to, checked as kube's TokenREST checks them."""
        if not ref:
            return None, None, None
        if not isinstance(ref, dict):
            raise StatusError.bad_request("spec.boundObjectRef must be an object")
        kind = str(ref.get("kind") or "")
        api_version = str(ref.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        ref_name = str(ref.get("name") or "")
        ref_uid = str(ref.get("uid") or "")
        pod = secret = node = None
        if group == "" and kind == "Pod":
            obj = self._lookup("pods", namespace, ref_name)
            if obj is None:
                raise StatusError.not_found("pods", ref_name)
            running_as = (obj.get("spec") or {}).get("serviceAccountName") or "default"
            if running_as != sa_name:
                raise StatusError.bad_request(
                    f'cannot bind token for serviceaccount "{sa_name}" to pod running with'
                    f' serviceaccount "{running_as}"'
                )
            uid = _meta(obj).get("uid", "")
            pod = BoundRef(ref_name, uid)
            node_name = (obj.get("spec") or {}).get("nodeName") or ""
            if node_name:
                node_obj = self._lookup("nodes", "", node_name)
                if node_obj is not None:
                    node = BoundRef(node_name, _meta(node_obj).get("uid", ""))
        elif group == "" and kind == "Secret":
            obj = self._lookup("secrets", namespace, ref_name)
            if obj is None:
                raise StatusError.not_found("secrets", ref_name)
            uid = _meta(obj).get("uid", "")
            secret = BoundRef(ref_name, uid)
        elif group == "" and kind == "Node":
            obj = self._lookup("nodes", "", ref_name)
            if obj is None:
                raise StatusError.not_found("nodes", ref_name)
            uid = _meta(obj).get("uid", "")
            node = BoundRef(ref_name, uid)
        else:
            raise StatusError.bad_request(
                f"cannot bind token to object of type {group}/{version}, Kind={kind}"
            )
        if ref_uid and ref_uid != uid:
            raise StatusError.conflict(
                kind,
                ref_name,
                f"the UID in the bound object reference ({ref_uid}) does not match the UID in"
                f" record ({uid}). The object might have been deleted and then recreated",
            )
        return pod, secret, node
