"""One member per cron firing: ``claim(job_id, run_time)`` is True on exactly one member of the cluster for each
(scheduled job, scheduled run time), by one atomic Redis ``SET <prefix>:cron:<job id>:<run time> <member> NX EX
<ttl>``. ``ttl`` outlives the window in which another member may still fire that run (its misfire grace time).

Redis unreachable: no member can know whether another ran the firing, so this member does not run it (the
failure is logged once per interval through the member's outage log, and the firing counts as missed)."""
from __future__ import annotations

import logging
from datetime import datetime

from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)


class FiringClaims:
    def __init__(self, client, keys, member_id: str, ttl: float, outage=None):
        self.redis, self.keys, self.member_id = client, keys, member_id
        self.ttl = max(60, int(ttl))
        self.outage = outage

    def key(self, job_id: str, run_time: datetime) -> str:
        return self.keys.g(f"cron:{job_id}:{run_time.timestamp():.3f}")

    def claim(self, job_id: str, run_time: datetime) -> bool:
        try:
            took = self.redis.set(self.key(job_id, run_time), self.member_id, nx=True, ex=self.ttl)
        except REDIS_ERRORS as e:
            if self.outage is not None:
                self.outage.failed("cron firing claim", e)
            return False
        if self.outage is not None:
            self.outage.ok()
        if not took:
            log.debug("cron firing taken by another member job=%s at=%s", job_id, run_time.isoformat())
        return bool(took)
