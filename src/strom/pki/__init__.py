"""Cluster PKI (CA, serving and client certs), kubeconfig writing and TLS contexts."""

from strom.pki.certs import PKIError, PKIPaths, ensure_pki, issue_client_cert
from strom.pki.kubeconfig import write_kubeconfig
from strom.pki.tls import client_ssl_context, server_ssl_context

__all__ = [
    "PKIError",
    "PKIPaths",
    "client_ssl_context",
    "ensure_pki",
    "issue_client_cert",
    "server_ssl_context",
    "write_kubeconfig",
]
