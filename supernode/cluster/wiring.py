"""Wire cluster mode into a supernode's services (called by ``build_services`` when ``cluster.redis_url`` is
set): the member node (membership, leases) on ``services.extras["cluster"]``, the scheduler store in Redis,
the shared task/peer records around the task manager, the CDN lease and the CDN listener that publishes the
outcome. ``wrap_piece_server`` puts the relay to other members in front of the piece server."""
from __future__ import annotations

from supernode.scheduler import CdnEvents

from .budgets import SharedTokenBucket, SourceDownloadBudget
from .cdn import ClusterCdn, ClusterCdnEvents
from .holder_address import HolderAddresses
from .manager import ClusterTaskManager
from .node import ClusterNode, cluster_of
from .pieces import PieceRelay
from .records import SharedRecords
from .shared_gc import SharedGc, run_safely
from .signals import ClusterSignals
from .store import RedisSchedulerStore
from .takeover import TakeOver


def install_cluster(services, client=None) -> ClusterNode:
    node = ClusterNode(services.config, services.metrics.registry, client)
    services.extras["cluster"] = node
    st = services.state
    store = RedisSchedulerStore(node.redis, node.keys)
    store.on_miss = node.round_trips.snapshot_misses.inc
    st.progress = services.scheduler.progress = store
    st.signals = ClusterSignals(node.redis, node.keys, node.member_id, node.outage)     # held 602s, cluster-wide
    node.runners.append(st.signals)
    records = SharedRecords(node.redis, node.keys, st, node.member_id)
    cdn = ClusterCdn(services.cdn, node, records, SourceDownloadBudget(
        node.redis, node.keys, services.config.max_source_downloads, node.conf.lease_ttl, node.outage))
    _share_bandwidth(services.config, cdn.inner, node)
    services.cdn = cdn
    services.piece_errors.cdn = cdn
    node.holders = HolderAddresses(cdn, records, node)
    services.manager = ClusterTaskManager(services.config, st, services.scheduler, cdn, services.piece_errors,
                                          records, node)
    cdn.inner.set_listener(ClusterCdnEvents(CdnEvents(st), st, node, records, cdn))
    node.records, node.cdn = records, cdn
    node.takeover = TakeOver(node, records, cdn, st)
    node.membership.after_beat.append(node.takeover.check)      # resume fetches whose holder is gone
    node.membership.after_beat.append(cdn.renew_budget)         # this member's fetches stay counted
    node.gc = SharedGc(node, store, records, services.config.task_expire_time, services.config.gc_meta_interval,
                       policy_store=lambda: _policy_store(services),
                       take_over_firings=lambda live: _take_over_firings(services, live))
    node.membership.after_beat.append(lambda: run_safely(node.gc, node.outage))    # what gone members left
    node.set_load(lambda: _load(services, node))
    return node


def _policy_store(services):
    """The policy store, once the policy service built it (runs of members that left are failed there)."""
    from supernode.policies.service import EXTRAS_KEY
    svc = services.extras.get(EXTRAS_KEY)
    return svc.store if svc is not None and getattr(svc, "_parts", None) is not None else None


def _take_over_firings(services, live) -> int:
    """Run again the cron firings that members which left did not finish, if this member runs its policies."""
    from supernode.policies.service import EXTRAS_KEY
    svc = services.extras.get(EXTRAS_KEY)
    if svc is None or not svc.started or svc.claims is None:
        return 0
    return svc.run_again(svc.claims.take_over(live), "a member that left the cluster")


def _share_bandwidth(config, cdn_manager, node) -> None:
    """``max_bandwidth - system_bandwidth`` caps the back-to-source reads of the whole cluster: one bucket in
    Redis instead of the member's own."""
    if config.max_bandwidth <= 0:
        return
    bucket = SharedTokenBucket(node.redis, node.keys, "source_bandwidth", config.max_bandwidth -
                               config.system_bandwidth, node.outage, members=lambda: len(node.membership.members()),
                               source="supernode max_bandwidth - system_bandwidth (cluster)")
    cdn_manager.bucket = cdn_manager.ctx.bucket = bucket


def wrap_piece_server(services, piece_app, on_sent=None):
    node = cluster_of(services)
    if node is None:
        return piece_app
    return PieceRelay(piece_app, node.holders, node, on_sent)


def _load(services, node: ClusterNode) -> dict:
    """What this member's heartbeat says about it: its local counts and the tasks whose CDN it runs or ran."""
    st = services.state
    fetching = [name.split(":", 1)[1] for name in node.leases.held() if name.startswith("cdn:")]
    return {"load": {"tasks": len(st.tasks.ids()), "peers": len(st.peers), "dfgetTasks": len(st.dfget_tasks.list()),
                     "cdnFetching": len(fetching)},
            "tasks": sorted(set(fetching) | set(node.cdn.owned()))}
