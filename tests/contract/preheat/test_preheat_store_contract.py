"""Contract of the preheat record/job store, run against the SQLite store (supernode/preheat/store.py) and the
cluster's Redis store (supernode/cluster/preheat_store.py, a real redis-server). ``backend.open()`` opens the
store again over the same data, as a restarted supernode (the same member, for Redis) does."""
import json

import pytest
import redis

from supernode.cluster.keys import Keys
from supernode.cluster.preheat_store import RedisPreheatStore
from supernode.preheat.models import FAILED, RUNNING, SUCCESS
from supernode.preheat.store import PreheatStore
from tests.fixtures.preheat_records import preheat_record as rec
from tests.helpers import ManualClock


class SqliteBackend:
    def __init__(self, request):
        self.path = str(request.getfixturevalue("tmp_path") / "p" / "preheat.db")

    def open(self, ttl=86400.0, clock=None, member="m1"):
        return PreheatStore(self.path, ttl=ttl, **({"clock": clock} if clock else {}))

    def raw(self) -> str:
        import sqlite3
        return " ".join(r[0] for r in sqlite3.connect(self.path).execute("SELECT data FROM preheat_records"))


class RedisBackend:
    def __init__(self, request):
        self.client = redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
        self.alive = {"m1", "m2"}

    def open(self, ttl=86400.0, clock=None, member="m1"):
        return RedisPreheatStore(self.client, Keys("contract"), member, ttl=ttl,
                                 member_alive=lambda mid: mid in self.alive, **({"clock": clock} if clock else {}))

    def raw(self) -> str:
        return json.dumps({k: self.client.hgetall(k) if self.client.type(k) == "hash" else self.client.get(k)
                           for k in self.client.keys("contract:*")})


