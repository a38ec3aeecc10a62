"""The CertificateApproval admission check: approving or denying a CertificateSigningRequest
needs the `approve` verb on `signers` (certificates.k8s.io) named by the request's signerName,
or its `domain/*` wildcard, as kube's plugin asks the authorizer."""

from __future__ import annotations

from typing import Any

from strom.auth.authz import Attributes, Authorizer, Decision
from strom.errors import StatusError
from strom.registry.kinds import ResourceType
from strom.user import UserInfo

__all__ = ["CSRApprovalGuard"]

_GROUP = "certificates.k8s.io"
_DECISIONS = ("Approved", "Denied")


def _decisions(obj: dict[str, Any] | None) -> list[tuple[str, str]]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or ()
    return sorted(
        (str(c.get("type")), str(c.get("status")))
        for c in conditions
        if isinstance(c, dict) and c.get("type") in _DECISIONS
    )


class CSRApprovalGuard:
    """A registry write guard (see `strom.registry.rest.WriteGuard`)."""

    def __init__(self, *, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    def check(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        user: UserInfo | None,
    ) -> None:
        if rt.group != _GROUP or rt.plural != "certificatesigningrequests" or user is None:
            return
        if old is None or _decisions(obj) == _decisions(old):
            return
        signer = str((obj.get("spec") or {}).get("signerName") or "")
        names = [signer]
        if "/" in signer:
            names.append(signer.split("/", 1)[0] + "/*")
        for name in names:
            attrs = Attributes(
                user=user,
                verb="approve",
                resource_request=True,
                api_group=_GROUP,
                api_version="*",
                resource="signers",
                name=name,
            )
            if self._authorizer.authorize(attrs)[0] is Decision.ALLOW:
                return
        csr = str((obj.get("metadata") or {}).get("name") or "")
        raise StatusError.forbidden(
            rt.plural,
            csr,
            f'user not permitted to approve requests with signerName "{signer}"',
            group=_GROUP,
        )
