"""Limits that hold for the whole cluster (supernode/cluster/budgets.py) with real member processes on a real
redis-server and a real origin: ``max_source_downloads`` counts the back-to-source downloads of every member,
and ``max_bandwidth`` caps the origin reads of all members together."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.cluster_members import register_peer
from tests.fixtures.origin import OriginServer, make_file

MiB = 1 << 20
pytestmark = [pytest.mark.slow]


def test_max_source_downloads_counts_every_members_downloads(cluster_factory, tmp_path, redis_server):
    root = tmp_path / "origin"
    root.mkdir()
    for name in ("one.bin", "two.bin"):
        make_file(str(root / name), 4 * MiB, seed=len(name))
    origin = OriginServer(str(root), rate=1 * MiB).start()            # about 4 s each
    try:
        a = cluster_factory("sn-a", base={"max_source_downloads": 1})
        b = cluster_factory("sn-b", base={"max_source_downloads": 1})
        first = register_peer(a, origin.url("one.bin"), "127.0.0.1-x-1.000")
        assert first.status_code == 200 and first.json()["code"] == 200, first.text
        refused = register_peer(b, origin.url("two.bin"), "127.0.0.1-y-2.000")     # another member, another task
        assert refused.status_code == 503, refused.text
        assert "back-to-source downloads are running in the cluster" in refused.text
        again = register_peer(b, origin.url("one.bin"), "127.0.0.1-z-3.000")       # the running task: no new slot
        assert again.status_code == 200 and again.json()["code"] == 200, again.text
        deadline = time.monotonic() + 60                                      # a slot is free once it finished
        while True:
            later = register_peer(b, origin.url("two.bin"), "127.0.0.1-y-2.000")
            if later.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert later.status_code == 200, later.text
        assert origin.bytes_sent["/one.bin"] >= 4 * MiB and origin.bytes_sent["/two.bin"] <= 4 * MiB
        redis_server.client().ping()
    finally:
        origin.stop()


def test_max_bandwidth_caps_the_origin_reads_of_all_members_together(cluster_factory, tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    for name in ("one.bin", "two.bin"):
        make_file(str(root / name), 3 * MiB, seed=len(name))
    origin = OriginServer(str(root)).start()                            # unpaced: only the budget paces
    try:
        cap = {"max_bandwidth": "2MB", "system_bandwidth": "1MB", "source_streams": 1}     # 1 MB/s for the cluster
        a, b = cluster_factory("sn-a", base=cap), cluster_factory("sn-b", base=cap)
        started = time.monotonic()
        ta = register_peer(a, origin.url("one.bin"), "127.0.0.1-x-1.000").json()["data"]["taskId"]
        tb = register_peer(b, origin.url("two.bin"), "127.0.0.1-y-2.000").json()["data"]["taskId"]
        deadline = started + 60
        cdn = "dragonfly_supernode_cdn_download_size_bytes_total"     # bytes the CDNs read from the origin
        while a.metric(cdn) + b.metric(cdn) < 6 * MiB:
            assert time.monotonic() < deadline, (a.metric(cdn), b.metric(cdn))
            time.sleep(0.1)
        took = time.monotonic() - started
        print(f"6 MiB from the origin through two members took {took:.1f}s at a 1 MB/s cluster budget")
        # one shared budget: about a second of burst then 1 MB/s (~5 s); two budgets of their own: ~2 s
        assert took >= 3.5, took
        assert ta != tb and a.metric(cdn) >= 3 * MiB and b.metric(cdn) >= 3 * MiB     # each member read its own
    finally:
        origin.stop()
