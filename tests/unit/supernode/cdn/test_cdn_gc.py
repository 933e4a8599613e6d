"""Disk GC over a real local store; free space is injected so both thresholds can be crossed."""
from __future__ import annotations

import hashlib
import time

import pytest

from supernode.cdn import CdnManager, DiskGc, MetaStore, data_key, md5_key, meta_key
from supernode.cdn.metadata import FileMeta
from supernode.storage import LocalStorage

GB = 1 << 30


def tid(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


@pytest.fixture
def store(tmp_path):
    return LocalStorage(str(tmp_path))


def add_task(store, i, idle_s=0.0, size=10, interval_ms=0):
    t = tid(i)
    store.put_atomic(data_key(t), b"x" * size)
    store.put_atomic(md5_key(t), b"m")
    now = int(time.time() * 1000)
    meta = FileMeta(taskID=t, url="u", pieceSize=1 << 20, accessTime=now - int(idle_s * 1000), interval=interval_ms,
                    finish=True, success=True)
    MetaStore(store).write(meta)
    return t


def gc_with(store, make_config, free, metrics=None):
    return DiskGc(store, MetaStore(store), make_config(), metrics, free_space=lambda: free)


def remaining(store):
    return {t for t in (tid(i) for i in range(20)) if store.exists(meta_key(t))}


def test_plenty_of_space_does_nothing(store, make_config, metrics):
    ids = {add_task(store, i) for i in range(5)}
    assert gc_with(store, make_config, 200 * GB, metrics).run(set()) == 0
    assert remaining(store) == ids
    assert metrics.registry.get_sample_value("dragonfly_supernode_gc_disks_total") == 1


def test_full_gc_deletes_everything_not_in_use(store, make_config, metrics):
    ids = [add_task(store, i) for i in range(6)]
    assert gc_with(store, make_config, 1 * GB, metrics).run({ids[0], ids[3]}) == 4
    assert remaining(store) == {ids[0], ids[3]}
    assert store.list("download/") and all(k.split("/")[2][:64] in (ids[0], ids[3]) for k in store.list("download/"))
    assert metrics.registry.get_sample_value("dragonfly_supernode_last_gc_disks_timestamp_seconds") > 0


def test_young_gc_deletes_a_tenth_longest_idle_first(store, make_config):
    ids = [add_task(store, i, idle_s=100 * (i + 1)) for i in range(10)]
    gc = gc_with(store, make_config, 50 * GB)
    assert gc.run(set()) == 1
    assert remaining(store) == set(ids[:9])                    # the longest idle one went
    assert gc.run({ids[8]}) == 1                               # in use: skipped, the next one goes
    assert remaining(store) == set(ids[:7]) | {ids[8]}


def test_young_gc_orders_gap_tasks_before_interval_tasks(store, make_config):
    periodic = [add_task(store, i, idle_s=10_000, size=100 * (i + 1), interval_ms=20_000_000) for i in range(3)]
    gap = [add_task(store, 10 + i, idle_s=5) for i in range(8)]
    config = make_config(clean_ratio=5)                        # ceil(11 * 5 / 10) = 6
    gc = DiskGc(store, MetaStore(store), config, free_space=lambda: 50 * GB)
    order = gc.select(set())
    assert len(order) == 6 and set(order) <= set(gap)
    gc_all = DiskGc(store, MetaStore(store), make_config(clean_ratio=10), free_space=lambda: 50 * GB)
    order = gc_all.select(set())
    assert set(order[:8]) == set(gap)
    assert order[8:] == [periodic[2], periodic[1], periodic[0]]   # largest periodic task first


def test_task_without_meta_is_still_collected(store, make_config):
    orphan = tid(99)
    store.put_atomic(data_key(orphan), b"zz")
    assert gc_with(store, make_config, 50 * GB).run(set()) == 1
    assert not store.exists(data_key(orphan))


def test_manager_disk_gc_spares_in_use_tasks(store, make_config):
    ids = [add_task(store, i) for i in range(3)]
    mgr = CdnManager(make_config(), store, free_space=lambda: 0)
    assert mgr.disk_gc({ids[1]}) == 2
    assert remaining(store) == {ids[1]}


def test_real_free_space_of_local_store(store, make_config):
    add_task(store, 1)
    gc = DiskGc(store, MetaStore(store), make_config(young_gc_threshold="1KB", full_gc_threshold="0B"))
    assert gc.run(set()) == 0                                   # a real disk has more than 1 KB free
