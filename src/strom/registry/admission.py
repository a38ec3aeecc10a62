"""Admission that changes objects: the ServiceAccount plugin's token volume for pods.

kube-apiserver's ServiceAccount admission gives every pod that automounts its token a
projected volume `kube-api-access-<suffix>` (a bound token, the cluster CA from the
`kube-root-ca.crt` ConfigMap, and the namespace) mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in each container. Operators that compare pod
specs, or read the mount path, see the same on strom.
"""

from __future__ import annotations

from typing import Any

from strom.registry.meta import generate_name

__all__ = ["add_service_account_volume"]

_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_TOKEN_SECONDS = 3607  # kube's default bound-token lifetime (an hour + 7 s of skew)


def _automounts(spec: dict[str, Any], service_account: dict[str, Any]) -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    return service_account.get("automountServiceAccountToken") is not False


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers")
        for c in spec.get(key) or ()
        if isinstance(c, dict)
    ]


def add_service_account_volume(pod: dict[str, Any], service_account: dict[str, Any]) -> None:
    """Add the token volume and mounts in place, as the admission plugin does on create."""
    spec = pod.get("spec")
    if not isinstance(spec, dict) or not _automounts(spec, service_account):
        return
    containers = _containers(spec)
    if any(
        m.get("mountPath") == _MOUNT_PATH for c in containers for m in c.get("volumeMounts") or ()
    ):
        return  # the pod mounts something there itself
    name = generate_name("kube-api-access-")
    volume = {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": _TOKEN_SECONDS, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }
    spec["volumes"] = [*(spec.get("volumes") or []), volume]
    mount = {"name": name, "readOnly": True, "mountPath": _MOUNT_PATH}
    for container in containers:
        container["volumeMounts"] = [*(container.get("volumeMounts") or []), dict(mount)]
