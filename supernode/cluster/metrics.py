"""Cluster metrics, on the supernode's own registry."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

NS, SN = "dragonfly", "supernode"


class ClusterMetrics:
    def __init__(self, registry):
        self.members = Gauge("cluster_members", "live members of the supernode cluster, as this member sees them",
                             namespace=NS, subsystem=SN, registry=registry)
        self.lease_takeovers = Counter("cluster_lease_takeovers", "CDN leases this member took after the holder's "
                                       "lease expired", namespace=NS, subsystem=SN, registry=registry)
        self.cross_member_bytes = Counter("cluster_cross_member_piece_bytes", "piece bytes this member's piece "
                                          "server fetched from another member's piece server",
                                          namespace=NS, subsystem=SN, registry=registry)
        self.cross_member_peer_pieces = Counter(
            "cluster_cross_member_peer_pieces", "pieces reported to this member whose serving peer and taking peer "
            "registered with different members", namespace=NS, subsystem=SN, registry=registry)
        self.redis_errors = Counter("cluster_redis_errors", "calls that failed because Redis was unreachable",
                                    namespace=NS, subsystem=SN, registry=registry)
