"""Disk thresholds of the upload server's GC: least recently used first, never a file in use."""
import os

import pytest

from dfdaemon.upload.gc import DiskLimits, UploadGC
from dfdaemon.upload.notify import HttpServiceDown
from dfdaemon.upload.service import UploadService
from dfdaemon.upload.wrapping import PieceRequest
from tests.helpers import ManualClock

EXPIRE = 3600.0


@pytest.fixture
def env(tmp_path, supernode):
    data = tmp_path / "data"
    data.mkdir()
    clock = ManualClock()
    service = UploadService(str(data))
    service.tasks._clock = clock
    node = f"127.0.0.1:{supernode.port}"

    def gc(max_used=0, min_free=0, free=None):
        return UploadGC(service, HttpServiceDown(), EXPIRE, clock=clock, limits=DiskLimits(max_used, min_free),
                        disk_free=(lambda path: free) if free is not None else None)
    return data, service, gc, clock, node, supernode.standin


def finished(data, service, clock, node, name, size=100, used_ago=0.0):
    path = data / name
    path.write_bytes(b"x" * size)
    t = clock.now - used_ago - 300
    os.utime(path, (t, t))
    service.finish(name, f"task-{name}", f"cid-{name}", node)
    rec = service.tasks._tasks[name]
    rec.access_time = clock.now - used_ago
    return path


def test_over_the_used_limit_the_least_recently_used_go_first(env):
    data, service, gc, clock, node, standin = env
    finished(data, service, clock, node, "old", used_ago=300)
    finished(data, service, clock, node, "mid", used_ago=200)
    finished(data, service, clock, node, "new", used_ago=100)
    collector = gc(max_used=250)
    assert collector.run_once() == ["old"]                # 300 bytes -> 200: within 250
    assert sorted(os.listdir(data)) == ["mid", "new"]
    assert standin.snapshot() == [{"taskId": "task-old", "cid": "cid-old"}]
    assert collector.freed_files == 1 and collector.freed_bytes == 100
    assert collector.run_once() == []                     # nothing more to do


def test_short_of_free_space_files_go_until_the_free_limit_holds(env):
    data, service, gc, clock, node, standin = env
    for i, name in enumerate(["a", "b", "c", "d"]):
        finished(data, service, clock, node, name, used_ago=400 - i * 100)
    assert gc(min_free=1000, free=850).run_once() == ["a", "b"]      # 150 bytes short: two files of 100
    assert sorted(os.listdir(data)) == ["c", "d"]


def test_no_limits_no_deletion_before_expiry(env):
    data, service, gc, clock, node, standin = env
    finished(data, service, clock, node, "kept", used_ago=10)
    assert gc(free=0).run_once() == [] and (data / "kept").exists()


def test_running_served_and_fresh_unclaimed_files_are_never_freed(env, caplog):
    data, service, gc, clock, node, standin = env
    (data / "writing").write_bytes(b"w" * 100)
    service.check("writing")                               # a download is writing it
    finished(data, service, clock, node, "served", used_ago=1000)
    body, _plan = service.open_piece("served", PieceRequest(start=0, length=100, piece_num=0, piece_size=100,
                                                            wrapped=False))
    (data / "landing").write_bytes(b"l" * 100)             # unclaimed, just written
    os.utime(data / "landing", (clock.now, clock.now))
    collector = gc(max_used=1)
    with caplog.at_level("WARNING"):
        assert collector.run_once() == []
    assert sorted(os.listdir(data)) == ["landing", "served", "writing"]
    assert "cannot reach the disk limits" in caplog.text
    assert b"".join(body) == b"x" * 100                    # the body is sent whole, then closed
    assert service.tasks.get("served").serving == 0
    assert collector.run_once() == ["served"]              # no longer in use: the oldest goes


def test_an_old_unclaimed_file_is_freed_by_its_mtime(env):
    data, service, gc, clock, node, standin = env
    path = data / "stray"
    path.write_bytes(b"s" * 100)
    os.utime(path, (clock.now - 120, clock.now - 120))
    finished(data, service, clock, node, "recent", used_ago=10)
    assert gc(max_used=150).run_once() == ["stray"]
