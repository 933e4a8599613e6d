"""Wire cluster mode into a supernode's services (called by ``build_services`` when ``cluster.redis_url`` is
set): the member node (membership, leases) on ``services.extras["cluster"]``."""
from __future__ import annotations

from .node import ClusterNode


def install_cluster(services, client=None) -> ClusterNode:
    node = ClusterNode(services.config, services.metrics.registry, client)
    services.extras["cluster"] = node
    node.set_load(lambda: _load(services, node))
    return node


def _load(services, node: ClusterNode) -> dict:
    """What this member's heartbeat says about it: its local counts and the tasks whose CDN it runs."""
    st = services.state
    return {"load": {"tasks": len(st.tasks.ids()), "peers": len(st.peers), "dfgetTasks": len(st.dfget_tasks.list())},
            "tasks": [name.split(":", 1)[1] for name in node.leases.held() if name.startswith("cdn:")]}
