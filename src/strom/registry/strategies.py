"""Per-kind rules on top of the generic registry (kube's RESTCreateStrategy & co).

The generic path calls, in this order, on create: `prepare_for_create` → defaults →
validation; on update: `prepare_for_update` → defaults → validation. A hook prepares or
checks; it never writes to storage. Kinds without rules of their own use `Strategy`.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from strom.registry.kinds import ResourceType
from strom.registry.meta import now_rfc3339

__all__ = ["CRD_CLEANUP_FINALIZER", "Strategy", "strategy_for"]

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

# Kinds whose metadata.generation kube-apiserver maintains (bumped on spec changes).
_GENERATION = {
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
}
# PUT may create these (AllowCreateOnUpdate in their strategies).
_CREATE_ON_UPDATE = {
    ("", "endpoints"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("coordination.k8s.io", "leases"),
    ("discovery.k8s.io", "endpointslices"),
    ("", "limitranges"),
}
# DELETE answers with the object rather than a Status (ReturnDeletedObject).
_RETURN_DELETED = {
    ("", "pods"),
    ("", "services"),
    ("", "namespaces"),
    ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"),
    ("", "nodes"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}


class Strategy:
    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        gr = (rt.group, rt.plural)
        self.is_custom = rt.crd is not None
        self.has_generation = gr in _GENERATION or self.is_custom
        self.allow_create_on_update = gr in _CREATE_ON_UPDATE
        self.return_deleted_object = gr in _RETURN_DELETED or self.is_custom
        self.has_status = "status" in rt.subresources

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Reset what a create may not set: status, where status is a subresource."""
        if self.has_status:
            obj.pop("status", None)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """The main resource's update keeps the stored status (status has its own endpoint)."""
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A status update changes status only; everything else stays as stored."""
        status = new.get("status")
        meta_new = new.get("metadata") or {}
        for key in list(new):
            if key not in ("kind", "apiVersion", "metadata", "status"):
                del new[key]
        for key, value in old.items():
            if key not in ("kind", "apiVersion", "metadata", "status"):
                new[key] = copy.deepcopy(value)
        meta = copy.deepcopy(old.get("metadata") or {})
        if "resourceVersion" in meta_new:
            meta["resourceVersion"] = meta_new["resourceVersion"]
        new["metadata"] = meta
        if status is None:
            new.pop("status", None)

    def prepare_for_finalize(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """namespaces/finalize changes spec.finalizers only; the rest stays as stored."""
        finalizers = (new.get("spec") or {}).get("finalizers")
        resource_version = (new.get("metadata") or {}).get("resourceVersion")
        new.clear()
        new.update(copy.deepcopy(old))
        spec = new.setdefault("spec", {})
        if finalizers:
            spec["finalizers"] = list(finalizers)
        else:
            spec.pop("finalizers", None)
        if resource_version:
            new["metadata"]["resourceVersion"] = resource_version

    def prepare_for_approval(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Only CertificateSigningRequests have an approval subresource."""
        self.prepare_for_status_update(new, old)

    def prepare_for_ephemeral_containers(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """pods/ephemeralcontainers (dropNonEphemeralContainerUpdates): the stored pod with
        the new spec.ephemeralContainers, nothing else."""
        containers = (new.get("spec") or {}).get("ephemeralContainers")
        resource_version = (new.get("metadata") or {}).get("resourceVersion")
        new.clear()
        new.update(copy.deepcopy(old))
        spec = new.setdefault("spec", {})
        if containers:
            spec["ephemeralContainers"] = copy.deepcopy(containers)
        else:
            spec.pop("ephemeralContainers", None)
        if resource_version:
            new["metadata"]["resourceVersion"] = resource_version

    def spec_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        """Whether a write bumps generation: any change outside metadata and status."""
        keys = (set(new) | set(old)) - {"metadata", "status", "kind", "apiVersion"}
        return any(new.get(k) != old.get(k) for k in keys)


class CRDStrategy(Strategy):
    """CRDs become Established at once: strom has no separate controller to wait for."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        meta = obj.setdefault("metadata", {})
        finalizers = list(meta.get("finalizers") or ())
        if CRD_CLEANUP_FINALIZER not in finalizers:
            meta["finalizers"] = [*finalizers, CRD_CLEANUP_FINALIZER]
        spec = obj.get("spec") or {}
        names = dict(spec.get("names") or {})
        kind = str(names.get("kind") or "")
        names.setdefault("singular", kind.lower())
        names.setdefault("listKind", f"{kind}List")
        now = now_rfc3339()
        obj["status"] = {
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                },
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                },
            ],
            "acceptedNames": names,
            "storedVersions": [
                v.get("name") for v in spec.get("versions") or () if v.get("storage")
            ],
        }

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        status = new.get("status")
        if isinstance(status, dict):
            names = (new.get("spec") or {}).get("names") or {}
            status["acceptedNames"] = dict(names)
            stored = list(status.get("storedVersions") or ())
            for v in (new.get("spec") or {}).get("versions") or ():
                if v.get("storage") and v.get("name") not in stored:
                    stored.append(v.get("name"))
            status["storedVersions"] = stored


class ServiceStrategy(Strategy):
    """Services: addresses come from the registry's allocators (strom.registry.cluster_ips,
    strom.registry.node_ports); here the status a new Service starts with, and updates that
    keep the addresses a client left out."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        if spec.get("type") == "ExternalName":
            return
        if spec.get("clusterIP") and "clusterIPs" not in spec:
            spec["clusterIPs"] = [spec["clusterIP"]]
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]


