"""In-process controllers: what kube-controller-manager would do for a cluster that has none
(ClusterRole aggregation, ServiceAccount token Secrets), fed by the store's change feed."""
