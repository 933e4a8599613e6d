"""Cron jobs in the persistent job store: restarts, misfires within and beyond the grace time.

The scheduler is really stopped and a new one started against the same SQLite file. Waits are for
events (a run record appearing), never assertions about how long something took.
"""
import time
from datetime import datetime, timezone

import pytest

from supernode.policies.models import build_policy
from supernode.policies.schedule import JOB_PREFIX, PolicyScheduler

from .conftest import Parts

UNREACHABLE = "http://127.0.0.1:1"


def cron_at(ts: float) -> str:
    d = datetime.fromtimestamp(ts, timezone.utc)
    return f"{d.second} {d.minute} {d.hour} {d.day} {d.month} *"


def wait_until(cond, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met")


def sleep_past(ts: float) -> None:
    while time.time() < ts:
        time.sleep(0.05)


class Node:
    """Store + runner + scheduler over one database: what a supernode process holds."""

    def __init__(self, url, grace=300.0):
        self.parts = Parts(url)
        self.store, self.runner = self.parts.store, self.parts.runner
        self.sched = PolicyScheduler(self.parts.engine, self.store, self.runner, misfire_grace_time=grace)
        self.sched.start()

    def add(self, **kw):
        p = self.store.add(build_policy({"name": "p", "registry": UNREACHABLE, **kw}))
        self.sched.sync(p)
        return p

    def stop(self):
        self.sched.stop()
        self.parts.close()


@pytest.fixture
def nodes(db_url):
    started = []

    def make(grace=300.0):
        node = Node(db_url, grace)
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop()


def test_jobs_survive_a_restart(nodes):
    a = nodes()
    p = a.add(triggers={"cron": "0 0 3 * * *"})
    job = a.sched.scheduler.get_job(JOB_PREFIX + p.id)
    assert job is not None and job.name.startswith("0 0 3 * * *")
    first = a.sched.next_run_time(p.id)
    a.stop()
    b = nodes()
    assert [j.id for j in b.sched.jobs()] == [JOB_PREFIX + p.id]
    assert b.sched.next_run_time(p.id) == first
    assert first.hour == 3 and first.second == 0


def test_jobs_follow_policy_changes(nodes):
    a = nodes()
    p = a.add(triggers={"cron": "0 0 3 * * *"})
    disabled = a.store.save(build_policy({"enabled": False}, base=p))
    a.sched.sync(disabled)
    assert a.sched.jobs() == []
    moved = a.store.save(build_policy({"enabled": True, "triggers": {"cron": "0 30 4 * * *"}}, base=disabled))
    a.sched.sync(moved)
    assert a.sched.next_run_time(p.id).minute == 30
    a.sched.remove(p.id)
    assert a.sched.jobs() == []
    # a policy added while the scheduler was away gets its job at the next start; orphans go away
    a.sched.sync(moved)
    orphan = a.add(name="orphan", triggers={"cron": "@hourly"})
    a.stop()
    b = nodes()
    b.store.delete(orphan.id)
    b.store.add(build_policy({"name": "late", "registry": UNREACHABLE, "triggers": {"cron": "@daily"}}))
    b.stop()
    c = nodes()
    names = sorted(j.name.split(" tz=")[0] for j in c.sched.jobs())
    assert names == ["0 30 4 * * *", "@daily"]


def test_a_run_due_while_down_runs_after_restart_within_the_grace_time(nodes):
    a = nodes(grace=300)
    due = time.time() + 3
    p = a.add(triggers={"cron": cron_at(due)})
    a.stop()                                       # down before the run is due
    assert a.store.list_runs(p.id) == []
    sleep_past(due + 1)
    b = nodes(grace=300)
    runs = wait_until(lambda: [r for r in b.store.list_runs(p.id) if r.status != "running"])
    assert [r.trigger for r in runs] == ["cron"]
    assert runs[0].status == "failed" and "unreachable" in runs[0].error     # it ran: discovery was attempted


def test_a_run_later_than_the_grace_time_is_recorded_as_missed(nodes):
    a = nodes(grace=1)
    due = time.time() + 3
    p = a.add(triggers={"cron": cron_at(due)})
    a.stop()
    sleep_past(due + 3)
    b = nodes(grace=1)
    runs = wait_until(lambda: b.store.list_runs(p.id))
    assert [(r.trigger, r.status) for r in runs] == [("cron", "missed")]
    assert runs[0].scheduled_at is not None and int(runs[0].scheduled_at) == int(due)
    assert "grace" in runs[0].error


def test_the_configured_grace_time_applies_to_stored_jobs(nodes):
    a = nodes(grace=1)
    due = time.time() + 3
    p = a.add(triggers={"cron": cron_at(due)})
    a.stop()
    sleep_past(due + 3)
    b = nodes(grace=600)                           # raised in the config: the stored job follows it
    runs = wait_until(lambda: [r for r in b.store.list_runs(p.id) if r.status != "running"])
    assert [(r.trigger, r.status) for r in runs] == [("cron", "failed")]
