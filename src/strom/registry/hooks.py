"""What the registry hands to admission: one `AdmissionRequest` per write, two phases.

kube-apiserver's admission chain sees each create, update and delete twice: mutating plugins
may change the object before the kind's own rules run, validating plugins may only refuse the
final object before it is stored (k8s.io/apiserver/pkg/admission: `Admit`, `Validate`, one
`Attributes` value). The registry calls `Admission.mutate` and `Admission.validate` at those
two points; the chain itself (webhooks, ValidatingAdmissionPolicy) lives in `strom.admission`,
above the registry, and reaches other objects through the registry's cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from strom.registry.kinds import ResourceType
from strom.user import UserInfo

__all__ = ["Admission", "AdmissionRequest", "Converter"]


@dataclass(slots=True)
class AdmissionRequest:
    """One write as admission sees it; mutating plugins replace `obj`."""

    rt: ResourceType  # the resource as the client addressed it (group/version/plural/kind)
    operation: str  # CREATE | UPDATE | DELETE
    namespace: str
    name: str
    obj: dict[str, Any] | None  # the new object (None on DELETE)
    old: dict[str, Any] | None  # the stored object (None on CREATE)
    user: UserInfo | None  # None: strom's own controllers
    dry_run: bool
    subresource: str = ""
    options: dict[str, Any] | None = None  # CreateOptions / UpdateOptions / DeleteOptions
    warnings: list[str] = field(default_factory=list)  # for Warning headers
    annotations: dict[str, str] = field(default_factory=dict)  # for the request's audit event


class Converter(Protocol):
    async def convert(
        self, rt: ResourceType, objects: list[dict[str, Any]], api_version: str
    ) -> list[dict[str, Any]]:
        """`objects` in `api_version` through `rt`'s CRD conversion webhook (objects already
        in that version are returned as they are); raises a StatusError (500) on failure."""


class Admission(Protocol):
    def has_mutating(self) -> bool:
        """Whether any mutating plugin is configured (else the registry skips the
        defaulting it does for them)."""

    async def mutate(self, request: AdmissionRequest) -> None:
        """May change `request.obj`; raises a StatusError to refuse."""

    async def validate(self, request: AdmissionRequest) -> None:
        """Raises a StatusError to refuse; never changes the object."""
