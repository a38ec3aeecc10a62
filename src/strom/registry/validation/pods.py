"""Pod specs: the rules of pkg/apis/core/validation that Pods and pod templates share.

Validation in kube runs after defaulting, so an absent defaulted field (restartPolicy,
dnsPolicy, a port's protocol, terminationMessagePolicy...) is taken to be its default here
rather than reported missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strom.errors import Cause

from . import fielderrors as fe
from .formats import (
    inclusive_range_error,
    is_dns1123_label,
    is_relaxed_env_var_name,
    is_valid_port_name,
    is_valid_port_num,
)
from .meta import (
    as_list,
    as_map,
    name_is_dns_subdomain,
    normalized,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
    validate_template_meta,
)

__all__ = [
    "POD_UPDATE_FORBIDDEN",
    "validate_pod",
    "validate_pod_spec",
    "validate_pod_template",
    "validate_pod_update",
]

MAX_INT32 = 2**31 - 1
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only"
    " additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be"
    " set to 1 if it was previously negative)"
)


def _enum(path: str, value: Any, supported: tuple[str, ...]) -> list[Cause]:
    """An enum field: absent means defaulted; empty string is missing; else one of `supported`."""
    if value is None:
        return []
    if value == "":
        return [fe.required(path)]
    return [] if value in supported else [fe.not_supported(path, value, supported)]


def _validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    names: set[str] = set()
    causes: list[Cause] = []
    for index, volume in enumerate(as_list(volumes)):
        volume = as_map(volume)
        item = f"{path}[{index}]"
        errs: list[Cause] = []
        if not [k for k in volume if k != "name"]:
            errs.append(fe.required(item, "must specify a volume type"))
        name = str(volume.get("name") or "")
        if not name:
            errs.append(fe.required(f"{item}.name"))
        else:
            errs += [fe.invalid(f"{item}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(fe.duplicate(f"{item}.name", name))
        if not errs:
            names.add(name)
        causes += errs
    return names, causes


def _validate_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for index, port in enumerate(as_list(ports)):
        port = as_map(port)
        item = f"{path}[{index}]"
        name = str(port.get("name") or "")
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                causes += [fe.invalid(f"{item}.name", name, m) for m in msgs]
            elif name in names:
                causes.append(fe.duplicate(f"{item}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            causes.append(fe.required(f"{item}.containerPort"))
        elif isinstance(container_port, int):
            causes += [
                fe.invalid(f"{item}.containerPort", container_port, m)
                for m in is_valid_port_num(container_port)
            ]
        host_port = port.get("hostPort") or 0
        if isinstance(host_port, int) and host_port != 0:
            causes += [
                fe.invalid(f"{item}.hostPort", host_port, m) for m in is_valid_port_num(host_port)
            ]
        causes += _enum(f"{item}.protocol", port.get("protocol"), _PROTOCOLS)
    return causes


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for index, var in enumerate(as_list(env)):
        name = str(as_map(var).get("name") or "")
        item = f"{path}[{index}].name"
        if not name:
            causes.append(fe.required(item))
        else:
            causes += [fe.invalid(item, name, m) for m in is_relaxed_env_var_name(name)]
    return causes


def _validate_container(container: Mapping[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    name = str(container.get("name") or "")
    if not name:
        causes.append(fe.required(f"{path}.name"))
    else:
        causes += [fe.invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    if not container.get("image"):
        causes.append(fe.required(f"{path}.image"))
    causes += _enum(
        f"{path}.terminationMessagePolicy",
        container.get("terminationMessagePolicy"),
        _TERMINATION_MESSAGE_POLICIES,
    )
    causes += _validate_ports(container.get("ports"), f"{path}.ports")
    causes += _validate_env(container.get("env"), f"{path}.env")
    for index, mount in enumerate(as_list(container.get("volumeMounts"))):
        mount_name = str(as_map(mount).get("name") or "")
        item = f"{path}.volumeMounts[{index}]"
        if not mount_name:
            causes.append(fe.required(f"{item}.name"))
        elif mount_name not in volumes:
            causes.append(
                Cause("FieldValueNotFound", f"Not found: {fe.go_quote(mount_name)}", f"{item}.name")
            )
        if not as_map(mount).get("mountPath"):
            causes.append(fe.required(f"{item}.mountPath"))
    causes += _enum(f"{path}.imagePullPolicy", container.get("imagePullPolicy"), _PULL_POLICIES)
    return causes


def _validate_containers(spec: Mapping[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    containers = as_list(spec.get("containers"))
    if not containers:
        causes.append(fe.required(f"{path}.containers"))
    names: set[str] = set()
    host_ports: set[str] = set()
    for field_name in ("containers", "initContainers"):
        for index, container in enumerate(as_list(spec.get(field_name))):
            container = as_map(container)
            item = f"{path}.{field_name}[{index}]"
            causes += _validate_container(container, item, volumes)
            name = str(container.get("name") or "")
            if name in names:
                causes.append(fe.duplicate(f"{item}.name", name))
            else:
                names.add(name)
            causes += _host_port_conflicts(container, item, host_ports)
    return causes


def _host_port_conflicts(container: Mapping[str, Any], path: str, seen: set[str]) -> list[Cause]:
    """AccumulateUniqueHostPorts: a hostPort/protocol pair is claimed once per pod."""
    causes: list[Cause] = []
    for index, port in enumerate(as_list(container.get("ports"))):
        port = as_map(port)
        host_port = port.get("hostPort") or 0
        if not host_port:
            continue
        key = f"{host_port}/{port.get('protocol') or 'TCP'}"
        if key in seen:
            causes.append(fe.duplicate(f"{path}.ports[{index}].hostPort", key))
        seen.add(key)
    return causes


def validate_pod_spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    """ValidatePodSpec, in kube's order, for the fields strom checks."""
    volumes, causes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    causes += _validate_containers(spec, path, volumes)
    causes += _enum(f"{path}.restartPolicy", spec.get("restartPolicy"), _RESTART_POLICIES)
    causes += _enum(f"{path}.dnsPolicy", spec.get("dnsPolicy"), _DNS_POLICIES)
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for key in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            causes += [
                fe.invalid(f"{path}.{key}", value, m) for m in name_is_dns_subdomain(value, False)
            ]
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and not 1 <= deadline <= MAX_INT32:
        causes.append(
            fe.invalid(
                f"{path}.activeDeadlineSeconds", deadline, inclusive_range_error(1, MAX_INT32)
            )
        )
    for key in ("hostname", "subdomain"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            causes += [fe.invalid(f"{path}.{key}", value, m) for m in is_dns1123_label(value)]
    return causes


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: template metadata plus the pod spec."""
    template = as_map(template)
    causes = validate_template_meta(as_map(template.get("metadata")), f"{path}.metadata")
    return causes + validate_pod_spec(as_map(template.get("spec")), f"{path}.spec")


def validate_pod(obj: Mapping[str, Any]) -> list[Cause]:
    causes = validate_object_meta(
        as_map(obj.get("metadata")), namespaced=True, name_fn=name_is_dns_subdomain
    )
    return causes + validate_pod_spec(as_map(obj.get("spec")), "spec")


def validate_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations may change."""
    causes = validate_object_meta_update(as_map(new.get("metadata")), as_map(old.get("metadata")))
    causes += validate_pod_spec(as_map(new.get("spec")), "spec")
    new_spec, old_spec = as_map(new.get("spec")), as_map(old.get("spec"))
    deadline_causes = _deadline_update(new_spec, old_spec)
    if deadline_causes:
        return causes + deadline_causes
    munged = _munge_allowed_changes(new_spec, old_spec)
    if normalized(munged) != normalized(dict(old_spec)):
        causes.append(
            fe.forbidden("spec", POD_UPDATE_FORBIDDEN + "\n" + _spec_diff(old_spec, munged))
        )
    return causes


def _deadline_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    path = "spec.activeDeadlineSeconds"
    new_value, old_value = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if isinstance(new_value, int):
        if not 0 <= new_value <= MAX_INT32:
            return [fe.invalid(path, new_value, inclusive_range_error(0, MAX_INT32))]
        if isinstance(old_value, int) and old_value < new_value:
            return [fe.invalid(path, new_value, "must be less than or equal to previous value")]
    elif old_value is not None:
        return [fe.invalid(path, None, "must not update from a positive integer to nil value")]
    return []


def _munge_allowed_changes(new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """The new spec with every permitted change reverted to the old value."""
    munged = dict(new)
    for key in ("containers", "initContainers"):
        new_list, old_list = as_list(new.get(key)), as_list(old.get(key))
        if len(new_list) == len(old_list):
            munged[key] = [
                {**as_map(n), "image": as_map(o).get("image")}
                for n, o in zip(new_list, old_list, strict=True)
            ]
    munged["activeDeadlineSeconds"] = old.get("activeDeadlineSeconds")
    old_tolerations = as_list(old.get("tolerations"))
    new_tolerations = as_list(new.get("tolerations"))
    if all(t in new_tolerations for t in old_tolerations):
        munged["tolerations"] = old_tolerations
    old_gates = as_list(old.get("schedulingGates"))
    if all(g in old_gates for g in as_list(new.get("schedulingGates"))):
        munged["schedulingGates"] = old_gates  # removing scheduling gates is allowed
    old_grace, new_grace = (
        old.get("terminationGracePeriodSeconds"),
        new.get("terminationGracePeriodSeconds"),
    )
    if isinstance(old_grace, int) and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _go_field(key: str) -> str:
    return key[:1].upper() + key[1:]


def _spec_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """A cmp.Diff-shaped summary of what changed (kube's exact diff text is not stable)."""
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        before, after = normalized(old.get(key)), normalized(new.get(key))
        if before == after:
            continue
        if before is not None:
            lines.append(f"- \t{_go_field(key)}: {fe.go_value(before)},")
        if after is not None:
            lines.append(f"+ \t{_go_field(key)}: {fe.go_value(after)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


_EPHEMERAL_FORBIDDEN = (
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "resizePolicy",
    "restartPolicy",
)


def validate_ephemeral_containers_update(
    new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    """ValidatePodEphemeralContainersUpdate: ephemeral containers may be added, never changed
    or removed, and may not declare what an ephemeral container cannot have."""
    causes = validate_object_meta_update(as_map(new.get("metadata")), as_map(old.get("metadata")))
    new_spec, old_spec = as_map(new.get("spec")), as_map(old.get("spec"))
    new_list = [as_map(c) for c in as_list(new_spec.get("ephemeralContainers"))]
    old_list = [as_map(c) for c in as_list(old_spec.get("ephemeralContainers"))]
    by_name = {str(c.get("name")): (i, c) for i, c in enumerate(new_list)}
    for container in old_list:
        name = str(container.get("name"))
        found = by_name.get(name)
        if found is None:
            causes.append(
                fe.forbidden(
                    "spec.ephemeralContainers",
                    f'existing ephemeral containers "{name}" may not be removed',
                )
            )
        elif normalized(dict(found[1])) != normalized(dict(container)):
            causes.append(
                fe.forbidden(
                    f"spec.ephemeralContainers[{found[0]}]",
                    f'existing ephemeral containers "{name}" may not be changed',
                )
            )
    regular = {
        str(as_map(c).get("name"))
        for key in ("containers", "initContainers")
        for c in as_list(old_spec.get(key))
    }
    old_names = {str(c.get("name")) for c in old_list}
    seen: set[str] = set()
    for index, container in enumerate(new_list):
        path = f"spec.ephemeralContainers[{index}]"
        name = str(container.get("name") or "")
        if not name:
            causes.append(fe.required(f"{path}.name"))
        elif name in regular or name in seen:
            causes.append(
                Cause("FieldValueDuplicate", f'Duplicate value: "{name}"', f"{path}.name")
            )
        seen.add(name)
        if name in old_names:
            continue
        if not container.get("image"):
            causes.append(fe.required(f"{path}.image"))
        for field in _EPHEMERAL_FORBIDDEN:
            if container.get(field):
                causes.append(
                    fe.forbidden(f"{path}.{field}", "cannot be set for an Ephemeral Container")
                )
        resources = as_map(container.get("resources"))
        if any(resources.get(k) for k in ("limits", "requests", "claims")):
            causes.append(
                fe.forbidden(f"{path}.resources", "cannot be set for an Ephemeral Container")
            )
        target = container.get("targetContainerName")
        if target and target not in regular:
            causes.append(
                Cause("FieldValueNotFound", f'Not found: "{target}"', f"{path}.targetContainerName")
            )
    return causes
