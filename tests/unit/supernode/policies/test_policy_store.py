import time

import pytest

from dfcommon.errors import DfError
from supernode.policies.models import RUN_FAILED, RUN_RUNNING, Run, build_policy, new_id
from supernode.policies.store import PolicyStore, make_engine


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/sub/policies.db"


def open_store(url, **kw):
    return PolicyStore(make_engine(url), **kw)


def policy(name="p", **kw):
    return build_policy({"name": name, "registry": "r.example", **kw})


def test_policies_persist_across_reopen(url):
    s = open_store(url)
    p = s.add(policy("a", tag="v*"))
    s.add(policy("b"))
    instance = s.instance_id()
    s.close()
    s2 = open_store(url)
    assert [x.name for x in s2.list()] == ["a", "b"]
    assert s2.get(p.id) == p
    assert s2.instance_id() == instance
    s2.close()


def test_unique_names_and_missing_policies(url):
    s = open_store(url)
    p = s.add(policy("a"))
    with pytest.raises(DfError) as e:
        s.add(policy("a"))
    assert e.value.http_status == 409
    q = s.add(policy("b"))
    with pytest.raises(DfError) as e:
        s.save(build_policy({"name": "a"}, base=q))
    assert e.value.http_status == 409
    with pytest.raises(DfError) as e:
        s.require("0123")
    assert e.value.http_status == 404
    assert s.delete(p.id) and not s.delete(p.id)
    s.close()


def test_runs_are_recorded_listed_newest_first_and_pruned(url):
    s = open_store(url, keep_runs=3)
    p = s.add(policy("a"))
    ids = []
    for i in range(5):
        run = s.add_run(Run(new_id(), p.id, p.name, "manual", started_at=1000.0 + i))
        ids.append(run.id)
    runs = s.list_runs(p.id)
    assert [r.id for r in runs] == ids[::-1][:3]
    run = runs[0]
    run.status, run.images, run.bytes, run.finished_at = "succeeded", [{"image": "x"}], 42, 1010.0
    s.save_run(run)
    got = s.get_run(run.id)
    assert (got.status, got.images, got.bytes, got.duration) == ("succeeded", [{"image": "x"}], 42, 6.0)
    s.delete(p.id)
    assert s.list_runs(p.id) == [] and s.get_run(run.id) is None
    s.close()


def test_unfinished_runs_are_failed_at_start(url):
    s = open_store(url)
    p = s.add(policy("a"))
    run = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time()))
    assert s.fail_unfinished("interrupted") == 1
    got = s.get_run(run.id)
    assert got.status == RUN_FAILED and got.error == "interrupted" and got.finished_at is not None
    s.close()


def test_runs_of_members_that_left_are_failed_and_the_others_kept(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'shared.db'}")
    p = s.add(policy("a"))
    gone = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time(), member="m-gone"))
    live = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time(), member="m1"))
    alone = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time()))
    assert s.fail_orphaned({"m1", "m2"}) == 1
    got = s.get_run(gone.id)
    assert got.status == RUN_FAILED and got.finished_at is not None
    assert got.error == "interrupted: member m-gone left the cluster during the run"
    assert s.get_run(live.id).status == RUN_RUNNING and s.get_run(alone.id).status == RUN_RUNNING
    assert s.fail_orphaned({"m1"}) == 0                     # already failed: not again
    s.close()


def test_a_cluster_member_fails_only_its_own_unfinished_runs(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'shared.db'}")
    p = s.add(policy("a"))
    mine = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time(), member="m1"))
    other = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time(), member="m2"))
    legacy = s.add_run(Run(new_id(), p.id, p.name, "cron", RUN_RUNNING, started_at=time.time()))
    assert s.fail_unfinished("interrupted", "m1") == 2
    assert s.get_run(mine.id).status == RUN_FAILED and s.get_run(legacy.id).status == RUN_FAILED
    assert s.get_run(other.id).status == RUN_RUNNING and s.get_run(other.id).member == "m2"
    assert s.get_run(other.id).to_json()["member"] == "m2" and "member" not in s.get_run(legacy.id).to_json()
    s.close()
