"""strom: a Kubernetes-compatible API server built around watch."""

__version__ = "0.1.0"
