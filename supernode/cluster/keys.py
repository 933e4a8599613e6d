"""Names of the cluster's Redis keys, all under ``<prefix>:`` (docs/cluster.md lists them with their expiry)."""
from __future__ import annotations


class Keys:
    def __init__(self, prefix: str):
        self.p = prefix + ":"

    # membership and leases
    def members(self) -> str:
        return self.p + "members"                       # zset member id -> last heartbeat (Redis time)

    def member(self, member_id: str) -> str:
        return self.p + "member:" + member_id           # JSON record, expires after member_ttl

    def member_leases(self, member_id: str) -> str:
        return self.p + "member:" + member_id + ":leases"     # set of lease names it took

    def lease(self, name: str) -> str:
        return self.p + "lease:" + name                 # holder member id, expires after lease_ttl

    # scheduler store (supernode.cluster.store)
    def task(self, task_id: str, part: str) -> str:
        return f"{self.p}t:{task_id}:{part}"

    def client(self, cid: str, part: str) -> str:
        return f"{self.p}c:{cid}:{part}"

    def peer(self, peer_id: str, part: str = "s") -> str:
        return f"{self.p}p:{peer_id}:{part}"

    def g(self, name: str) -> str:
        return self.p + name                            # cluster-wide sets and hashes