class SecretStrategy(Strategy):
    """`stringData` is write-only: merged into `data` (base64) as the v1 conversion does."""

    @staticmethod
    def _merge_string_data(obj: dict[str, Any]) -> None:
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = dict(obj.get("data") or {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        self._merge_string_data(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        self._merge_string_data(new)


class NamespaceStrategy(Strategy):
    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers change only through the finalize subresource.
        if "spec" in old:
            new["spec"] = copy.deepcopy(old["spec"])


_CSR_DECISIONS = ("Approved", "Denied")


class CSRStrategy(Strategy):
    """CertificateSigningRequests: the requestor comes from the request, spec never changes,
    approval conditions change only through `approval`, the rest of status through
    `status` (kube's csrStrategy, csrStatusStrategy and csrApprovalStrategy)."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for key in ("username", "uid", "groups", "extra"):
                spec.pop(key, None)
        obj["status"] = {}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        for key in ("spec", "status"):
            if key in old:
                new[key] = copy.deepcopy(old[key])
            else:
                new.pop(key, None)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_status_update(new, old)
        status = new.setdefault("status", {})
        kept = [c for c in status.get("conditions") or () if c.get("type") not in _CSR_DECISIONS]
        kept += [
            copy.deepcopy(c)
            for c in (old.get("status") or {}).get("conditions") or ()
            if c.get("type") in _CSR_DECISIONS
        ]
        _set_conditions(status, kept, old)

    def prepare_for_approval(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        conditions = list((new.get("status") or {}).get("conditions") or ())
        self.prepare_for_status_update(new, old)
        status = copy.deepcopy(old.get("status") or {})
        _set_conditions(status, conditions, old)
        new["status"] = status


def _set_conditions(status: dict[str, Any], conditions: list[Any], old: dict[str, Any]) -> None:
    """populateConditionTimestamps: new conditions get now, unchanged ones keep their times."""
    now = now_rfc3339()
    before = {
        (c.get("type"), c.get("status")): c
        for c in (old.get("status") or {}).get("conditions") or ()
        if isinstance(c, dict)
    }
    out = []
    for condition in conditions:
        if not isinstance(condition, dict):
            continue
        condition = dict(condition)
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            previous = before.get((condition.get("type"), condition.get("status")))
            condition["lastTransitionTime"] = (previous or {}).get("lastTransitionTime") or now
        out.append(condition)
    if out:
        status["conditions"] = out
    else:
        status.pop("conditions", None)


def strategy_for(rt: ResourceType) -> Strategy:
    gr = (rt.group, rt.plural)
    if gr == ("certificates.k8s.io", "certificatesigningrequests"):
        return CSRStrategy(rt)
    if gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return CRDStrategy(rt)
    if gr == ("", "services"):
        return ServiceStrategy(rt)
    if gr == ("", "namespaces"):
        return NamespaceStrategy(rt)
    if gr == ("", "secrets"):
        return SecretStrategy(rt)
    return Strategy(rt)
