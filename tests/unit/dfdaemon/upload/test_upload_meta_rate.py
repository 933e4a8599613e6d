import fcntl
import json
import os

import pytest

from dfdaemon.upload.meta import clear_service_port, dir_lock, read_service_port, write_service_port
from dfdaemon.upload.rate import UploadRate
from dfdaemon.upload.server import candidate_ports
from dfdaemon.upload.tasks import TaskTable


def test_meta_round_trip(tmp_path):
    meta = str(tmp_path / "meta" / "host.meta")
    assert read_service_port(meta) == 0
    write_service_port(meta, 15123)
    assert json.loads(open(meta).read()) == {"servicePort": 15123}
    clear_service_port(meta, 15999)              # another server's port: left alone
    assert read_service_port(meta) == 15123
    clear_service_port(meta, 15123)
    assert read_service_port(meta) == 0
    open(meta, "w").write("not json")
    assert read_service_port(meta) == 0


def test_dir_lock_is_exclusive(tmp_path):
    d = str(tmp_path / "meta")
    with dir_lock(d):
        fd = os.open(d, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(d, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)


def test_candidate_ports_follow_the_formula():
    ports = candidate_ports(now=1_700_000_000)
    base = (1_700_000_000 // 300) % 50000 + 15000
    assert ports == list(range(base, base + 10))
    assert all(15000 <= p < 65010 for p in candidate_ports())


def test_grant_math():
    rate = UploadRate(0)
    assert rate.grant(500, 10_000) == 500
    rate.set_total_limit(1000)
    assert rate.grant(500, 800) == 500
    assert rate.grant(500, 1500) == 334
    rate.set_total_limit(0)                      # ignored: keeps 1000
    assert rate.total_limit == 1000 and rate.bucket.rate == 1000


def test_running_rate_sum_ignores_finished():
    tasks = TaskTable()
    tasks.set_rate("a", 100)
    tasks.set_rate("b", 50)
    tasks.finish("b", "t", "c", "")
    assert tasks.running_rate_sum() == 100
