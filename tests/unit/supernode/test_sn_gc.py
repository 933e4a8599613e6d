import time

import pytest

from supernode.cdn.types import SUCCESS
from supernode.config import load_config
from supernode.gc import GarbageCollector
from supernode.scheduler import RegisterRequest
from supernode.services import build_services

from .api.origin_http import Origin


@pytest.fixture
def origin():
    o = Origin({"/f": b"x" * 100000, "/g": b"y" * 10}).start()
    yield o
    o.stop()


@pytest.fixture
def services(tmp_path):
    cfg = load_config(overrides={"storage_driver": "memory", "home_dir": str(tmp_path), "gc_initial_delay": "0s",
                                 "gc_meta_interval": "0.05s", "gc_disk_interval": "0.05s",
                                 "task_expire_time": "0.2s", "peer_gc_delay": "0.2s",
                                 "fetch": {"allow": ["127.0.0.0/8", "::1"]}}, environ={})
    s = build_services(cfg)
    yield s
    s.close()


def register(services, url, cid):
    data = services.manager.register(RegisterRequest(raw_url=url, cid=cid, ip="10.0.0.1", host_name="h",
                                                     port=15000, path="/p"))
    task = services.state.tasks.get(data["taskId"])
    deadline = time.monotonic() + 20
    while task.cdn_status != SUCCESS:
        assert time.monotonic() < deadline, task.cdn_status
        time.sleep(0.02)
    return task


def test_one_pass_collects_idle_tasks_then_down_peers(services, origin):
    task = register(services, origin.url + "/f", "c1")
    st = services.state
    peer_id = st.dfget_tasks.get("c1", task.id).peer_id
    gc = GarbageCollector(services.config, services, clock=lambda: time.time() + 3600)
    assert gc.gc_tasks() == 1
    assert st.tasks.get(task.id) is None and st.dfget_tasks.get("c1", task.id) is None
    assert st.peers.get(peer_id).service_down_time > 0          # its peer is marked down
    assert services.storage.stat(f"download/{task.id[:3]}/{task.id}").size > 0   # files kept (non-full)
    assert gc.gc_peers() == 1 and st.peers.get(peer_id) is None and st.progress.peer(peer_id) is None
    text = services.metrics.render().decode()
    assert "dragonfly_supernode_gc_tasks_total 1.0" in text and "dragonfly_supernode_gc_peers_total 1.0" in text


def test_fresh_tasks_and_live_peers_stay(services, origin):
    task = register(services, origin.url + "/g", "c2")
    gc = GarbageCollector(services.config, services)
    assert gc.gc_tasks() == 0 and gc.gc_peers() == 0
    assert gc.gc_disk() == 0
    assert services.state.tasks.get(task.id) is not None


def test_loops_run_and_stop(services, origin):
    task = register(services, origin.url + "/g", "c3")
    services.manager.service_down(task.id, "c3")
    gc = GarbageCollector(services.config, services)
    gc.start()
    try:
        deadline = time.monotonic() + 20
        while services.state.tasks.get(task.id) is not None or len(services.state.peers):
            assert time.monotonic() < deadline, "gc loops did not collect"
            time.sleep(0.05)
    finally:
        gc.stop()
