"""strom.client: a reflector-grade watch client for any Kubernetes API server.

    async for event in strom.client.watch("deploy", namespace="default"):
        print(event.type, event.key, event.resource_version)

`watch()` reads kubeconfig like kubectl, resolves the resource name through discovery like
kubectl, lists, then watches and keeps watching across dropped connections and 410s (see
`strom.client.watch` for the exact semantics).  `strom watch` is a thin CLI over it.
"""

from strom.client.discovery import ApiResource, UnknownResourceError
from strom.client.http import ApiError, ConnectError
from strom.client.kubeconfig import ClientConfig, KubeconfigError, load_config
from strom.client.watch import Watch, WatchEvent, watch

__all__ = [
    "ApiError",
    "ApiResource",
    "ClientConfig",
    "ConnectError",
    "KubeconfigError",
    "UnknownResourceError",
    "Watch",
    "WatchEvent",
    "load_config",
    "watch",
]
