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
BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class RoundTrips:
    def __init__(self, registry):
        self.total = Counter("cluster_redis_round_trips", "Redis round trips of this member (commands or "
                             "pipelines written to a connection), every caller included",
                             namespace=NS, subsystem=SN, registry=registry)
        self.per_pull = Histogram("cluster_redis_round_trips_per_pull", "Redis round trips made by one "
                                  "/peer/task call", namespace=NS, subsystem=SN, registry=registry, buckets=BUCKETS)
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
        self._local.n = 0
        try:
            yield
        finally:
            self.per_pull.observe(self._local.n)
            self._local.n = None
