"""Preheat records and jobs: in memory, persisted in SQLite so a restart does not lose them.

Records are kept ``ttl`` seconds after they finished (Dragonfly keeps them 24 h); :meth:`expire`
drops older ones with their jobs. Headers are never written (see :mod:`.models`). Records that
were still running when the process stopped are loaded as FAILED ("interrupted by a restart").
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time

from .models import FAILED, Job, PreheatRecord

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS preheat_records (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS preheat_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    created REAL NOT NULL,
    args TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS preheat_jobs_record ON preheat_jobs (record_id);
"""


class PreheatStore:
    def __init__(self, path: str, ttl: float = 86400.0, clock=time.time):
        self.path = path
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.RLock()
        self._records: dict[str, PreheatRecord] = {}
        self._jobs: dict[int, Job] = {}
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._load()

    # -- loading ---------------------------------------------------------------------------------
    def _load(self) -> None:
        interrupted = []
        for rid, data in self._db.execute("SELECT id, data FROM preheat_records"):
            try:
                rec = PreheatRecord.from_json(data)
            except (ValueError, TypeError):
                log.warning("preheat store: unreadable record id=%s dropped", rid)
                continue
            if not rec.finished:
                rec.status, rec.error = FAILED, "interrupted by a restart of the supernode"
                rec.finish_time = rec.updated = self.clock()
                interrupted.append(rec)
            self._records[rec.id] = rec
        for jid, rid, created, args in self._db.execute("SELECT id, record_id, created, args FROM preheat_jobs"):
            try:
                parsed = json.loads(args)
            except ValueError:
                parsed = {}
            self._jobs[jid] = Job(jid, rid, created, parsed if isinstance(parsed, dict) else {})
        for rec in interrupted:
            self._write(rec)
        log.info("preheat store loaded path=%s records=%d jobs=%d interrupted=%d", self.path,
                 len(self._records), len(self._jobs), len(interrupted))

    # -- records ---------------------------------------------------------------------------------
    def _write(self, rec: PreheatRecord) -> None:
        self._db.execute("INSERT INTO preheat_records (id, data, updated) VALUES (?, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                         (rec.id, rec.to_json(), rec.updated))

    def put(self, rec: PreheatRecord) -> PreheatRecord:
        """Insert or replace ``rec`` (memory and disk)."""
        with self._lock:
            rec.updated = self.clock()
            self._records[rec.id] = rec
            self._write(rec)
        return rec

    def save(self, rec: PreheatRecord) -> None:
        """Persist changes made to a stored record."""
        self.put(rec)

    def get(self, rec_id: str) -> PreheatRecord | None:
        return self._records.get(rec_id)

    def list(self) -> list[PreheatRecord]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: (r.created, r.id))

    def delete(self, rec_id: str) -> bool:
        with self._lock:
            rec = self._records.pop(rec_id, None)
            self._db.execute("DELETE FROM preheat_records WHERE id = ?", (rec_id,))
            return rec is not None

    # -- jobs ------------------------------------------------------------------------------------
    def new_job(self, record_id: str, args: dict | None = None) -> Job:
        with self._lock:
            now = self.clock()
            cur = self._db.execute("INSERT INTO preheat_jobs (record_id, created, args) VALUES (?, ?, ?)",
                                   (record_id, now, json.dumps(args or {}, sort_keys=True)))
            job = Job(int(cur.lastrowid), record_id, now, dict(args or {}))
            self._jobs[job.id] = job
            return job

    def job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id)

    # -- expiry ----------------------------------------------------------------------------------
    def expire(self, now: float | None = None) -> int:
        """Drop finished records (and their jobs) older than ``ttl``; returns how many records went."""
        now = self.clock() if now is None else now
        deadline = now - self.ttl
        with self._lock:
            old = [r.id for r in self._records.values() if r.finished and (r.finish_time or r.updated) < deadline]
            for rid in old:
                self._records.pop(rid, None)
            gone_jobs = [j.id for j in self._jobs.values() if j.record_id not in self._records]
            for jid in gone_jobs:
                self._jobs.pop(jid, None)
            if old:
                self._db.executemany("DELETE FROM preheat_records WHERE id = ?", [(r,) for r in old])
            if gone_jobs:
                self._db.executemany("DELETE FROM preheat_jobs WHERE id = ?", [(j,) for j in gone_jobs])
        if old:
            log.info("preheat store expired records=%d jobs=%d", len(old), len(gone_jobs))
        return len(old)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
