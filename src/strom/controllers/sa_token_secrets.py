"""Legacy ServiceAccount token Secrets, as kube-controller-manager's token controller fills them.

A Secret of type `kubernetes.io/service-account-token` that names a ServiceAccount in its
`kubernetes.io/service-account.name` annotation gets a non-expiring token (the legacy JWT),
the cluster CA and the namespace in its data, and the account's uid in an annotation. A
Secret whose ServiceAccount is gone (or was recreated with another uid) is deleted, which is
also what revokes its token: the authenticator checks the Secret still holds it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
from collections.abc import Callable, Sequence

from strom.cache.state import StateCache
from strom.controllers.queue import WorkQueue, drain
from strom.errors import StatusError
from strom.registry.kinds import BUILTIN, ResourceType
from strom.registry.rest import DeleteOptions, Registry, WriteOptions
from strom.storage.base import Change, ChangeType

__all__ = ["SA_TOKEN_TYPE", "TokenSecrets"]

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
SA_UID = "kubernetes.io/service-account.uid"

SECRETS: ResourceType = next(t for t in BUILTIN if t.plural == "secrets" and not t.group)
SERVICE_ACCOUNTS: ResourceType = next(t for t in BUILTIN if t.plural == "serviceaccounts")

# (namespace, sa name, sa uid, secret name) -> the legacy token
LegacyIssuer = Callable[[str, str, str, str], str]


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


class TokenSecrets:
    def __init__(
        self, *, registry: Registry, cache: StateCache, issue: LegacyIssuer, ca_pem: bytes
    ) -> None:
        self.registry = registry
        self.cache = cache
        self._issue = issue
        self._ca = _b64(ca_pem)
        self._queue = WorkQueue()  # "namespace/name" of Secrets
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.registry.store.subscribe(self._on_changes)
        for key in self._token_secret_keys(""):
            self._queue.add(key)
        self._task = asyncio.create_task(drain(self._queue, self._sync), name="sa-token-ctl")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _token_secret_keys(self, namespace: str) -> list[str]:
        state = self.cache.state(SECRETS.key_prefix)
        if state is None:
            return []
        out = []
        for entry in state.scan(SECRETS.prefix_for(namespace)):
            if entry.obj.get("type") == SA_TOKEN_TYPE:
                meta = entry.obj.get("metadata") or {}
                out.append(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
        return out

    def _on_changes(self, changes: Sequence[Change]) -> None:
        secrets, accounts = SECRETS.key_prefix, SERVICE_ACCOUNTS.key_prefix
        for change in changes:
            if change.key.startswith(secrets) and change.type is not ChangeType.DELETE:
                if (change.obj or {}).get("type") == SA_TOKEN_TYPE:
                    self._queue.add(change.key[len(secrets) :])
            elif change.key.startswith(accounts):
                namespace = change.key[len(accounts) :].split("/", 1)[0]
                for key in self._token_secret_keys(namespace):
                    self._queue.add(key)

    async def _sync(self, key: str) -> bool:
        namespace, _, name = key.partition("/")
        entry = self.registry.lookup(SECRETS, namespace, name)
        if entry is None or entry.obj.get("type") != SA_TOKEN_TYPE:
            return False
        secret = entry.obj
        meta = secret.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return False
        annotations = meta.get("annotations") or {}
        sa_name = annotations.get(SA_NAME, "")
        account = self.registry.lookup(SERVICE_ACCOUNTS, namespace, sa_name)
        sa_uid = ((account.obj.get("metadata") or {}).get("uid", "")) if account else ""
        if account is None or (annotations.get(SA_UID) and annotations[SA_UID] != sa_uid):
            with contextlib.suppress(StatusError):
                await self.registry.delete(
                    SECRETS, namespace, name, DeleteOptions(uid=meta.get("uid", ""))
                )
            return False
        data = secret.get("data") or {}
        if data.get("token") and data.get("ca.crt") and annotations.get(SA_UID) == sa_uid:
            return False
        updated = copy.deepcopy(secret)
        updated["metadata"].setdefault("annotations", {})[SA_UID] = sa_uid
        new_data = updated.setdefault("data", {})
        new_data["token"] = _b64(self._issue(namespace, sa_name, sa_uid, name))
        new_data["ca.crt"] = self._ca
        new_data["namespace"] = _b64(namespace)
        try:
            await self.registry.update(
                SECRETS, namespace, name, updated, WriteOptions(field_validation="Ignore")
            )
        except StatusError as exc:
            return exc.code == 409
        return False
