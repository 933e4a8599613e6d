"""One member per cron firing, and a firing its member could not finish handed to another member.

``claim(job_id, run_time)`` is True on exactly one member of the cluster for each (scheduled job, scheduled run
time), by one atomic Redis ``SET <prefix>:cron:<job id>:<run time> <member> NX EX <ttl>``. ``ttl`` outlives the
window in which another member may still fire that run (its misfire grace time).

The member that won a claim also notes the firing in its hash of unfinished firings
(``<prefix>:cron:pending:<member>``, field ``<job id>|<run time>``) and removes it with :meth:`done` when the run
ended. A firing still noted there was not finished: its member was killed during the run, or stopped while it ran.
Such firings are taken with :meth:`take_over` (the firings of members that left the cluster, by the member that
sweeps the cluster's leftovers) or :meth:`take_leftovers` (a member's own, at its next start) and run once more; an
``HDEL`` that removed the field decides which member took one, so no firing is taken twice.

Redis unreachable: no member can know whether another ran the firing, so this member does not run it (the
failure is logged once per interval through the member's outage log, and the firing counts as missed)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Firing:
    """One scheduled run of a cron job: ``member`` is the member that claimed it."""

    job_id: str
    run_time: datetime
    member: str

    @property
    def field(self) -> str:
        return f"{self.job_id}|{self.run_time.timestamp():.3f}"

    @classmethod
    def parse(cls, field: str, member: str) -> "Firing | None":
        job_id, sep, stamp = field.rpartition("|")
        try:
            when = datetime.fromtimestamp(float(stamp), tz=timezone.utc)
        except ValueError:
            return None
        return cls(job_id, when, member) if sep and job_id else None


class FiringClaims:
    def __init__(self, client, keys, member_id: str, ttl: float, outage=None):
        self.redis, self.keys, self.member_id = client, keys, member_id
        self.ttl = max(60, int(ttl))
        self.outage = outage

    def key(self, job_id: str, run_time: datetime) -> str:
        return self.keys.g(f"cron:{job_id}:{run_time.timestamp():.3f}")

    def pending_key(self, member_id: str) -> str:
        return self.keys.g(f"cron:pending:{member_id}")

    def claim(self, job_id: str, run_time: datetime) -> bool:
        try:
            took = self.redis.set(self.key(job_id, run_time), self.member_id, nx=True, ex=self.ttl)
            if took:
                self._note(Firing(job_id, run_time, self.member_id))
        except REDIS_ERRORS as e:
            self._failed("cron firing claim", e)
            return False
        self._ok()
        if not took:
            log.debug("cron firing taken by another member job=%s at=%s", job_id, run_time.isoformat())
        return bool(took)

    def adopt(self, firing: Firing) -> None:
        """Note a taken-over firing as this member's own unfinished one (a member that dies running it passes
        it on again)."""
        try:
            self._note(Firing(firing.job_id, firing.run_time, self.member_id))
        except REDIS_ERRORS as e:
            self._failed("cron firing take-over", e)

    def done(self, job_id: str, run_time: datetime) -> None:
        try:
            self.redis.hdel(self.pending_key(self.member_id), Firing(job_id, run_time, self.member_id).field)
        except REDIS_ERRORS as e:     # the firing stays noted: at worst it runs once more after a take-over
            self._failed("cron firing end", e)

    def take_over(self, live_members) -> list[Firing]:
        """The unfinished firings of members not in ``live_members``, each removed from its member's hash."""
        live = set(live_members)
        head = self.pending_key("")
        taken: list[Firing] = []
        for key in self.redis.scan_iter(match=head + "*", count=200):
            member = key[len(head):]
            if member and member not in live:
                taken += self._take(member)
        return taken

    def take_leftovers(self) -> list[Firing]:
        """This member's own firings left unfinished by its previous process (call before its scheduler runs)."""
        try:
            return self._take(self.member_id)
        except REDIS_ERRORS as e:
            self._failed("cron firing leftovers", e)
            return []

    def _take(self, member: str) -> list[Firing]:
        key = self.pending_key(member)
        taken = []
        for field in self.redis.hkeys(key):
            if not self.redis.hdel(key, field):
                continue                        # another member took it first
            firing = Firing.parse(field, member)
            if firing is None:
                log.warning("unreadable unfinished cron firing dropped member=%s field=%r", member, field)
                continue
            taken.append(firing)
        return taken

    def _note(self, firing: Firing) -> None:
        self.redis.hset(self.pending_key(firing.member), firing.field, f"{firing.run_time.timestamp():.3f}")

    def _failed(self, what: str, e: Exception) -> None:
        if self.outage is not None:
            self.outage.failed(what, e)

    def _ok(self) -> None:
        if self.outage is not None:
            self.outage.ok()
