"""Garbage collection of what a member that is gone left in Redis.

A member collecting one of its idle tasks deletes the task's shared records itself (``delete_task``). What no
live member would ever collect is swept here, by one member per ``gc_meta_interval`` (the member whose
``SET gc:claim NX PX <interval>`` wins, after a heartbeat):

- **tasks nobody holds any more**: no CDN lease on the task, its owner (the member whose CDN holds the file)
  is not a live member or there is none, and the task's record version key (``t:<id>:ver``, read by every
  call about the task) was not read for ``task_expire_time`` (Redis ``OBJECT IDLETIME``, so no write per call
  is needed). Its task side, its clients, its peers and its records are deleted.
- **policy runs of members that left**: runs still ``running`` that name a member which is not live are failed
  ("interrupted: member <id> left the cluster during the run"); a member that is alive fails its own at its
  next start, as before.
- **cron firings of members that left, not finished**: run once more by the sweeping member
  (``supernode.cluster.firings``), if its policy service runs.

Redis unreachable: nothing is swept (logged once per interval); the next interval tries again.
"""
from __future__ import annotations

import json
import logging
import time

import redis

from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)


class SharedGc:
    def __init__(self, node, store, records, idle_after: float, interval: float, policy_store=lambda: None,
                 clock=time.monotonic, take_over_firings=lambda live: 0):
        """``take_over_firings(live member ids) -> count``: runs again the unfinished cron firings of members
        that are gone (0 when this member runs no policies)."""
        self.node, self.store, self.records = node, store, records
        self.take_over_firings = take_over_firings
        self.idle_after, self.interval = float(idle_after), max(1.0, float(interval))
        self.policy_store = policy_store
        self._clock = clock
        self._last: float | None = None
        self.swept_tasks = 0
        self.failed_runs = 0
        self.firings_taken_over = 0

    def after_beat(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        r, k = self.node.redis, self.node.keys
        if not r.set(k.g("gc:claim"), self.node.member_id, nx=True, px=int(self.interval * 1000)):
            return                              # another member sweeps this interval
        live = {m["id"] for m in self.node.membership.members()}
        self.sweep_tasks(live)
        self.sweep_runs(live)
        self.firings_taken_over += self.take_over_firings(live)

    # --- tasks ----------------------------------------------------------------------------------
    def task_ids(self) -> set[str]:
        r, k = self.node.redis, self.node.keys
        ids = set(r.smembers(k.g("tasks")))
        head, tail = k.task("", "rec").split("::")
        for key in r.scan_iter(match=k.task("*", "rec"), count=500):
            ids.add(key[len(head) + 1:-len(tail) - 1] if key.startswith(head) else key)
        return ids

    def orphaned(self, task_id: str, live: set[str]) -> bool:
        r, k = self.node.redis, self.node.keys
        if r.exists(k.lease("cdn:" + task_id)):
            return False
        owner = r.get(k.task(task_id, "owner"))
        if owner and owner in live:
            return False                        # its owner's own GC decides
        try:
            idle = r.object("idletime", k.task(task_id, "ver"))
        except redis.ResponseError:             # an LFU maxmemory-policy has no idle times: keep the task
            return False
        return idle is None or float(idle) >= self.idle_after

    def sweep_tasks(self, live: set[str]) -> int:
        swept = 0
        for task_id in sorted(self.task_ids()):
            if not self.orphaned(task_id, live):
                continue
            self.forget(task_id)
            swept += 1
        if swept:
            self.swept_tasks += swept
            log.info("cluster gc removed tasks nobody holds count=%d", swept)
        return swept

    def forget(self, task_id: str) -> None:
        r, k = self.node.redis, self.node.keys
        peers = set()
        for raw in r.hvals(k.task(task_id, "dfget")):
            try:
                peers.add(json.loads(raw)["peer_id"])
            except (ValueError, KeyError):
                continue
        for piece in r.smembers(k.task(task_id, "hp")):
            peers |= set(r.smembers(k.task(task_id, f"h:{piece}")))
        self.store.delete_task(task_id)
        for peer_id in peers:                   # a peer id is one registration: of this task only
            self.store.delete_peer(peer_id)
        self.records.forget_task(task_id)

    # --- policy runs ----------------------------------------------------------------------------------
    def sweep_runs(self, live: set[str]) -> int:
        store = self.policy_store()
        if store is None or not hasattr(store, "fail_orphaned"):
            return 0
        count = store.fail_orphaned(live)
        if count:
            self.failed_runs += count
            log.warning("policy runs of members that left failed count=%d", count)
        return count


def run_safely(gc: SharedGc, outage) -> None:
    try:
        gc.after_beat()
    except REDIS_ERRORS as e:
        outage.failed("cluster gc", e)
