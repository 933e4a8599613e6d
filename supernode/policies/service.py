"""The policy subsystem of one supernode: store, runner, cron scheduler and event router, built lazily.

Nothing touches the database until the first use or :meth:`PolicyService.start`, so an app that never
uses policies creates no file. :func:`policy_service_of` keeps the one instance in ``services.extras``.
"""
from __future__ import annotations

import logging
import threading

from dfcommon.errors import DfError

from .config import store_url, validate_policies
from .events import PolicyEventRouter
from .models import TRIGGER_CRON, TRIGGER_MANUAL, Policy, Run, build_policy, check_id, iso
from .runner import PolicyRunner
from .schedule import JOB_PREFIX, PolicyScheduler
from .store import PolicyStore, make_engine

log = logging.getLogger(__name__)
EXTRAS_KEY = "policies"


class PolicyService:
    def __init__(self, config, preheat=None, claims=None, rescan: float = 2.0, member: str | None = None):
        """``config`` is the SupernodeConfig; ``preheat`` the engine or a callable returning it; ``claims``
        and ``rescan``: one member per cron firing in a cluster (``schedule.PolicyScheduler``, and
        ``supernode.cluster.firings`` for the firings a member could not finish); ``member``: the cluster member
        id written into runs (a start then fails only this member's unfinished runs)."""
        self.claims, self.rescan, self.member = claims, rescan, member
        self.conf = validate_policies(config.policies)
        self.url = store_url(self.conf, config.home_dir)
        self._preheat = preheat
        self._lock = threading.Lock()
        self._parts = None
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    def _build(self):
        with self._lock:
            if self._parts is None:
                c = self.conf
                engine = make_engine(self.url)
                store = PolicyStore(engine, keep_runs=c.keep_runs)
                runner = PolicyRunner(store, self._preheat, credentials=c.credentials, poll_interval=c.poll_interval,
                                      image_timeout=c.image_timeout, max_parallel=c.max_parallel,
                                      max_images=c.max_images, member=self.member or "")
                scheduler = PolicyScheduler(engine, store, runner, misfire_grace_time=c.misfire_grace_time,
                                            coalesce=c.coalesce, max_instances=c.max_instances, timezone=c.timezone,
                                            workers=c.workers, claims=self.claims, rescan=self.rescan)
                self._parts = (store, runner, scheduler, PolicyEventRouter(store, runner))
            return self._parts

    @property
    def store(self) -> PolicyStore:
        return self._build()[0]

    @property
    def runner(self) -> PolicyRunner:
        return self._build()[1]

    @property
    def scheduler(self) -> PolicyScheduler:
        return self._build()[2]

    @property
    def router(self) -> PolicyEventRouter:
        return self._build()[3]

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        stale = self.store.fail_unfinished("interrupted: the supernode stopped during the run", self.member)
        if stale:
            log.warning("policy runs interrupted by the last stop count=%d", stale)
        self.scheduler.start()
        if self.claims is not None:
            self.run_again(self.claims.take_leftovers(), "this member's previous process")

    @property
    def started(self) -> bool:
        return self._started

    def run_again(self, firings, left_by: str) -> int:
        """Run once more, each in a thread of its own, the cron firings ``left_by`` did not finish (a member that
        left the cluster, or this member before its restart); a policy deleted, disabled or no longer on a cron
        schedule since is skipped."""
        started = 0
        for firing in firings:
            policy_id = firing.job_id[len(JOB_PREFIX):] if firing.job_id.startswith(JOB_PREFIX) else ""
            policy = self.store.get(policy_id) if policy_id else None
            if policy is None or not policy.enabled or not policy.triggers.cron:
                log.info("unfinished cron firing not run again: the policy is gone or off job=%s at=%s",
                         firing.job_id, firing.run_time.isoformat())
                continue
            self.claims.adopt(firing)
            log.warning("cron firing run again policy=%s scheduled=%s left unfinished by %s (member %s)",
                        policy_id, firing.run_time.isoformat(), left_by, firing.member)
            threading.Thread(target=self._run_firing, args=(policy_id, firing), name="policy-firing-again",
                             daemon=True).start()
            started += 1
        return started

    def _run_firing(self, policy_id: str, firing) -> None:
        try:
            self.runner.run(policy_id, TRIGGER_CRON, scheduled_at=firing.run_time.timestamp())
        finally:
            if not self.runner.stopping:
                self.claims.done(firing.job_id, firing.run_time)

    def stop(self) -> None:
        if self._parts is None:
            return
        store, runner, scheduler, _ = self._parts
        runner.stop()
        scheduler.stop()
        store.close()
        self._started = False

    # ------------------------------------------------------------------ operations (the REST API calls these)
    def list(self) -> list[Policy]:
        return self.store.list()

    def get(self, policy_id: str) -> Policy:
        return self.store.require(check_id(policy_id, "policy"))

    def create(self, data) -> Policy:
        policy = self.store.add(build_policy(data, credentials=self.conf.credentials, tz=self.conf.timezone))
        self.scheduler.sync(policy)
        log.info("policy created policy=%s name=%r", policy.id, policy.name)
        return policy

    def update(self, policy_id: str, data, partial: bool) -> Policy:
        cur = self.get(policy_id)
        base = cur if partial else Policy(id=cur.id, name="", registry="", created_at=cur.created_at)
        if isinstance(data, dict) and data.get("id", cur.id) != cur.id:
            raise DfError("INVALID_PARAM", "id: cannot be changed")
        policy = self.store.save(build_policy(data, base=base, credentials=self.conf.credentials,
                                              tz=self.conf.timezone))
        self.scheduler.sync(policy)
        return policy

    def delete(self, policy_id: str) -> None:
        check_id(policy_id, "policy")
        if not self.store.delete(policy_id):
            raise DfError("NOT_FOUND", f"policy {policy_id} not found")
        self.scheduler.remove(policy_id)
        log.info("policy deleted policy=%s", policy_id)

    def run_now(self, policy_id: str) -> Run:
        self.get(policy_id)
        return self.runner.start(policy_id, TRIGGER_MANUAL)

    def runs(self, policy_id: str, limit: int = 100) -> list[Run]:
        self.get(policy_id)
        return self.store.list_runs(policy_id, limit)

    def run(self, run_id: str) -> Run:
        run = self.store.get_run(check_id(run_id, "run"))
        if run is None:
            raise DfError("NOT_FOUND", f"run {run_id} not found")
        return run

    def on_event(self, event) -> list[Run]:
        """Webhook sink seam: start runs of every enabled event policy matching ``event``."""
        return self.router.on_event(event)

    def view(self, policy: Policy) -> dict:
        out = policy.to_json()
        nxt = self.scheduler.next_run_time(policy.id)
        out["next_run_time"] = iso(nxt.timestamp()) if nxt else None
        return out


def policy_service_of(services) -> PolicyService:
    """The PolicyService of a Services container, built on first call (preheat resolved at run time)."""
    svc = services.extras.get(EXTRAS_KEY)
    if svc is None:
        svc = PolicyService(services.config, preheat=lambda: services.extras.get("preheat"),
                            **_cluster_firings(services))
        services.extras[EXTRAS_KEY] = svc
    return svc


def _cluster_firings(services) -> dict:
    """In a cluster: each cron firing claimed in Redis (one member runs it), the job store re-read every
    heartbeat interval; alone: nothing (every firing runs here)."""
    node = services.extras.get("cluster")
    if node is None:
        return {}
    from supernode.cluster.firings import FiringClaims
    conf = validate_policies(services.config.policies)
    grace = conf.misfire_grace_time or 3600.0
    claims = FiringClaims(node.redis, node.keys, node.member_id, grace + 60, node.outage)
    return {"claims": claims, "rescan": max(0.5, node.conf.heartbeat_interval), "member": node.member_id}
