"""A durable work queue of ImageEvents in one SQLite file.

- ``enqueue_many`` is idempotent on :meth:`ImageEvent.dedup_key` within ``dedup_window``
  seconds of the first delivery, whatever state that first item is in (queued, being
  worked on, done or dead), so Harbor's and registry:2's redeliveries are absorbed.
- Items survive a process restart (WAL journal, every change committed).
- ``claim`` hands out ready items under a lease; ``ack`` marks them done; ``fail`` puts
  them back with a delay, or into the dead letters once ``max_attempts`` claims failed.
  An item whose lease ran out (its worker died) can be claimed again.
- One connection guarded by a lock: safe for threads and greenlets of one process;
  writes run in ``BEGIN IMMEDIATE`` transactions, so several processes may share a file.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from .events import ImageEvent

log = logging.getLogger(__name__)

READY, CLAIMED, DONE, DEAD = "ready", "claimed", "done", "dead"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS webhook_items_dedup ON webhook_items (dedup_key, created_at);
CREATE INDEX IF NOT EXISTS webhook_items_due ON webhook_items (state, available_at);
"""


@dataclass(frozen=True)
class WorkItem:
    id: int
    event: ImageEvent
    state: str
    attempts: int
    last_error: str
    created_at: float


class SqliteWorkQueue:
    def __init__(self, path: str, *, dedup_window: float = 600.0, max_attempts: int = 5,
                 lease: float = 300.0, reclaim_on_open: bool = True,
                 clock: Callable[[], float] = time.time):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.path = path
        self.dedup_window = float(dedup_window)
        self.max_attempts = int(max_attempts)
        self.lease = float(lease)
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        if path != ":memory:":
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if reclaim_on_open:
            with self._tx() as db:
                n = db.execute("UPDATE webhook_items SET state=?, lease_until=0 WHERE state=?",
                               (READY, CLAIMED)).rowcount
            if n:
                log.info("webhook queue reclaimed items=%d path=%s", n, path)

    # -- plumbing ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, queue):
            self.q = queue

        def __enter__(self):
            self.q._lock.acquire()
            try:
                self.q._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.q._lock.release()
                raise
            return self.q._db

        def __exit__(self, exc_type, exc, tb):
            try:
                self.q._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.q._lock.release()
            return False

    def _tx(self) -> "_Tx":
        if self._db is None:
            raise RuntimeError("webhook queue is closed")
        return self._Tx(self)

    def add_listener(self, fn: Callable[[], None]) -> None:
        """``fn()`` is called after an enqueue that added items (e.g. to wake a dispatcher)."""
        self._listeners.append(fn)

    # -- producer side ----------------------------------------------------------------------
    def enqueue(self, event: ImageEvent) -> bool:
        """Queue one event; False when it duplicates one seen within the dedup window."""
        return self.enqueue_many([event])[0] == 1

    def enqueue_many(self, events: Iterable[ImageEvent]) -> tuple[int, int]:
        """Queue events in one transaction; return (queued, duplicates)."""
        queued = dup = 0
        now = self._clock()
        with self._tx() as db:
            for event in events:
                key = event.dedup_key()
                seen = db.execute(
                    "SELECT 1 FROM webhook_items WHERE dedup_key=? AND created_at>=? LIMIT 1",
                    (key, now - self.dedup_window)).fetchone()
                if seen:
                    dup += 1
                    continue
                db.execute(
                    "INSERT INTO webhook_items (dedup_key, payload, state, available_at, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (key, event.to_json(), READY, now, now, now))
                queued += 1
        if queued:
            for fn in list(self._listeners):
                try:
                    fn()
                except Exception:  # a listener must not fail the enqueue
                    log.exception("webhook queue listener failed")
        return queued, dup

    # -- consumer side ----------------------------------------------------------------------
    def claim(self, limit: int = 1) -> list[WorkItem]:
        """Take up to ``limit`` due items (ready, or claimed with an expired lease)."""
        now = self._clock()
        with self._tx() as db:
            rows = db.execute(
                "SELECT id FROM webhook_items WHERE (state=? AND available_at<=?) OR (state=? AND lease_until<?)"
                " ORDER BY available_at, id LIMIT ?", (READY, now, CLAIMED, now, int(limit))).fetchall()
            ids = [r[0] for r in rows]
            for item_id in ids:
                db.execute("UPDATE webhook_items SET state=?, attempts=attempts+1, lease_until=?, updated_at=?"
                           " WHERE id=?", (CLAIMED, now + self.lease, now, item_id))
            items = [self._get(db, i) for i in ids]
        return items

    def ack(self, item_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE webhook_items SET state=?, lease_until=0, updated_at=?, last_error='' WHERE id=?",
                       (DONE, self._clock(), item_id))

    def release(self, item_id: int) -> None:
        """Give a claimed item back unhandled (its attempt is not counted)."""
        with self._tx() as db:
            db.execute("UPDATE webhook_items SET state=?, attempts=MAX(0, attempts-1), lease_until=0, updated_at=?"
                       " WHERE id=? AND state=?", (READY, self._clock(), item_id, CLAIMED))

    def fail(self, item_id: int, error: str, retry_delay: float) -> str:
        """Record a failed attempt; return the new state (``ready`` again, or ``dead``)."""
        now = self._clock()
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM webhook_items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                raise KeyError(item_id)
            state = DEAD if row[0] >= self.max_attempts else READY
            db.execute("UPDATE webhook_items SET state=?, available_at=?, lease_until=0, updated_at=?, last_error=?"
                       " WHERE id=?", (state, now + max(0.0, retry_delay), now, str(error)[:2000], item_id))
        return state

    # -- inspection and housekeeping --------------------------------------------------------
    def get(self, item_id: int) -> WorkItem | None:
        with self._tx() as db:
            return self._get(db, item_id)

    def items(self, state: str | None = None, limit: int = 1000) -> list[WorkItem]:
        with self._tx() as db:
            if state is None:
                rows = db.execute("SELECT id FROM webhook_items ORDER BY id LIMIT ?", (limit,)).fetchall()
            else:
                rows = db.execute("SELECT id FROM webhook_items WHERE state=? ORDER BY id LIMIT ?",
                                  (state, limit)).fetchall()
            return [self._get(db, r[0]) for r in rows]

    def dead_letters(self, limit: int = 1000) -> list[WorkItem]:
        return self.items(DEAD, limit)

    def requeue_dead(self, item_id: int | None = None) -> int:
        """Give dead letters (one, or all) a fresh set of attempts."""
        now = self._clock()
        sql = "UPDATE webhook_items SET state=?, attempts=0, available_at=?, updated_at=? WHERE state=?"
        args: tuple = (READY, now, now, DEAD)
        if item_id is not None:
            sql += " AND id=?"
            args += (item_id,)
        with self._tx() as db:
            n = db.execute(sql, args).rowcount
        if n:
            for fn in list(self._listeners):
                fn()
        return n

    def counts(self) -> dict:
        with self._tx() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM webhook_items GROUP BY state").fetchall()
        out = {READY: 0, CLAIMED: 0, DONE: 0, DEAD: 0}
        out.update({s: n for s, n in rows})
        return out

    def next_due(self) -> float | None:
        """When the next ready item becomes due (Unix seconds), or None when none waits."""
        with self._tx() as db:
            row = db.execute("SELECT MIN(available_at) FROM webhook_items WHERE state=?", (READY,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def purge(self) -> int:
        """Forget done items older than the dedup window (dead letters are kept)."""
        with self._tx() as db:
            return db.execute("DELETE FROM webhook_items WHERE state=? AND created_at<?",
                              (DONE, self._clock() - self.dedup_window)).rowcount

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @staticmethod
    def _get(db, item_id: int) -> WorkItem | None:
        row = db.execute("SELECT id, payload, state, attempts, last_error, created_at FROM webhook_items"
                         " WHERE id=?", (item_id,)).fetchone()
        if row is None:
            return None
        return WorkItem(id=row[0], event=ImageEvent.from_json(row[1]), state=row[2], attempts=row[3],
                        last_error=row[4], created_at=row[5])
