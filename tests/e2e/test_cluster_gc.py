"""Garbage collection of shared records (supernode/cluster/shared_gc.py) with real member processes on a real
redis-server: the records of a task whose owner died for good are removed once the task was idle for
``task_expire_time``; a task whose owner is alive is left to that member."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.cluster_members import registered_task_id
from tests.fixtures.origin import OriginServer, make_file

MiB = 1 << 20
pytestmark = [pytest.mark.slow]
GC = {"task_expire_time": "2s", "gc_meta_interval": "1s"}


def _task_keys(client, task_id):
    return sorted(client.scan_iter(match=f"dfpy:t:{task_id}:*"))


def _wait(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def test_records_of_a_task_whose_owner_died_are_collected_and_a_live_owners_are_kept(cluster_factory, tmp_path,
                                                                                       redis_server):
    root = tmp_path / "origin"
    root.mkdir()
    make_file(str(root / "gone.bin"), 2 * MiB, seed=1)
    make_file(str(root / "kept.bin"), 2 * MiB, seed=2)
    origin = OriginServer(str(root)).start()
    r = redis_server.client()
    try:
        a = cluster_factory("sn-a", base=GC)
        b = cluster_factory("sn-b", base=GC)
        c = cluster_factory("sn-c", base=GC)
        gone = registered_task_id(a, origin.url("gone.bin"), "127.0.0.1-x-1.000")      # A owns it
        kept = registered_task_id(b, origin.url("kept.bin"), "127.0.0.1-y-2.000")      # B owns it and stays
        assert _wait(lambda: r.get(f"dfpy:t:{gone}:owner") == "sn-a" and r.get(f"dfpy:t:{kept}:owner") == "sn-b")
        assert _task_keys(r, gone) and r.exists("dfpy:c:127.0.0.1-x-1.000:s")
        a.kill()                                   # for good: it never starts again
        assert _wait(lambda: not _task_keys(r, gone)), _task_keys(r, gone)
        assert not r.exists("dfpy:c:127.0.0.1-x-1.000:s")
        assert gone not in r.smembers("dfpy:tasks")
        # B's task is idle too, but B is alive: its own GC decides (B's task_expire_time 2 s would not apply
        # before its gc_initial_delay of 1 h), the cluster GC leaves it
        time.sleep(4)
        assert r.exists(f"dfpy:t:{kept}:rec") and r.get(f"dfpy:t:{kept}:owner") == "sn-b"
        print("gc: members", [m["id"] for m in c.cluster()["members"]])
    finally:
        origin.stop()
