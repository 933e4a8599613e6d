"""One member of the cluster: its Redis client, key names, leases and membership, built by the composition
root (``supernode.services.build_services``) when the config has ``cluster.redis_url``."""
from __future__ import annotations

import logging

from .config import safe_url
from .keys import Keys
from .leases import Leases
from .membership import Membership
from .metrics import ClusterMetrics
from .outage import OutageLog
from .redis_conn import connect
from .round_trips import RoundTrips

log = logging.getLogger(__name__)


class ClusterNode:
    def __init__(self, config, registry, client=None):
        conf = config.cluster
        self.conf = conf
        self.redis = client if client is not None else connect(conf)
        host = conf.advertise or config.advertise_ip
        self.member_id = conf.member_id or f"{host}:{config.port}"
        scheme = "https" if getattr(getattr(config, "auth", None), "tls_cert", "") else "http"
        self.info = {"api": f"{host}:{config.port}", "pieces": f"{host}:{config.download_port}", "scheme": scheme}
        self.keys = Keys(conf.key_prefix)
        self.metrics = ClusterMetrics(registry)
        self.round_trips = RoundTrips(registry)
        self.round_trips.install(self.redis)
        self.outage = OutageLog(max(10.0, conf.member_ttl))
        self.leases = Leases(self.redis, self.keys, self.member_id, conf.lease_ttl, self.metrics)
        self.membership = Membership(self.redis, self.keys, self.member_id, self.info, conf, self.leases,
                                     metrics=self.metrics, outage=self.outage)
        self.runners: list = []                 # other threads of the member (start() / stop()), e.g. signals
        log.info("cluster member=%s redis=%s", self.member_id, safe_url(conf.redis_url))

    def set_load(self, load) -> None:
        self.membership.load = load

    def start(self) -> None:
        self.membership.start()
        for runner in self.runners:
            runner.start()

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        self.membership.stop()


def cluster_of(services) -> ClusterNode | None:
    return services.extras.get("cluster")
