"""Counting the member's Redis round trips: one per command or pipeline written to a connection (a pipeline's
commands go out in one write and come back in one exchange), in total and per ``/peer/task`` call.

The count is kept per request context (``threading.local``: a greenlet under gevent), so a call's figure is
the round trips made while it ran in its own greenlet; work a call hands to another thread is not in it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

NS, SN = "dragonfly", "supernode"
BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 48, 64, 96, 128, 256)    # one per count up to 8: exact quantiles there


class RoundTrips:
    def __init__(self, registry):
        self.total = Counter("cluster_redis_round_trips", "Redis round trips of this member (commands or "
                             "pipelines written to a connection), every caller included",
                             namespace=NS, subsystem=SN, registry=registry)
        self.per_pull = Histogram("cluster_redis_round_trips_per_pull", "Redis round trips made by one "
                                  "/peer/task call", namespace=NS, subsystem=SN, registry=registry, buckets=BUCKETS)
        self.per_call = Histogram("cluster_redis_round_trips_per_call", "Redis round trips made by one call of "
                                  "the peer API, by call (a /peer/task call by its reply code)", ["call"],
                                  namespace=NS, subsystem=SN, registry=registry, buckets=BUCKETS)
        self.snapshot_misses = Counter("cluster_snapshot_misses", "Reads a call's snapshot of the scheduler store "
                                       "did not hold and made live (one round trip each)", namespace=NS,
                                       subsystem=SN, registry=registry)
        self._local = threading.local()

    def install(self, client) -> None:
        """Count every write of ``client``'s connections (its pool makes them from a subclass that counts)."""
        pool = client.connection_pool
        base = pool.connection_class
        counter = self

        class CountingConnection(base):
            def send_packed_command(self, command, check_health=True):
                counter._count()
                return super().send_packed_command(command, check_health)

        CountingConnection.__name__ = f"Counting{base.__name__}"
        pool.connection_class = CountingConnection
        pool.disconnect()          # connections made before (the start-up check) are replaced by counting ones

    def _count(self) -> None:
        self.total.inc()
        n = getattr(self._local, "n", None)
        if n is not None:
            self._local.n = n + 1

    @contextmanager
    def pull_call(self):
        """Observe the round trips made inside the block as one ``/peer/task`` call."""
        with self.call("/peer/task") as box:
            yield box

    @contextmanager
    def call(self, name: str):
        """Observe the round trips made inside the block as one call ``name`` of the peer API (in
        ``per_call``; a ``/peer/task`` call in ``per_pull`` too). The block may name the call more closely by
        setting ``box["call"]`` (a /peer/task call: its reply code)."""
        self._local.n = 0
        box = {"call": name}
        try:
            yield box
        finally:
            n, self._local.n = self._local.n, None
            self.per_call.labels(box["call"]).observe(n)
            if name == "/peer/task":
                self.per_pull.observe(n)
