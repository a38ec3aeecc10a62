"""A tiny kopf operator: mirrors each EchoWidget's spec.message into a ConfigMap.

Run by tests/integration/test_kopf.py with `kopf run --standalone` against a strom server.
"""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "strom.example.com", "v1", "echowidgets"


def _core() -> kubernetes.client.CoreV1Api:
    kubernetes.config.load_kube_config()
    return kubernetes.client.CoreV1Api()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 10
    settings.watching.client_timeout = 15
    settings.posting.enabled = True


@kopf.on.create(GROUP, VERSION, PLURAL)
def created(spec: Any, name: str, namespace: str, **_: Any) -> dict[str, str]:
    _core().create_namespaced_config_map(
        namespace,
        {"metadata": {"name": f"echo-{name}"}, "data": {"message": spec.get("message", "")}},
    )
    return {"echoed": spec.get("message", "")}


@kopf.on.update(GROUP, VERSION, PLURAL)
def updated(spec: Any, name: str, namespace: str, **_: Any) -> dict[str, str]:
    _core().patch_namespaced_config_map(
        f"echo-{name}", namespace, {"data": {"message": spec.get("message", "")}}
    )
    return {"echoed": spec.get("message", "")}


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(name: str, namespace: str, **_: Any) -> None:
    _core().delete_namespaced_config_map(f"echo-{name}", namespace)
