"""Held 602 replies woken across members (supernode/cluster/signals.py), with two real member processes on a
real redis-server and a slow real origin: a client held on member B is answered as soon as member A's CDN
writes the first piece, not when B's ``pull_hold`` ends."""
from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.cluster_members import registered_task_id
from tests.fixtures.origin import OriginServer, make_file

MiB = 1 << 20
HOLD = 4.0
pytestmark = [pytest.mark.slow]


def test_a_call_held_on_b_is_answered_when_a_writes_the_first_piece(cluster_factory, tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    make_file(str(root / "blob.bin"), 4 * MiB, seed=3)
    origin = OriginServer(str(root), rate=MiB // 2).start()         # a 1 MiB block, then one every 2 s
    try:
        base = {"pull_hold": f"{HOLD}s", "piece_size": "1MB", "source_streams": 1}
        a, b = cluster_factory("sn-a", base=base), cluster_factory("sn-b", base=base)
        url = origin.url("blob.bin")
        task_id = registered_task_id(a, url, "127.0.0.1-x-1.000")            # A takes the lease and fetches
        assert registered_task_id(b, url, "127.0.0.1-y-2.000") == task_id     # y is B's client
        pull = lambda status: requests.get(b.api + "/peer/task", timeout=(5, 30), params={   # noqa: E731
            "taskId": task_id, "srcCid": "127.0.0.1-y-2.000", "status": status}).json()
        first = pull(700)                           # piece 0 is there with the origin's first block
        assert first["code"] == 601 and [p["pieceNum"] for p in first["data"]] == [0], first
        sent = time.monotonic()
        body = pull(701)                            # nothing more yet: B holds the call
        took = time.monotonic() - sent
        print(f"held call on B answered after {took:.2f}s with {body['code']}; origin had sent "
              f"{origin.bytes_sent['/blob.bin']} bytes")
        # A wrote piece 1 while B held the call: B's answer is that piece, before its own hold ran out
        assert body["code"] == 601, body
        assert [p["pieceNum"] for p in body["data"]] == [1], body
        assert took < HOLD - 0.5, took
        assert b.metric("dragonfly_supernode_cdn_download_size_bytes_total") == 0     # B did not fetch
    finally:
        origin.stop()
