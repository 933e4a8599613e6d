"""Cron triggers on APScheduler: a BackgroundScheduler with a persistent SQLAlchemy job store.

Jobs live in the policy database, so they survive restarts; a run due while the supernode was down is
handled by APScheduler's misfire rule when the scheduler starts again (``coalesce``: many missed runs
become one; ``misfire_grace_time``: a run later than that is skipped and recorded as ``missed``).

Jobs are stored as a textual reference to :func:`run_scheduled_policy` plus (database id, policy id);
the runner is looked up in a registry filled by :meth:`PolicyScheduler.start`, so a job loaded from the
store after a restart finds the new process's runner. Under gevent monkey patching the scheduler's
threads are greenlets; nothing here blocks the hub for long.

Several supernodes on one job store (a supernode cluster, docs/cluster.md): each member's scheduler sees every
job, and ``claims.claim(job_id, run_time) -> bool`` (an atomic claim shared by the members) decides, in the worker
thread before the job runs, which member runs each firing; the others drop that run time. ``claims.done`` is told
when the run ended, unless the member stopped during it (``supernode.cluster.firings`` hands such a firing on). Each scheduler then
also re-reads the job store every ``rescan`` seconds, so that jobs another member added are fired here too.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from .cron import parse_cron

log = logging.getLogger(__name__)
JOB_PREFIX = "policy-"
JOB_FUNC = "supernode.policies.schedule:run_scheduled_policy"
JOB_TABLE = "policy_jobs"

_runners: dict = {}                 # database id -> runner; filled by PolicyScheduler.start
_runners_lock = threading.Lock()
_firing = threading.local()         # .run_time: the scheduled time of the firing a claiming worker runs now


def run_scheduled_policy(instance: str, policy_id: str) -> None:
    """The job function of every cron policy (a module-level callable, so jobs can be persisted)."""
    with _runners_lock:
        runner = _runners.get(instance)
    if runner is None:
        log.warning("scheduled policy run without a runner policy=%s instance=%s", policy_id, instance)
        return
    when = getattr(_firing, "run_time", None)
    runner.run(policy_id, "cron", scheduled_at=when.timestamp() if when is not None else None)


def job_id(policy_id: str) -> str:
    return JOB_PREFIX + policy_id


def _signature(policy, timezone: str) -> str:
    return f"{policy.triggers.cron} tz={timezone}"


class ClaimingExecutor(ThreadPoolExecutor):
    """A thread pool that runs only the run times ``claims.claim(job_id, run_time)`` grants this process, and
    tells ``claims.done`` when such a run ended, unless ``stopping()`` says this process stopped during it (the
    firing then stays unfinished, to be run again: see ``supernode.cluster.firings``)."""

    def __init__(self, workers: int, claims, stopping=lambda: False):
        super().__init__(workers)
        self.claims, self.stopping = claims, stopping

    def _do_submit_job(self, job, run_times):
        def claimed_run():
            mine = [t for t in run_times if self.claims.claim(job.id, t)]
            if not mine:
                return []
            events = []
            for t in mine:                  # one at a time: each run records the firing it serves
                _firing.run_time = t
                try:
                    events += run_job(job, job._jobstore_alias, [t], self._logger.name)
                finally:
                    _firing.run_time = None
                    self._ended(job.id, [t])
            return events

        def done(f):
            exc = f.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, f.result())

        self._pool.submit(claimed_run).add_done_callback(done)

    def _ended(self, jid: str, run_times) -> None:
        if self.stopping():
            log.warning("cron firing interrupted by the stop, left for another run job=%s", jid)
            return
        for t in run_times:
            self.claims.done(jid, t)


class PolicyScheduler:
    """Keeps one cron job per enabled cron policy in the job store and runs them through ``runner``."""

    def __init__(self, engine, store, runner, misfire_grace_time: float = 300.0, coalesce: bool = True,
                 max_instances: int = 1, timezone: str = "UTC", workers: int = 4, claims=None,
                 rescan: float = 2.0):
        """``claims``: see the module docstring (None: a supernode alone runs every firing)."""
        self.store = store
        self.claims, self.rescan = claims, rescan
        self._stopping = False
        self._rescan_stop = threading.Event()
        self.runner = runner
        self.timezone = timezone
        self.instance = store.instance_id()
        self.defaults = {"coalesce": coalesce, "misfire_grace_time": int(misfire_grace_time) or None,
                         "max_instances": max(1, max_instances)}
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
            executors={"default": ThreadPoolExecutor(max(1, workers)) if claims is None
                       else ClaimingExecutor(max(1, workers), claims, self._is_stopping)},
            job_defaults=dict(self.defaults),
            timezone=timezone)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        """Register the runner, load jobs, reconcile them with the policies, then let misfires play out."""
        with _runners_lock:
            _runners[self.instance] = self.runner
        self._stopping = False
        self.scheduler.start(paused=True)
        self.reconcile()
        self.scheduler.resume()
        if self.claims is not None:
            self._rescan_stop.clear()
            threading.Thread(target=self._rescan_loop, name="policy-rescan", daemon=True).start()
        log.info("policy scheduler started jobs=%d", len(self.jobs()))

    def _is_stopping(self) -> bool:
        return self._stopping or bool(getattr(self.runner, "stopping", False))

    def _rescan_loop(self) -> None:
        while not self._rescan_stop.wait(self.rescan):
            if self.scheduler.running:
                self.scheduler.wakeup()

    def stop(self) -> None:
        self._stopping = True
        self._rescan_stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with _runners_lock:
            if _runners.get(self.instance) is self.runner:
                del _runners[self.instance]

    # ------------------------------------------------------------------ jobs
    def reconcile(self) -> None:
        """One job per enabled cron policy; unchanged jobs are kept so their missed runs still count."""
        existing = {j.id: j for j in self.scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)}
        for policy in self.store.list():
            job = existing.pop(job_id(policy.id), None)
            if self._wants_job(policy):
                if job is None or job.name != _signature(policy, self.timezone) or \
                        list(job.args) != [self.instance, policy.id]:
                    self.sync(policy)
                elif any(getattr(job, k) != v for k, v in self.defaults.items()):
                    self.scheduler.modify_job(job.id, **self.defaults)     # keeps next_run_time
            elif job is not None:
                self.remove(policy.id)
        for jid in existing:
            self._remove_job(jid)

    @staticmethod
    def _wants_job(policy) -> bool:
        return bool(policy.enabled and policy.triggers.cron)

    def sync(self, policy) -> None:
        """Add, replace or remove the job of ``policy`` after it was created or changed."""
        if not self.scheduler.running:
            return                                  # reconcile() at start() picks it up
        if not self._wants_job(policy):
            self.remove(policy.id)
            return
        current = self.scheduler.get_job(job_id(policy.id))
        if current is not None and current.name == _signature(policy, self.timezone):
            return
        self.scheduler.add_job(JOB_FUNC, trigger=parse_cron(policy.triggers.cron, self.timezone),
                               args=[self.instance, policy.id], id=job_id(policy.id),
                               name=_signature(policy, self.timezone), replace_existing=True)
        log.info("policy job scheduled policy=%s cron=%r", policy.id, policy.triggers.cron)

    def remove(self, policy_id: str) -> None:
        if self.scheduler.running:
            self._remove_job(job_id(policy_id))

    def _remove_job(self, jid: str) -> None:
        try:
            self.scheduler.remove_job(jid)
        except JobLookupError:
            pass

    def jobs(self) -> list:
        return [j for j in self.scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)] if self.running else []

    def next_run_time(self, policy_id: str) -> datetime | None:
        if not self.scheduler.running:
            return None
        job = self.scheduler.get_job(job_id(policy_id))
        return getattr(job, "next_run_time", None) if job is not None else None

    # ------------------------------------------------------------------ events
    def _on_event(self, event) -> None:
        if not event.job_id.startswith(JOB_PREFIX):
            return
        policy_id = event.job_id[len(JOB_PREFIX):]
        when = event.scheduled_run_time.timestamp() if event.scheduled_run_time else None
        if event.code == EVENT_JOB_MISSED:
            self.runner.record_missed(policy_id, when, "missed: the run was due longer ago than the "
                                                       "misfire grace time")
        else:
            log.warning("policy run skipped: previous run still going policy=%s", policy_id)
