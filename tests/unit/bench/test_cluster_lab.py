"""What the cluster benchmark reads from a member: the round trips per /peer/task call out of the exposition the
member's own RoundTrips metrics produce, and the peak RSS of a live or gone process."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from prometheus_client import CollectorRegistry, generate_latest

from bench.cluster_lab import peak_rss_bytes, round_trips_per_pull
from bench.dist_cluster import metric
from supernode.cluster.round_trips import RoundTrips


def _exposition(calls: list[int], outside: int) -> str:
    registry = CollectorRegistry()
    trips = RoundTrips(registry)
    for n in calls:
        with trips.pull_call():
            for _ in range(n):
                trips._count()
    for _ in range(outside):              # heartbeats and other work between the calls
        trips._count()
    return generate_latest(registry).decode()


def test_mean_round_trips_per_call_is_the_histogram_sum_over_its_count():
    text = _exposition([2, 5, 0, 9], outside=40)
    mean, calls = round_trips_per_pull(text)
    assert calls == 4
    assert mean == (2 + 5 + 0 + 9) / 4
    assert metric(text, "dragonfly_supernode_cluster_redis_round_trips_total") == 2 + 5 + 0 + 9 + 40


def test_a_member_that_answered_no_call_has_no_mean():
    assert round_trips_per_pull(_exposition([], outside=3)) == (None, 0)


def test_peak_rss_of_a_live_process_and_of_one_that_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(64 << 20); import time; time.sleep(30)"])
    try:
        rss = peak_rss_bytes(child.pid)
        for _ in range(200):                  # until the child has touched its 64 MiB
            if (rss or 0) >= 64 << 20:
                break
            time.sleep(0.05)
            rss = peak_rss_bytes(child.pid)
        assert rss >= 64 << 20
    finally:
        child.kill()
        child.wait()
    assert peak_rss_bytes(child.pid) is None
    assert peak_rss_bytes(os.getpid()) > 0
