"""Cluster mode: several supernodes sharing their scheduler state in Redis (docs/cluster.md)."""
from .config import ClusterConfig, validate_cluster
from .node import ClusterNode, cluster_of

__all__ = ["ClusterConfig", "validate_cluster", "ClusterNode", "cluster_of"]