BACKENDS = {"sqlite": SqliteBackend, "redis": RedisBackend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return BACKENDS[request.param](request)


def test_records_and_jobs_survive_a_reopen_without_headers(backend):
    store = backend.open()
    store.put(rec())
    job1 = store.new_job("a" * 64, {"url": "http://o/x"})
    job2 = store.new_job("a" * 64)
    assert isinstance(job1.id, int) and job2.id > job1.id
    store.close()
    raw = backend.raw()
    assert "s3cret" not in raw and "headers" not in raw and "a" * 64 in raw
    again = backend.open()
    got = again.get("a" * 64)
    assert got.status == SUCCESS and got.headers == {}
    assert again.job(job1.id).record_id == "a" * 64 and again.job(job1.id).args == {"url": "http://o/x"}
    assert [j.id for j in again.jobs()] == [job1.id, job2.id]
    assert again.new_job("a" * 64).id > job2.id
    assert again.job(10_000) is None and again.get("0" * 64) is None
    again.close()


def test_running_records_are_failed_by_a_restart(backend):
    store = backend.open()
    store.put(rec("b" * 64, RUNNING, start_time=5))
    store.close()
    again = backend.open()
    got = again.get("b" * 64)
    assert got.status == FAILED and "restart" in got.error and got.finish_time > 0
    again.close()
    assert backend.open().get("b" * 64).status == FAILED      # and that was written back


def test_saved_changes_are_read_back(backend):
    store = backend.open()
    r = store.put(rec("9" * 64, RUNNING))
    r.status, r.bytes, r.task_id = SUCCESS, 42, "t1"
    store.save(r)
    store.close()
    got = backend.open().get("9" * 64)
    assert (got.status, got.bytes, got.task_id) == (SUCCESS, 42, "t1")


def test_expiry_drops_finished_records_and_their_jobs(backend):
    clock = ManualClock(1_700_000_000.0)
    store = backend.open(ttl=100, clock=clock)
    store.put(rec("c" * 64, SUCCESS, finish_time=clock.now))
    store.put(rec("d" * 64, RUNNING))
    job = store.new_job("c" * 64)
    kept = store.new_job("d" * 64)
    clock.now += 50
    assert store.expire() == 0
    clock.now += 51
    assert store.expire() == 1
    assert store.get("c" * 64) is None and store.job(job.id) is None
    assert store.get("d" * 64) is not None and store.job(kept.id) is not None    # running: never expired
    store.close()
    reopened = backend.open(ttl=100, clock=clock, member="m2")      # (another member, for Redis)
    assert reopened.get("c" * 64) is None and reopened.job(job.id) is None
    reopened.close()


def test_delete_and_list(backend):
    store = backend.open()
    store.put(rec("e" * 64, created=2))
    store.put(rec("f" * 64, created=1))
    assert [r.id for r in store.list()] == ["f" * 64, "e" * 64]
    assert store.delete("e" * 64) is True and store.delete("e" * 64) is False
    assert [r.id for r in store.list()] == ["f" * 64]
    store.close()


# -- the Redis store across members ----------------------------------------------------------------------
@pytest.fixture
def shared(request):
    return RedisBackend(request)


def test_a_record_of_one_member_is_read_and_followed_on_another(shared):
    a, b = shared.open(member="m1"), shared.open(member="m2")
    r = a.put(rec("1" * 64, RUNNING))
    job = a.new_job(r.id, {"url": r.url})
    assert b.get(r.id).status == RUNNING and b.get(r.id).headers == {}
    assert b.job(job.id).record_id == r.id and [x.id for x in b.list()] == [r.id]
    r.status = SUCCESS
    a.save(r)
    assert b.get(r.id).status == SUCCESS
    assert b.new_job(r.id).id > job.id                        # one id sequence for the cluster


def test_a_restart_fails_only_the_members_own_running_records(shared):
    a, b = shared.open(member="m1"), shared.open(member="m2")
    a.put(rec("2" * 64, RUNNING))
    b.put(rec("3" * 64, RUNNING))
    shared.open(member="m2")                                  # m2 restarts
    assert a.get("2" * 64).status == RUNNING
    assert a.get("3" * 64).status == FAILED and "restart" in a.get("3" * 64).error


def test_running_records_of_a_member_that_left_are_failed(shared):
    a, b = shared.open(member="m1"), shared.open(member="m2")
    b.put(rec("4" * 64, RUNNING))
    a.expire()
    assert a.get("4" * 64).status == RUNNING                  # m2 still heart-beats
    shared.alive.discard("m2")
    a.expire()
    got = a.get("4" * 64)
    assert got.status == FAILED and "m2 left the cluster" in got.error


def test_reading_a_running_record_of_a_member_that_left_fails_it(shared):
    a, b = shared.open(member="m1"), shared.open(member="m2")
    b.put(rec("7" * 64, RUNNING))
    assert a.get("7" * 64).status == RUNNING                  # m2 still heart-beats
    shared.alive.discard("m2")
    got = a.get("7" * 64)                                     # no expiry pass: the read itself sees it
    assert got.status == FAILED and "m2 left the cluster" in got.error
    assert shared.open(member="m3").get("7" * 64).status == FAILED      # written back for every member


def test_redis_down_put_is_unavailable_save_is_kept(redis_factory):
    from dfcommon.errors import DfError
    from supernode.cluster.outage import OutageLog
    server = redis_factory()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1)
    store = RedisPreheatStore(client, Keys("contract"), "m1", outage=OutageLog(10.0))
    r = store.put(rec("5" * 64, RUNNING))
    server.stop()
    with pytest.raises(DfError) as err:
        store.put(rec("6" * 64, RUNNING))
    assert err.value.http_status == 503
    r.status = SUCCESS
    store.save(r)                                             # no raise: kept for later
    assert store.get(r.id).status == SUCCESS
    with pytest.raises(DfError):
        store.list()
    server.start()
    assert [x.id for x in store.list()] == [r.id]             # the kept change was written first; 6 never was
    other = RedisPreheatStore(client, Keys("contract"), "m2")
    assert other.get(r.id).status == SUCCESS
