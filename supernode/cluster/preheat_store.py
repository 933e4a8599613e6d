"""Preheat records and jobs in the cluster's Redis: the same interface as
:class:`supernode.preheat.store.PreheatStore` (the contract suite in tests/contract/preheat runs over both), so a
preheat created on one member is listed, read and waited for on every member and survives the restart of the
member that runs it.

- Records: hash ``preheat:records`` (id -> the record's JSON, never its headers) and ``preheat:runner`` (id ->
  member running it). The records this member runs are also kept as live objects (with their headers, which
  never leave the member), as the SQLite store keeps all of them: ``get`` answers those from memory.
- Jobs: hash ``preheat:jobs`` (id -> JSON), ids from the counter ``preheat:jobseq``.
- A restarted member marks the unfinished records it ran FAILED ("interrupted by a restart"), as the SQLite
  store does; :meth:`expire` also fails unfinished records whose member left the cluster (its ``member:<id>``
  key expired), so nothing waits for a member that is gone, and so does :meth:`get` for the record it reads
  (a preheat of the same image started again on another member then runs anew instead of joining the dead one).
- Redis unreachable: reads and :meth:`put` (a new preheat) raise the cluster's UNAVAILABLE error (HTTP 503,
  logged once per interval); a status change of a running preheat (:meth:`save`) stays in memory and is
  written at the next successful call.
"""
from __future__ import annotations

import json
import logging
import threading
import time

from supernode.preheat.models import FAILED, Job, PreheatRecord

from .outage import REDIS_ERRORS, unavailable

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted by a restart of the supernode"


