"""The generic registry: create, get, update, patch, delete for every kind in the table.

Reads come from the state cache; writes go to the store, whose change feed updates the cache
before the write is acknowledged. Storage errors become `StatusError`s here. Every write is
prepared completely (defaults, validation, admission) before the store sees it, so a failed
request leaves nothing behind.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from strom.cache.state import Entry, StateCache
from strom.errors import Cause, StatusError
from strom.registry import defaults, deletion, patching, validation
from strom.registry.admission import add_service_account_volume
from strom.registry.apply import FieldManager
from strom.registry.cluster_ips import ClusterIPAllocator
from strom.registry.conversion import from_storage, storage_type, to_storage
from strom.registry.hooks import Admission, AdmissionRequest, Converter
from strom.registry.kinds import ResourceType
from strom.registry.meta import canonical, fill_create_fields, generate_name, now_rfc3339
from strom.registry.node_ports import NodePortAllocator
from strom.registry.scale import scale_spec
from strom.registry.service_addresses import assign_service_addresses
from strom.registry.strategies import Strategy, strategy_for
from strom.registry.validation.decode_types import decode_type_error
from strom.registry.validation.meta import validate_finalizer_names
from strom.registry.write_options import DeleteOptions, WriteGuard, WriteOptions, WriteResult
from strom.storage.base import Conflict, KeyExists, KeyNotFound, KeyValue, Store
from strom.user import UserInfo

__all__ = ["DeleteOptions", "Registry", "WriteOptions", "WriteResult"]


def _set_requestor(csr: dict[str, Any], user: UserInfo | None) -> None:
    """A CertificateSigningRequest names who asked (csrStrategy.PrepareForCreate)."""
    if user is None:
        return
    spec = csr.setdefault("spec", {})
    spec["username"] = user.username
    if user.uid:
        spec["uid"] = user.uid
    if user.groups:
        spec["groups"] = list(user.groups)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}


class Registry:
    def __init__(
        self,
        *,
        store: Store,
        cache: StateCache,
        node_ports: NodePortAllocator | None = None,
        cluster_ips: ClusterIPAllocator | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.node_ports = node_ports or NodePortAllocator()
        self.cluster_ips = cluster_ips or ClusterIPAllocator()
        self.guards: list[WriteGuard] = []
        self.admission: Admission | None = None  # the chain of strom.admission, if any
        self.converter: Converter | None = None  # CRD conversion webhooks, if any
        self._strategies: dict[tuple[str, str, str], Strategy] = {}

    # --- helpers -------------------------------------------------------------------------
    def strategy(self, rt: ResourceType) -> Strategy:
        key = (rt.group, rt.version, rt.plural)
        s = self._strategies.get(key)
        if s is None or s.rt is not rt:
            s = strategy_for(rt)
            self._strategies[key] = s
        return s

    @staticmethod
    def field_manager(rt: ResourceType, subresource: str = "") -> FieldManager:
        """Field ownership for writes through this resource's endpoint, at the request's
        version (managedFields record the version the writer used)."""
        only = None
        if subresource == "scale":
            spec = scale_spec(rt)
            only = spec.spec_replicas if spec is not None else None
        elif subresource == "finalize":
            only = ("spec", "finalizers")
        return FieldManager(
            group=rt.group,
            version=rt.version,
            kind=rt.kind,
            crd_version=rt.crd,
            subresource=subresource,
            has_status="status" in rt.subresources,
            only=only,
        )

    @staticmethod
    def _set_managed_fields(obj: dict[str, Any], managed: list[dict[str, Any]]) -> None:
        meta = obj.setdefault("metadata", {})
        if managed:
            meta["managedFields"] = managed
        else:
            meta.pop("managedFields", None)

    def _assign_service_addresses(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if rt.crd is None and rt.group == "" and rt.plural == "services":
            assign_service_addresses(self.cache, self.cluster_ips, self.node_ports, obj, old)

    def lookup(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        state = self.cache.state(rt.key_prefix)
        if state is None:
            raise StatusError.service_unavailable("storage is (re)initializing")
        return state.get(rt.key(namespace, name))

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        entry = self.lookup(rt, namespace, name)
        if entry is None:
            raise StatusError.not_found(rt.plural, name, group=rt.group)
        return entry

    def to_stored(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Key order and type fields as stored: built-ins drop kind/apiVersion."""
        custom = rt.crd is not None
        if custom:
            obj["apiVersion"] = f"{rt.group}/{rt.storage_version or rt.version}"
            obj["kind"] = rt.kind
        return canonical(obj, with_type=custom)

    async def in_version(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored custom resource in `rt`'s version, through its conversion webhook
        (other objects come back as they are: relabelling is their conversion)."""
        if not rt.webhook_converted or self.converter is None:
            return stored
        return (await self.converter.convert(rt, [stored], rt.api_version))[0]

    async def _store_form(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """`to_stored`, converting a webhook-converted version to the storage version."""
        if not rt.webhook_converted or self.converter is None:
            return self.to_stored(rt, obj)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        storage = f"{rt.group}/{rt.storage_version}"
        converted = await self.converter.convert(rt, [canonical(obj, with_type=True)], storage)
        return canonical(converted[0], with_type=True)

    def check_type(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind not in (None, "") and kind != rt.kind:
            raise StatusError.bad_request(
                f'{kind} in version "{rt.version}" cannot be handled as a {rt.kind}:'
                f" the object provided is unrecognized (must be of type {rt.kind})"
            )
        if api_version not in (None, "") and api_version != rt.api_version:
            raise StatusError.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API"
                f" version ({rt.api_version})"
            )
        mistyped = decode_type_error(rt, obj)
        if mistyped:
            raise StatusError.bad_request(mistyped)

    def field_check(self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> list[str]:
        if opts.field_validation == "Ignore":
            return []
        unknown = validation.unknown_fields(rt, obj)
        if not unknown:
            return []
        if opts.field_validation == "Strict":
            text = ", ".join(f'unknown field "{p}"' for p in unknown)
            raise StatusError.bad_request(f"strict decoding error: {text}")
        return [f'unknown field "{p}"' for p in unknown]

    def _namespace_check(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        from strom.registry.kinds import BUILTIN

        ns_type = next(t for t in BUILTIN if t.plural == "namespaces")
        ns = self.lookup(ns_type, "", namespace)
        if ns is None:
            raise StatusError.not_found("namespaces", namespace)
        if (ns.obj.get("metadata") or {}).get("deletionTimestamp"):
            raise StatusError.forbidden(
                rt.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being"
                " terminated",
                group=rt.group,
            )

    def _prune_and_validate(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        subresource: str = "",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        if rt.crd is not None:
            obj = validation.prune_custom_resource(rt, obj)
        defaults.apply_defaults(rt, obj)
        causes: list[Cause]
        if old is None:
            causes = validation.validate_create(rt, obj, warnings)
        elif subresource == "ephemeralcontainers":
            causes = validation.validate_ephemeral_containers_update(obj, old)
        else:
            causes = validation.validate_update(rt, obj, old, warnings)
        if causes:
            name = (obj.get("metadata") or {}).get("name", "")
            raise StatusError.invalid(rt.kind, name, causes, group=rt.group)
        return obj

    async def _mutate(self, rt: ResourceType, request: AdmissionRequest) -> dict[str, Any]:
        """Mutating admission; webhooks see the object defaulted, as kube decodes it."""
        obj = request.obj
        assert obj is not None
        if self.admission is None or not self.admission.has_mutating():
            return obj
        if rt.crd is not None:
            obj = request.obj = validation.prune_custom_resource(rt, obj)
        defaults.apply_defaults(rt, obj)
        await self.admission.mutate(request)
        mutated = request.obj
        if not isinstance(mutated, dict) or not isinstance(mutated.get("metadata"), dict):
            raise StatusError.internal("admission returned an object without metadata")
        return mutated

    async def _validate_admission(self, request: AdmissionRequest) -> None:
        if self.admission is not None:
            await self.admission.validate(request)

    # --- create --------------------------------------------------------------------------
    async def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: dict[str, Any],
        opts: WriteOptions,
        *,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        """Create an object; `managed_fields` are an apply's (else the create is recorded as
        an Update by the writer)."""
        self.check_type(rt, body)
        warnings = self.field_check(rt, body, opts)
        fm = self.field_manager(rt)
        requested = rt
        obj = to_storage(rt, copy.deepcopy(body))
        rt = storage_type(rt)
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        if meta.get("resourceVersion"):
            raise StatusError.bad_request(
                "resourceVersion should not be set on objects to be created"
            )
        if rt.namespaced:
            body_ns = meta.get("namespace") or ""
            if body_ns and namespace and body_ns != namespace:
                raise StatusError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on"
                    " the request"
                )
            meta["namespace"] = namespace or body_ns
        else:
            meta.pop("namespace", None)
        self._namespace_check(rt, meta.get("namespace", ""), str(meta.get("name") or ""))
        request = AdmissionRequest(
            requested,
            "CREATE",
            meta.get("namespace", ""),
            str(meta.get("name") or ""),
            obj,
            None,
            opts.user,
            opts.dry_run,
            options=opts.options("CreateOptions"),
            annotations=opts.annotations,
        )
        obj = await self._mutate(rt, request)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(str(meta["generateName"]))
        strategy = self.strategy(rt)
        fill_create_fields(meta, with_generation=strategy.has_generation)
        strategy.prepare_for_create(obj)
        self._assign_service_addresses(rt, obj, None)
        if rt.group == "certificates.k8s.io" and rt.plural == "certificatesigningrequests":
            _set_requestor(obj, opts.user)
        if rt.crd is None:
            defaults.initial_status(rt, obj)
        for guard in self.guards:
            guard.check(rt, obj, None, opts.user)
        obj = self._prune_and_validate(rt, obj, None, warnings=warnings)
        if managed_fields is None:
            sent = obj["metadata"].get("managedFields")
            managed_fields = fm.update(None, obj, opts.manager, self.now(), sent=sent)
        self._set_managed_fields(obj, managed_fields)
        meta = obj["metadata"]
        name = meta["name"]
        await self._admit_create(rt, obj)
        request.obj, request.name = obj, name
        await self._validate_admission(request)
        warnings += request.warnings
        stored = await self._store_form(rt, obj)
        if opts.dry_run:
            if self.lookup(rt, meta.get("namespace", ""), name) is not None:
                raise StatusError.already_exists(rt.plural, name, group=rt.group)
            stored["metadata"].pop("resourceVersion", None)
            return WriteResult(stored, created=True, warnings=warnings)
        try:
            kv = await self.store.create(rt.key(meta.get("namespace", ""), name), stored)
        except KeyExists as exc:
            raise StatusError.already_exists(rt.plural, name, group=rt.group) from exc
        return WriteResult(kv.obj, created=True, warnings=warnings)

    async def _admit_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Admission that reads other objects (the ServiceAccount admission for pods)."""
        if rt.group == "" and rt.plural == "pods":
            meta = obj["metadata"]
            spec = obj.get("spec") or {}
            sa = spec.get("serviceAccountName") or "default"
            from strom.registry.kinds import BUILTIN

            sa_type = next(t for t in BUILTIN if t.plural == "serviceaccounts")
            ns = meta.get("namespace", "")
            account = self.lookup(sa_type, ns, sa)
            if account is None:
                raise StatusError.forbidden(
                    "pods",
                    meta.get("name", ""),
                    f'error looking up service account {ns}/{sa}: serviceaccount "{sa}" not found',
                )
            add_service_account_volume(obj, account.obj)

    # --- update --------------------------------------------------------------------------
    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: dict[str, Any],
        opts: WriteOptions,
        *,
        subresource: str = "",
    ) -> WriteResult:
        self.check_type(rt, body)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        body_name = meta.get("name")
        if body_name != name:
            raise StatusError.bad_request(
                f"the name of the object ({body_name or ''}) does not match the name on the URL"
                f" ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise StatusError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the"
                " request"
            )
        warnings = self.field_check(rt, body, opts)
        fm = self.field_manager(rt, subresource)
        body = to_storage(rt, body)
        rt = storage_type(rt)
        current = self.lookup(rt, namespace, name)
        if current is None:
            if self.strategy(rt).allow_create_on_update and not subresource:
                obj = copy.deepcopy(body)
                obj["metadata"].pop("resourceVersion", None)
                return await self.create(rt, namespace, obj, opts)
            raise StatusError.not_found(rt.plural, name, group=rt.group)
        rv = meta.get("resourceVersion") or ""
        if rv and rv != str(current.rev):
            raise StatusError.stale(rt.plural, name, group=rt.group)
        result = await self.write_update(
            rt, current, copy.deepcopy(body), opts, subresource=subresource, fm=fm
        )
        result.warnings[:0] = warnings
        return result

    async def write_update(
        self,
        rt: ResourceType,
        current: Entry,
        obj: dict[str, Any],
        opts: WriteOptions,
        *,
        subresource: str,
        fm: FieldManager,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        """Write `obj` over `current`; `managed_fields` are an apply's (else the write is
        recorded as an Update by the writer, over what the client sent back)."""
        old = await self.in_version(rt, current.obj)
        old_meta = old.get("metadata") or {}
        request = AdmissionRequest(
            rt,
            "UPDATE",
            old_meta.get("namespace", ""),
            old_meta.get("name", ""),
            obj,
            old,
            opts.user,
            opts.dry_run,
            subresource=subresource,
            options=opts.options("UpdateOptions"),
            annotations=opts.annotations,
        )
        obj = await self._mutate(rt, request)
        sent = (obj.get("metadata") or {}).get("managedFields")
        strategy = self.strategy(rt)
        if subresource == "status":
            strategy.prepare_for_status_update(obj, old)
        elif subresource == "finalize":
            strategy.prepare_for_finalize(obj, old)
        elif subresource == "approval":
            strategy.prepare_for_approval(obj, old)
        elif subresource == "ephemeralcontainers":
            strategy.prepare_for_ephemeral_containers(obj, old)
        else:
            strategy.prepare_for_update(obj, old)
            self._assign_service_addresses(rt, obj, old)
        meta = obj.setdefault("metadata", {})
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        if old_meta.get("deletionTimestamp"):
            # Finalizers may be removed from an object being deleted, not added.
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise StatusError.invalid(
                    rt.kind,
                    meta.get("name", ""),
                    [
                        Cause(
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being"
                            " deleted, found new finalizers " + str(sorted(added)),
                            "metadata.finalizers",
                        )
                    ],
                    group=rt.group,
                )
        if strategy.has_generation:
            gen = int(old_meta.get("generation") or 1)
            meta["generation"] = gen + 1 if strategy.spec_changed(obj, old) else gen
        else:
            meta.pop("generation", None)
        for guard in self.guards:
            guard.check(rt, obj, old, opts.user)
        warnings: list[str] = []
        obj = self._prune_and_validate(rt, obj, old, subresource=subresource, warnings=warnings)
        if managed_fields is None:
            managed_fields = fm.update(old, obj, opts.manager, self.now(), sent=sent)
        self._set_managed_fields(obj, managed_fields)
        request.obj = obj
        await self._validate_admission(request)
        warnings += request.warnings
        stored = await self._store_form(rt, obj)
        stored["metadata"]["resourceVersion"] = old_meta.get("resourceVersion", "")
        if stored == current.obj:  # a no-op update writes nothing, as in kube-apiserver
            return WriteResult(old, warnings=warnings)
        key = current.key
        finishing = bool(old_meta.get("deletionTimestamp")) and not stored["metadata"].get(
            "finalizers"
        )
        if finishing and deletion.is_namespace(rt):
            # A namespace also waits for its spec.finalizers (cleared through finalize).
            finishing = not (stored.get("spec") or {}).get("finalizers")
        if opts.dry_run:
            return WriteResult(stored, warnings=warnings)
        try:
            if finishing:
                kv = await self.store.delete(key, expected_rev=current.rev)
                return WriteResult(kv.obj, deleted=True, warnings=warnings)
            kv = await self.store.update(key, stored, expected_rev=current.rev)
        except Conflict as exc:
            raise StatusError.stale(rt.plural, old_meta.get("name", ""), group=rt.group) from exc
        except KeyNotFound as exc:
            raise StatusError.not_found(
                rt.plural, old_meta.get("name", ""), group=rt.group
            ) from exc
        return WriteResult(kv.obj, warnings=warnings)

    # --- patch and server-side apply (strom.registry.patching) -------------------------
    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_bytes: bytes,
        content_type: str,
        opts: WriteOptions,
        *,
        subresource: str = "",
    ) -> WriteResult:
        return await patching.patch(
            self, rt, namespace, name, patch_bytes, content_type, opts, subresource=subresource
        )

    async def write_subresource(
        self,
        rt: ResourceType,
        current: Entry,
        obj: dict[str, Any],
        opts: WriteOptions,
        *,
        subresource: str,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        """Write `obj` (as the client's version renders it) over `current` as an update
        through `subresource` (`scale`, `finalize`)."""
        return await self.write_update(
            storage_type(rt),
            current,
            to_storage(rt, obj),
            opts,
            subresource=subresource,
            fm=self.field_manager(rt, subresource),
            managed_fields=managed_fields,
        )

    async def finalize(
        self, rt: ResourceType, name: str, body: dict[str, Any], opts: WriteOptions
    ) -> WriteResult:
        """PUT namespaces/NAME/finalize: sets spec.finalizers and nothing else."""
        self.check_type(rt, body)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        if meta.get("name") != name:
            raise StatusError.bad_request(
                f"the name of the object ({meta.get('name') or ''}) does not match the name on"
                f" the URL ({name})"
            )
        spec = body.get("spec") or {}
        finalizers = spec.get("finalizers") if isinstance(spec, dict) else None
        causes = validate_finalizer_names(finalizers, "spec.finalizers")
        if causes:
            raise StatusError.invalid(rt.kind, name, causes, group=rt.group)
        current = self.get(rt, "", name)
        rv = meta.get("resourceVersion") or ""
        if rv and rv != str(current.rev):
            raise StatusError.stale(rt.plural, name, group=rt.group)
        return await self.write_subresource(rt, current, body, opts, subresource="finalize")

    def render_obj(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        """A deep copy with kind/apiVersion of the requested version, as clients see it."""
        obj = from_storage(rt, orjson.loads(orjson.dumps(stored)))
        out = {"kind": rt.kind, "apiVersion": rt.api_version}
        out.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        return out

    # --- delete --------------------------------------------------------------------------
    async def delete(
        self, rt: ResourceType, namespace: str, name: str, opts: DeleteOptions
    ) -> WriteResult:
        return await deletion.delete(self, rt, namespace, name, opts)

    # --- plain store access for built-in controllers -------------------------------------
    async def create_system(self, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> None:
        """Create an object on the server's own behalf, ignoring AlreadyExists."""
        try:
            await self.create(rt, namespace, obj, WriteOptions(field_validation="Ignore"))
        except StatusError as exc:
            if exc.reason != "AlreadyExists":
                raise

    async def remove(self, key: str, rev: int) -> KeyValue | None:
        try:
            return await self.store.delete(key, expected_rev=rev)
        except (Conflict, KeyNotFound):
            return None

    @staticmethod
    def now() -> str:
        return now_rfc3339()
