"""The admission chain, in kube-apiserver's order, as the registry's `Admission`.

Mutating: the webhooks of MutatingWebhookConfigurations (the built-in mutating plugins,
NamespaceLifecycle and ServiceAccount, live in the registry). Validating:
ValidatingAdmissionPolicies through their bindings, then the webhooks of
ValidatingWebhookConfigurations. Each plugin reads its configuration from the state cache,
so a configuration written is in force for the next request.
"""

from __future__ import annotations

from strom.cache.state import StateCache
from strom.registry.hooks import AdmissionRequest
from strom.registry.types import TypeTable

from .policies import PolicyDispatcher
from .webhooks import Observer, WebhookDispatcher

__all__ = ["AdmissionChain"]


class AdmissionChain:
    def __init__(
        self, cache: StateCache, types: TypeTable | None = None, observe: Observer | None = None
    ) -> None:
        self.policies = PolicyDispatcher(cache, types)
        self.webhooks = WebhookDispatcher(cache, observe)

    def has_mutating(self) -> bool:
        return self.webhooks.has_mutating()

    async def mutate(self, request: AdmissionRequest) -> None:
        await self.webhooks.mutate(request)

    async def validate(self, request: AdmissionRequest) -> None:
        self.policies.validate(request)
        await self.webhooks.validate(request)
