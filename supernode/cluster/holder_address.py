"""Where a task's pieces are on the cluster: the piece server of the member whose CDN fetched (or is fetching)
the task, found in Redis (``t:<id>:owner``, else the ``cdn:<id>`` lease, then the member's record) and kept
per task for ``ttl`` seconds, so neither the piece relay nor a ``/peer/task`` answer pays those round trips
per piece. Only answers naming another member are kept; ``forget`` drops one that failed (a member that died).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .cdn import lease_name
from .outage import REDIS_ERRORS

MAX_ENTRIES = 4096          # tasks remembered at once; expired entries are dropped past this


@dataclass(frozen=True)
class PieceServer:
    member: str
    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_pieces(member: str, record: dict) -> PieceServer | None:
    """The ``pieces`` entry (``host:port``) of a member's heartbeat record, or None when it has none."""
    where = (record or {}).get("pieces") or ""
    host, sep, port = where.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return PieceServer(member, record.get("scheme", "http"), host.strip("[]"), int(port))


class HolderAddresses:
    def __init__(self, cdn, records, node, ttl: float = 1.0, clock=time.monotonic):
        self.cdn, self.records, self.node, self.ttl, self.clock = cdn, records, node, ttl, clock
        self._cache: dict[str, tuple[float, PieceServer]] = {}
        self._lock = threading.Lock()

    def of(self, task_id: str) -> PieceServer | None:
        """The piece server of the member holding ``task_id`` when that is another member; None when this
        member runs the task's CDN, when no member holds it, or when Redis cannot say (then this member
        serves what its own disk has)."""
        if self.cdn.runs(task_id):
            return None
        now = self.clock()
        with self._lock:
            hit = self._cache.get(task_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            holder = self.records.owner(task_id) or self.node.leases.holder(lease_name(task_id))
            if not holder or holder == self.node.member_id:
                return None
            server = parse_pieces(holder, self.node.membership.record(holder))
        except REDIS_ERRORS as e:
            self.node.outage.failed("piece holder", e)
            return None
        if server is not None:
            with self._lock:
                if len(self._cache) >= MAX_ENTRIES:
                    self._cache = {t: v for t, v in self._cache.items() if v[0] > now}
                self._cache[task_id] = (now + self.ttl, server)
        return server

    def forget(self, task_id: str) -> None:
        with self._lock:
            self._cache.pop(task_id, None)
