"""Preheat records and jobs: persistence in SQLite, restart semantics, expiry, and the legacy views."""
import json
import sqlite3

from supernode.preheat.models import FAILED, RUNNING, SUCCESS, rfc3339
from supernode.preheat.store import PreheatStore
from tests.fixtures.preheat_records import preheat_record as rec
from tests.helpers import ManualClock


def test_rfc3339_and_legacy_view():
    assert rfc3339(0) == ""
    assert rfc3339(1_700_000_000) == "2023-11-14T22:13:20Z"
    r = rec(start_time=1_700_000_000, finish_time=1_700_000_001, error="")
    assert r.to_legacy() == {"ID": "a" * 64, "status": SUCCESS, "startTime": "2023-11-14T22:13:20Z",
                             "finishTime": "2023-11-14T22:13:21Z", "errorMsg": ""}
    assert "headers" not in r.to_public() and "Bearer" not in json.dumps(r.to_public())


def test_records_and_jobs_survive_a_reopen_without_headers(tmp_path):
    path = str(tmp_path / "p" / "preheat.db")
    store = PreheatStore(path)
    store.put(rec())
    job1 = store.new_job("a" * 64, {"url": "http://o/x"})
    job2 = store.new_job("a" * 64)
    assert isinstance(job1.id, int) and job2.id > job1.id
    store.close()
    raw = sqlite3.connect(path).execute("SELECT data FROM preheat_records").fetchone()[0]
    assert "s3cret" not in raw and "headers" not in raw
    again = PreheatStore(path)
    got = again.get("a" * 64)
    assert got.status == SUCCESS and got.headers == {}
    assert again.job(job1.id).record_id == "a" * 64 and again.job(job1.id).args == {"url": "http://o/x"}
    assert again.new_job("a" * 64).id > job2.id
    again.close()


def test_running_records_are_failed_by_a_restart(tmp_path):
    path = str(tmp_path / "preheat.db")
    store = PreheatStore(path)
    store.put(rec("b" * 64, RUNNING, start_time=5))
    store.close()
    again = PreheatStore(path)
    got = again.get("b" * 64)
    assert got.status == FAILED and "restart" in got.error and got.finish_time > 0
    again.close()
    assert PreheatStore(path).get("b" * 64).status == FAILED      # and that was written back


def test_expiry_drops_finished_records_and_their_jobs(tmp_path):
    clock = ManualClock(1_700_000_000.0)
    store = PreheatStore(str(tmp_path / "preheat.db"), ttl=100, clock=clock)
    store.put(rec("c" * 64, SUCCESS, finish_time=clock.now))
    store.put(rec("d" * 64, RUNNING))
    job = store.new_job("c" * 64)
    clock.now += 50
    assert store.expire() == 0
    clock.now += 51
    assert store.expire() == 1
    assert store.get("c" * 64) is None and store.job(job.id) is None
    assert store.get("d" * 64) is not None               # running records are never expired
    store.close()
    reopened = PreheatStore(str(tmp_path / "preheat.db"), ttl=100, clock=clock)
    assert reopened.get("c" * 64) is None and reopened.job(job.id) is None
    reopened.close()


def test_delete_and_list(tmp_path):
    store = PreheatStore(str(tmp_path / "preheat.db"))
    store.put(rec("e" * 64, created=2))
    store.put(rec("f" * 64, created=1))
    assert [r.id for r in store.list()] == ["f" * 64, "e" * 64]
    assert store.delete("e" * 64) is True and store.delete("e" * 64) is False
    assert [r.id for r in store.list()] == ["f" * 64]
    store.close()
