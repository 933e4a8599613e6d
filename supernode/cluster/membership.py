"""Cluster membership: each member writes a heartbeat record to Redis every ``heartbeat_interval``; a member
whose last beat is older than ``member_ttl`` is dropped by whichever member notices first, and the leases it
still holds are released. Times are Redis's own clock (``TIME``), so members' clocks need not agree."""
from __future__ import annotations

import json
import logging
import threading

from .keys import Keys
from .leases import Leases
from .outage import REDIS_ERRORS, OutageLog

log = logging.getLogger(__name__)


def redis_now(client) -> float:
    sec, usec = client.time()
    return sec + usec / 1e6


class Membership:
    def __init__(self, client, keys: Keys, member_id: str, info: dict, conf, leases: Leases, load=None,
                 metrics=None, outage: OutageLog | None = None):
        """``info``: the static part of this member's record (addresses); ``load()``: its current load and
        tasks, a dict merged into each heartbeat."""
        self.r, self.keys, self.id, self.info = client, keys, member_id, dict(info)
        self.interval, self.ttl = conf.heartbeat_interval, conf.member_ttl
        self.leases, self.load, self.metrics = leases, load, metrics
        self.outage = outage or OutageLog(max(10.0, conf.member_ttl))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped: list[str] = []            # members this one dropped (for logs and tests)
        self.after_beat: list = []              # callables run after each good beat (retries of shared writes)

    # --- one beat -------------------------------------------------------------------------
    def beat(self) -> None:
        now = redis_now(self.r)
        doc = {**self.info, "id": self.id, "heartbeat": now, **(self.load() if self.load else {})}
        doc["leases"] = self.leases.held()
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.keys.member(self.id), json.dumps(doc), px=int(self.ttl * 1000))
        pipe.zadd(self.keys.members(), {self.id: now})
        pipe.execute()
        lost = self.leases.renew_all()
        if lost:
            log.warning("cluster leases lost member=%s leases=%s", self.id, ",".join(lost))
        self.drop_stale(now)

    def drop_stale(self, now: float | None = None) -> list[str]:
        now = redis_now(self.r) if now is None else now
        stale = self.r.zrangebyscore(self.keys.members(), "-inf", now - self.ttl)
        dropped = []
        for member_id in stale:
            if member_id == self.id:
                continue
            # only the member that removes the entry releases its leases (zrem returns 1 once)
            if self.r.zrem(self.keys.members(), member_id):
                released = self.leases.release_of(member_id)
                self.r.delete(self.keys.member(member_id))
                dropped.append(member_id)
                log.warning("cluster member dropped member=%s (no heartbeat for %.0fs) leases_released=%d",
                            member_id, self.ttl, released)
        self.dropped.extend(dropped)
        return dropped

    def members(self) -> list[dict]:
        """Live members' records, this one included, ordered by id."""
        now = redis_now(self.r)
        ids = self.r.zrangebyscore(self.keys.members(), now - self.ttl, "+inf")
        out = []
        if ids:
            for member_id, raw in zip(ids, self.r.mget([self.keys.member(i) for i in ids])):
                if raw is None:
                    continue
                doc = json.loads(raw)
                doc["age"] = round(max(0.0, now - float(doc.get("heartbeat", now))), 3)
                out.append(doc)
        if self.metrics is not None:
            self.metrics.members.set(len(out))
        return sorted(out, key=lambda d: d["id"])

    def record(self, member_id: str) -> dict | None:
        raw = self.r.get(self.keys.member(member_id))
        return json.loads(raw) if raw else None

    # --- background loop ------------------------------------------------------------------
    def start(self) -> None:
        self.beat()                              # registered before the API answers
        self._thread = threading.Thread(target=self._run, name="cluster-heartbeat", daemon=True)
        self._thread.start()
        log.info("cluster member joined member=%s", self.id)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
                self.members()                   # keeps the members gauge current
                self.outage.ok()
                for fn in list(self.after_beat):
                    fn()
            except REDIS_ERRORS as e:
                self.outage.failed("heartbeat", e)
            except Exception:                    # never let the loop die: the member would be dropped
                log.exception("cluster heartbeat failed member=%s", self.id)

    def stop(self) -> None:
        """Leave the cluster: stop beating, release leases, remove the record."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 2)
        try:
            self.leases.release_all()
            self.r.zrem(self.keys.members(), self.id)
            self.r.delete(self.keys.member(self.id), self.keys.member_leases(self.id))
            log.info("cluster member left member=%s", self.id)
        except REDIS_ERRORS as e:
            log.warning("cluster leave incomplete member=%s: %s", self.id, e)
