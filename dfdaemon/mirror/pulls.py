"""Per-pull traces of the mirror: one record and one log line per blob GET, and the recent ones for
``GET /debug/pulls``.

A record says where the bytes came from (the local cache, peers, the supernode, the origin directly), how
long the response took and, when something held it up, why: the P2P download failed and the origin was read
directly, no peer had the pieces (all came from the supernode), the origin refused or throttled, a
configured rate limit made the download wait, or the response joined a download another client started.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)

RECENT = 200            # records kept for /debug/pulls


@dataclass
class PullRecord:
    id: int
    registry: str
    repository: str
    digest: str
    range: str | None
    started: float                                  # seconds since the epoch
    source: str = ""                                # cache | p2p | direct | joined
    status: str = "running"                         # running | done | failed
    bytes_sent: int = 0                             # body bytes sent to the client
    bytes_from: dict = field(default_factory=dict)  # cache / peers / supernode / origin -> bytes obtained
    seconds: float = 0.0
    ratelimit_wait: float = 0.0                     # seconds the host's downloads waited on a limit meanwhile
    slow: list = field(default_factory=list)        # reasons this pull was held up
    error: str = ""
    _t0: float = field(default=0.0, repr=False)
    _wait0: float = field(default=0.0, repr=False)

    def as_json(self) -> dict:
        d = asdict(self)
        d.pop("_t0")
        d.pop("_wait0")
        return d


class PullLog:
    """Thread-safe ring of recent pulls; counts limit waits reported by the downloader."""

    def __init__(self, keep: int = RECENT, clock=time.monotonic, wall=time.time):
        self._lock = threading.Lock()
        self._recent: deque[PullRecord] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._clock, self._wall = clock, wall
        self.limit_wait_total = 0.0
        self.local = {"hit": 0, "miss": 0}         # blob GETs answered from this host's cache, or not

    def limit_waited(self, seconds: float) -> None:
        """The downloader's ``on_limit_wait`` hook: a rate limit held a download for ``seconds``."""
        with self._lock:
            self.limit_wait_total += float(seconds)

    def count_local(self, outcome: str) -> None:
        with self._lock:
            self.local[outcome] += 1

    def begin(self, registry: str, repository: str, digest: str, range_header: str | None) -> PullRecord:
        rec = PullRecord(next(self._ids), registry, repository, digest, range_header, self._wall())
        rec._t0 = self._clock()
        with self._lock:
            rec._wait0 = self.limit_wait_total
            self._recent.append(rec)
        return rec

    def end(self, rec: PullRecord, flight=None, error: str = "") -> None:
        """Close ``rec``: its timings, where its bytes came from (the flight it read, if any), why it was slow."""
        if rec.status != "running":
            return
        rec.seconds = round(self._clock() - rec._t0, 4)
        with self._lock:
            rec.ratelimit_wait = round(self.limit_wait_total - rec._wait0, 4)
        if flight is not None:
            rec.bytes_from.update({k: v for k, v in flight.obtained.items() if v})
            if flight.fallback_reason:
                rec.slow.append(f"P2P download failed, read the origin directly: {flight.fallback_reason}")
            if flight.source == "p2p" and flight.obtained.get("supernode") and not flight.obtained.get("peers"):
                rec.slow.append("no peers: every piece came from the supernode")
        if rec.ratelimit_wait > 0:
            rec.slow.append(f"rate limit: downloads waited {rec.ratelimit_wait:.2f}s on a configured limit")
        if error:
            rec.error = error
            if "rate limiting" in error or "429" in error:
                rec.slow.append("origin throttled (HTTP 429)")
        rec.status = "failed" if error else "done"
        log.info("pull %s registry=%s repository=%s digest=%s range=%s source=%s bytes=%d from=%s seconds=%.3f%s%s",
                 rec.status, rec.registry, rec.repository, rec.digest, rec.range or "-", rec.source or "-",
                 rec.bytes_sent, ",".join(f"{k}:{v}" for k, v in sorted(rec.bytes_from.items())) or "-",
                 rec.seconds, f" slow={'; '.join(rec.slow)}" if rec.slow else "",
                 f" error={error}" if error else "")

    def recent(self, limit: int = RECENT) -> list[dict]:
        """Newest first."""
        with self._lock:
            records = list(self._recent)[-limit:]
        return [r.as_json() for r in reversed(records)]


def counting(rec: PullRecord, inner=None):
    """A ``sent(n)`` callback that counts the bytes sent to the client, then calls ``inner``."""
    def sent(n: int) -> None:
        rec.bytes_sent += n
        if inner is not None:
            inner(n)
    return sent
