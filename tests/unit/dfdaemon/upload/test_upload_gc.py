"""Expiry walk and release-on-exit, with a real stand-in supernode receiving service-down."""
import os
import time

import pytest

from dfdaemon.upload.gc import UploadGC
from dfdaemon.upload.notify import HttpServiceDown, supernode_base
from dfdaemon.upload.service import UploadService
from tests.helpers import ManualClock

EXPIRE = 180.0


@pytest.fixture
def env(tmp_path, supernode):
    data = tmp_path / "data"
    data.mkdir()
    clock = ManualClock()
    service = UploadService(str(data))
    service.tasks._clock = clock
    gc = UploadGC(service, HttpServiceDown(), EXPIRE, clock=clock)
    node = f"127.0.0.1:{supernode.port}"
    return data, service, gc, clock, node, supernode.standin


def make(data, name, age=0.0):
    path = data / name
    path.write_bytes(b"x" * 10)
    t = time.time() - age
    os.utime(path, (t, t))
    return path


def test_finished_expired_file_is_released(env):
    data, service, gc, clock, node, standin = env
    make(data, "done")
    service.finish("done", "task-1", "cid-1", node)
    make(data, "fresh")
    service.finish("fresh", "task-2", "cid-2", node)
    clock.now += EXPIRE / 2
    service.tasks.touch("fresh")
    clock.now += EXPIRE / 2 + 1
    assert gc.run_once() == ["done"]
    assert not (data / "done").exists() and (data / "fresh").exists()
    assert service.tasks.get("done") is None
    assert standin.snapshot() == [{"taskId": "task-1", "cid": "cid-1"}]


def test_running_tasks_are_kept_and_unclaimed_files_expire(env):
    data, service, gc, clock, node, standin = env
    make(data, "running", age=10 * EXPIRE)
    service.check("running")
    make(data, "orphan-old", age=EXPIRE + 5)
    make(data, "orphan-new")
    (data / "subdir").mkdir()
    assert sorted(gc.run_once()) == ["orphan-old"]
    assert (data / "running").exists() and (data / "orphan-new").exists() and (data / "subdir").is_dir()
    assert standin.snapshot() == []


def test_records_without_files_are_dropped(env):
    data, service, gc, clock, node, standin = env
    service.finish("gone", "task-3", "cid-3", node)
    clock.now += EXPIRE + 1
    gc.run_once()
    assert service.tasks.get("gone") is None
    assert standin.snapshot() == [{"taskId": "task-3", "cid": "cid-3"}]


def test_release_all_on_exit(env):
    data, service, gc, clock, node, standin = env
    make(data, "a")
    service.finish("a", "task-a", "cid-a", node)
    make(data, "b")
    service.check("b")
    make(data, "unclaimed")
    gc.release_all()
    assert sorted(os.listdir(data)) == ["unclaimed"]
    assert standin.snapshot() == [{"taskId": "task-a", "cid": "cid-a"}]
    assert len(service.tasks) == 0


def test_service_down_errors_are_not_raised(env, port):
    notifier = HttpServiceDown()
    assert notifier.service_down(f"127.0.0.1:{port}", "t", "c") is False   # nothing listens there
    assert notifier.service_down("", "t", "c") is False


@pytest.mark.parametrize("node,base", [
    ("10.0.0.1", "http://10.0.0.1:8002"), ("10.0.0.1:8003", "http://10.0.0.1:8003"),
    ("http://sn:9000/", "http://sn:9000"), ("[::1]", "http://[::1]:8002"), ("[::1]:81", "http://[::1]:81"),
    ("::1", "http://[::1]:8002"),
])
def test_supernode_base(node, base):
    assert supernode_base(node) == base