class RedisPreheatStore:
    def __init__(self, client, keys, member_id: str, ttl: float = 86400.0, clock=time.time, outage=None,
                 member_alive=None):
        """``member_alive(member_id) -> bool``: whether a member still heart-beats (default: its record key
        exists in Redis)."""
        self.redis, self.keys, self.member_id = client, keys, member_id
        self.ttl, self.clock, self.outage = ttl, clock, outage
        self.member_alive = member_alive or (lambda mid: bool(self.redis.exists(self.keys.member(mid))))
        self._lock = threading.RLock()
        self._live: dict[str, PreheatRecord] = {}
        self._unsaved: dict[str, PreheatRecord] = {}
        self._k_rec, self._k_run = keys.g("preheat:records"), keys.g("preheat:runner")
        self._k_jobs, self._k_seq = keys.g("preheat:jobs"), keys.g("preheat:jobseq")
        self._call("preheat store load", self._load)

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, what: str, fn, *args):
        try:
            out = fn(*args)
        except REDIS_ERRORS as e:
            if self.outage is not None:
                self.outage.failed(what, e)
            raise unavailable(e) from None
        if self.outage is not None:
            self.outage.ok()
        return out

    def _flush(self) -> None:
        """Write the status changes an outage kept in memory (called before every Redis call)."""
        with self._lock:
            if not self._unsaved:
                return
            self._write_many(list(self._unsaved.values()))
            self._unsaved.clear()

    def _write_many(self, recs) -> None:
        if not recs:
            return
        running = {r.id: self.member_id for r in recs if not r.finished}
        done = [r.id for r in recs if r.finished]
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._k_rec, mapping={r.id: r.to_json() for r in recs})
        if running:
            pipe.hset(self._k_run, mapping=running)
        if done:
            pipe.hdel(self._k_run, *done)
        pipe.execute()

    def _load(self) -> None:
        mine = [rid for rid, mid in self.redis.hgetall(self._k_run).items() if mid == self.member_id]
        interrupted = []
        for rid, data in zip(mine, self.redis.hmget(self._k_rec, mine) if mine else []):
            rec = self._parse(rid, data)
            if rec is not None and not rec.finished:
                rec.status, rec.error = FAILED, INTERRUPTED
                rec.finish_time = rec.updated = self.clock()
                interrupted.append(rec)
        self._write_many(interrupted)
        if mine:
            self.redis.hdel(self._k_run, *mine)
        log.info("preheat store in redis member=%s interrupted=%d", self.member_id, len(interrupted))

    @staticmethod
    def _parse(rid, data) -> PreheatRecord | None:
        if data is None:
            return None
        try:
            return PreheatRecord.from_json(data)
        except (ValueError, TypeError):
            log.warning("preheat store: unreadable record id=%s ignored", rid)
            return None

    # -- records ---------------------------------------------------------------------------------
    def put(self, rec: PreheatRecord) -> PreheatRecord:
        """Insert or replace ``rec``; this member runs it (kept live with its headers until it finished)."""
        with self._lock:
            rec.updated = self.clock()

            def write():
                self._flush()
                self._write_many([rec])
            self._call("preheat store write", write)
            if rec.finished:
                self._live.pop(rec.id, None)
            else:
                self._live[rec.id] = rec
        return rec

    def save(self, rec: PreheatRecord) -> None:
        """Persist changes made to a record; kept in memory and written later while Redis is unreachable."""
        with self._lock:
            rec.updated = self.clock()
            if rec.id in self._live and rec.finished:
                self._live.pop(rec.id, None)
            self._unsaved[rec.id] = rec
        try:
            self._call("preheat store write", self._flush)
        except Exception:                           # noqa: BLE001 - kept in _unsaved, written at the next call
            log.debug("preheat record %s kept for the next write", rec.id)

    def get(self, rec_id: str) -> PreheatRecord | None:
        with self._lock:
            live = self._unsaved.get(rec_id) or self._live.get(rec_id)
        if live is not None:
            return live

        def read():
            self._flush()
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(self._k_rec, rec_id)
            pipe.hget(self._k_run, rec_id)
            data, runner = pipe.execute()
            rec = self._parse(rec_id, data)
            if rec is not None and not rec.finished and runner and runner != self.member_id \
                    and not self.member_alive(runner):
                self._fail_orphans([(rec, runner)], self.clock())   # nothing waits for a member that is gone
            return rec
        return self._call("preheat store read", read)

    def _fail_orphans(self, orphans, now: float) -> None:
        for rec, mid in orphans:
            rec.status, rec.error = FAILED, f"interrupted: supernode {mid} left the cluster"
            rec.finish_time = rec.updated = now
        self._write_many([rec for rec, _ in orphans])

    def list(self) -> list[PreheatRecord]:
        def read():
            self._flush()
            return self.redis.hgetall(self._k_rec)
        recs = {rid: r for rid, r in ((rid, self._parse(rid, d)) for rid, d in
                                      self._call("preheat store read", read).items()) if r is not None}
        with self._lock:
            recs.update(self._live)
        return sorted(recs.values(), key=lambda r: (r.created, r.id))

    def delete(self, rec_id: str) -> bool:
        with self._lock:
            self._live.pop(rec_id, None)
            self._unsaved.pop(rec_id, None)

            def drop():
                self._flush()
                pipe = self.redis.pipeline(transaction=True)
                pipe.hdel(self._k_rec, rec_id)
                pipe.hdel(self._k_run, rec_id)
                return pipe.execute()[0]
            return bool(self._call("preheat store delete", drop))

    # -- jobs ------------------------------------------------------------------------------------
    def new_job(self, record_id: str, args: dict | None = None) -> Job:
        now = self.clock()
        args = dict(args or {})

        def write():
            jid = int(self.redis.incr(self._k_seq))
            self.redis.hset(self._k_jobs, str(jid), json.dumps({"record_id": record_id, "created": now,
                                                                "args": args}, sort_keys=True))
            return jid
        return Job(self._call("preheat job write", write), record_id, now, args)

    @staticmethod
    def _job(jid, data) -> Job | None:
        if data is None:
            return None
        try:
            d = json.loads(data)
            args = d.get("args") if isinstance(d.get("args"), dict) else {}
            return Job(int(jid), str(d["record_id"]), float(d["created"]), args)
        except (ValueError, TypeError, KeyError):
            log.warning("preheat store: unreadable job id=%s ignored", jid)
            return None

    def job(self, job_id: int) -> Job | None:
        return self._job(job_id, self._call("preheat job read", self.redis.hget, self._k_jobs, str(job_id)))

    def jobs(self) -> list[Job]:
        raw = self._call("preheat job read", self.redis.hgetall, self._k_jobs)
        return sorted((j for j in (self._job(k, v) for k, v in raw.items()) if j is not None), key=lambda j: j.id)

    # -- expiry ----------------------------------------------------------------------------------
    def expire(self, now: float | None = None) -> int:
        """Drop finished records (and their jobs) older than ``ttl``, and fail unfinished records whose member
        left the cluster; returns how many records went."""
        now = self.clock() if now is None else now
        deadline = now - self.ttl

        def run():
            self._flush()
            raw = self.redis.hgetall(self._k_rec)
            runners = self.redis.hgetall(self._k_run)
            recs = {rid: r for rid, r in ((rid, self._parse(rid, d)) for rid, d in raw.items()) if r is not None}
            old = [r.id for r in recs.values() if r.finished and (r.finish_time or r.updated) < deadline]
            orphans = []
            for rid, mid in runners.items():
                rec = recs.get(rid)
                if rec is None or rec.finished:
                    continue
                if mid != self.member_id and not self.member_alive(mid):
                    orphans.append((rec, mid))
            self._fail_orphans(orphans, now)
            kept = set(recs) - set(old)
            gone_jobs = []
            for jid, data in self.redis.hgetall(self._k_jobs).items():
                job = self._job(jid, data)
                if job is None or job.record_id not in kept:
                    gone_jobs.append(jid)
            if old:
                self.redis.hdel(self._k_rec, *old)
                self.redis.hdel(self._k_run, *old)
            if gone_jobs:
                self.redis.hdel(self._k_jobs, *gone_jobs)
            return old, gone_jobs, orphans
        old, gone_jobs, orphans = self._call("preheat store expiry", run)
        if old or orphans:
            log.info("preheat store expired records=%d jobs=%d orphans_failed=%d", len(old), len(gone_jobs),
                     len(orphans))
        return len(old)

    def close(self) -> None:
        try:
            self._call("preheat store close", self._flush)
        except Exception:                           # noqa: BLE001 - closing: the outage was logged
            pass
