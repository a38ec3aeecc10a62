"""`strom tap`: a TLS-terminating proxy in front of a Kubernetes API server, for debugging.

kubectl (or any client) talks to the tap with a kubeconfig the tap writes; the tap forwards
every request with the upstream kubeconfig's credentials and shows, live and per connection,
what passes: request lines, user agents, statuses, latencies and every watch event decrypted.
The pieces: `upstream` (kubeconfig, TLS, /version probe), `proxy` (the streaming data path),
`http1` (header rewriting), `records` (display, capture, replay), `runner` (start/stop).
"""

from strom.tools.tap.runner import TapConfig, replay, serve
from strom.tools.tap.upstream import TapError

__all__ = ["TapConfig", "TapError", "replay", "serve"]
