"""Prometheus metrics of one dfdaemon, on its own registry (two dfdaemons can share a process)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

NS = "dragonfly"
SUB = "dfdaemon"


class DfdaemonMetrics:
    def __init__(self):
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("requests", "HTTP requests by route and status code", ["route", "method", "code"],
                                namespace=NS, subsystem=SUB, registry=r)
        self.registry_requests = Counter("registry_requests", "mirror requests by upstream registry, kind (manifests, "
                                         "blobs, tags) and method", ["registry", "kind", "method"],
                                         namespace=NS, subsystem=SUB, registry=r)
        self.blob_bytes = Counter("blob_bytes", "blob bytes by source: p2p or direct downloads, cache hits",
                                  ["source"], namespace=NS, subsystem=SUB, registry=r)
        self.blob_served = Counter("blob_served_bytes", "blob bytes sent to clients (cache hit or download)",
                                   ["source"], namespace=NS, subsystem=SUB, registry=r)
        self.local_requests = Counter("local_requests", "blob GETs by local outcome: hit (answered from this "
                                      "host's cache) or miss (downloaded, or joined a running download)",
                                      ["result"], namespace=NS, subsystem=SUB, registry=r)
        self.lazy_ranges = Counter("lazy_ranges", "Range requests of cold blobs far ahead of their download, read "
                                   "from the origin at once (lazy pulling)", namespace=NS, subsystem=SUB, registry=r)
        self.clients_refused = Counter("clients_refused", "connections to the mirror/proxy listener refused "
                                       "because the client is not in allowed_clients",
                                       namespace=NS, subsystem=SUB, registry=r)
        self.flight_joins = Counter("singleflight_joins", "blob requests that joined a running download",
                                    namespace=NS, subsystem=SUB, registry=r)
        self.flights = Counter("blob_downloads", "blob downloads started (one per digest at a time)",
                               namespace=NS, subsystem=SUB, registry=r)
        self.flight_failures = Counter("blob_download_failures", "blob downloads that failed or did not verify",
                                       namespace=NS, subsystem=SUB, registry=r)
        self.ratelimit_wait = Counter("ratelimit_wait_seconds", "seconds P2P downloads waited on their rate limit",
                                      namespace=NS, subsystem=SUB, registry=r)
        self.cache_bytes = Gauge("cache_bytes", "bytes held in the verified blob cache", namespace=NS, subsystem=SUB,
                                 registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
