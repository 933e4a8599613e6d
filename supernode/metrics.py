"""Prometheus metrics of the supernode, named as Dragonfly 1.x names them (prefix ``dragonfly_``).

One :class:`SupernodeMetrics` per app, on its own CollectorRegistry, so two supernodes can
live in one process. Our additions carry a comment.
"""
from __future__ import annotations

import platform
import sys
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

NS = "dragonfly"
SN = "supernode"
VERSION = "0.1.0"
MAX_VERSION_LABELS = 8


class _PeersCollector(Collector):
    """``dragonfly_supernode_peers{peer=<ip>}``: the peers registered now per address."""

    def __init__(self, counts: dict[str, int]):
        self._counts = counts

    def describe(self):
        return [GaugeMetricFamily(f"{NS}_{SN}_peers", "registered peers", labels=["peer"])]

    def collect(self):
        family = GaugeMetricFamily(f"{NS}_{SN}_peers", "registered peers", labels=["peer"])
        for ip, n in list(self._counts.items()):
            family.add_metric([ip], n)
        yield family


class SupernodeMetrics:
    def __init__(self):
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.build_info = Gauge("build_info", "build information", ["version", "revision", "goversion", "arch", "os"],
                                namespace=NS, subsystem=SN, registry=r)
        self.build_info.labels(VERSION, "", "python" + sys.version.split()[0], platform.machine(), sys.platform).set(1)
        self.http_requests = Counter("http_requests", "HTTP requests", ["code", "handler"], namespace=NS, subsystem=SN, registry=r)
        self.http_duration = Histogram("http_request_duration_seconds", "HTTP request latency", ["handler"],
                                       buckets=(.01, .05, .1, .5, 1, 2, 5, 10, 30, 60, 120), namespace=NS, subsystem=SN, registry=r)
        self.http_request_size = Histogram("http_request_size_bytes", "HTTP request size", ["handler"],
                                           buckets=(100, 1000, 10000, 100000, 1000000), namespace=NS, subsystem=SN, registry=r)
        self.http_response_size = Histogram("http_response_size_bytes", "HTTP response size", ["handler"],
                                            buckets=(100, 1000, 10000, 100000, 1000000), namespace=NS, subsystem=SN, registry=r)
        # Dragonfly's gauge peers{peer=ip}, made at scrape time from the peer registry's count per address
        # (``peer_counts``, kept by PeerRegistry): no gauge child per address is kept between scrapes
        self.peer_counts: dict[str, int] = {}
        r.register(_PeersCollector(self.peer_counts))
        self.tasks = Gauge("tasks", "tasks by cdn status", ["cdnstatus"], namespace=NS, subsystem=SN, registry=r)
        self.tasks_registered = Counter("tasks_registered", "tasks registered", namespace=NS, subsystem=SN, registry=r)
        self.dfgettasks = Gauge("dfgettasks", "dfget tasks", ["callsystem", "status"], namespace=NS, subsystem=SN, registry=r)
        self.dfgettasks_registered = Counter("dfgettasks_registered", "dfget tasks registered", ["callsystem"],
                                             namespace=NS, subsystem=SN, registry=r)
        self.dfgettasks_failed = Counter("dfgettasks_failed", "dfget tasks failed", ["callsystem"], namespace=NS, subsystem=SN, registry=r)
        # Dragonfly's name and label; the label is left empty (one series for the supernode): a histogram per
        # peer address is about 2 KiB a peer and an observation per call costs a child look-up
        self.schedule_duration = Histogram("schedule_duration_milliseconds", "time to schedule pieces", ["peer"],
                                           buckets=(1, 5, 10, 50, 100, 500, 1000), namespace=NS, subsystem=SN, registry=r)
        self.schedule_observe = self.schedule_duration.labels("").observe
        self.cdn_trigger = Counter("cdn_trigger", "cdn triggers", namespace=NS, subsystem=SN, registry=r)
        self.cdn_trigger_failed = Counter("cdn_trigger_failed", "failed cdn triggers", namespace=NS, subsystem=SN, registry=r)
        self.cdn_cache_hit = Counter("cdn_cache_hit", "cdn cache hits", namespace=NS, subsystem=SN, registry=r)
        self.cdn_download = Counter("cdn_download", "cdn back-to-source downloads", namespace=NS, subsystem=SN, registry=r)
        self.cdn_download_failed = Counter("cdn_download_failed", "failed cdn downloads", namespace=NS, subsystem=SN, registry=r)
        self.cdn_download_size = Counter("cdn_download_size_bytes", "bytes fetched from sources", namespace=NS, subsystem=SN, registry=r)
        self.pieces_downloaded_size = Counter("pieces_downloaded_size_bytes", "bytes of pieces peers took from the supernode",
                                              namespace=NS, subsystem=SN, registry=r)
        # ours: pieces reported written, by where they came from (supernode or peer)
        self.pull_replies = Counter("pull_replies", "/peer/task replies by result code (601 pieces, 602 wait, ...)",
                                    ["code"], namespace=NS, subsystem=SN, registry=r)
        self.pieces_reported = Counter("pieces_reported", "pieces reported by peers, by source kind", ["source"],
                                       namespace=NS, subsystem=SN, registry=r)
        # ours: pieces one peer took from another, by the dfget version each registered with
        self.peer_pieces = Counter("peer_pieces", "pieces a peer reported taken from another peer, by the "
                                   "registered dfget version of the serving and the taking peer",
                                   ["from_version", "to_version"], namespace=NS, subsystem=SN, registry=r)
        # ours: URLs the fetch policy refused (task sources, preheat registries, token realms), by rule
        self.fetch_refused = Counter("fetch_refused", "fetches refused by the fetch policy (fetch.allow/deny)",
                                     ["reason"], namespace=NS, subsystem=SN, registry=r)
        # ours: webhook deliveries refused for their Authorization (nothing of them is queued)
        self.webhook_refused = Counter("webhook_refused", "webhook deliveries refused (missing or wrong "
                                       "Authorization)", ["receiver", "reason"], namespace=NS, subsystem=SN, registry=r)
        # ours: requests refused by a limit (header_size, head_timeout, source_downloads, preheat_queue)
        self.limit_refused = Counter("limit_refused", "requests refused by a size, time or concurrency limit",
                                     ["limit"], namespace=NS, subsystem=SN, registry=r)
        # ours: event sink plug-ins that raised on an image event (webhooks.sinks)
        self.event_sink_errors = Counter("event_sink_errors", "image events an event sink plug-in failed to take",
                                         ["sink"], namespace=NS, subsystem=SN, registry=r)
        # ours: registrations refused before any piece (reason piece_tokens: a Dragonfly 1.x peer, auth on)
        self.peers_refused = Counter("peers_refused", "peer registrations refused", ["reason"], namespace=NS,
                                     subsystem=SN, registry=r)
        self._version_labels: set[str] = set()
        self._children: dict[tuple, object] = {}
        self._version_lock = threading.Lock()
        # ours: bytes served by the piece server on the download port
        self.piece_server_bytes = Counter("piece_server_bytes", "bytes sent by the piece server", namespace=NS, subsystem=SN, registry=r)
        self.gc_peers = Counter("gc_peers", "peers collected", namespace=NS, subsystem=SN, registry=r)
        self.gc_tasks = Counter("gc_tasks", "tasks collected", namespace=NS, subsystem=SN, registry=r)
        self.gc_disks = Counter("gc_disks", "disk gc runs", namespace=NS, subsystem=SN, registry=r)
        self.last_gc_disks = Gauge("last_gc_disks_timestamp_seconds", "time of the last disk gc", namespace=NS, subsystem=SN, registry=r)
        # reports posted by dfget to /task/metrics
        self.dfget_duration = Histogram("download_duration_seconds", "dfget download duration", ["callsystem", "peer"],
                                        namespace=NS, subsystem="dfget", registry=r)
        self.dfget_size = Counter("download_size_bytes", "dfget downloaded bytes", ["callsystem", "peer"],
                                  namespace=NS, subsystem="dfget", registry=r)
        self.dfget_total = Counter("download", "dfget downloads", ["callsystem", "peer"], namespace=NS, subsystem="dfget", registry=r)
        self.dfget_failed = Counter("download_failed", "dfget failed downloads", ["callsystem", "peer", "reason"],
                                    namespace=NS, subsystem="dfget", registry=r)

    def child(self, metric, *values):
        """``metric.labels(*values)`` remembered per value tuple (for labels of a small, fixed set of values:
        result codes, handlers), without prometheus_client's per-call label checks on the request path."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def version_label(self, version: str) -> str:
        """A registered dfget version as a label value: the first MAX_VERSION_LABELS distinct versions keep
        their name, later ones count as ``other`` (the version is client input), none is ``unknown``."""
        if not version:
            return "unknown"
        with self._version_lock:
            if version in self._version_labels:
                return version
            if len(self._version_labels) < MAX_VERSION_LABELS:
                self._version_labels.add(version)
                return version
        return "other"

    def render(self) -> bytes:
        return generate_latest(self.registry)
