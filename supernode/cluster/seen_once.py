"""The cluster's "seen once" memory: ``first_time(key)`` is True on exactly one member of the cluster per key
within ``ttl`` seconds, by one atomic Redis ``SET key member NX EX ttl`` (the same interface as
:class:`dfcommon.recent_keys.RecentKeys`, which a supernode without a cluster keeps using).

Redis unreachable: the call raises the cluster's UNAVAILABLE error (HTTP 503) after logging through the
member's outage log (once per interval), so the caller takes nothing half-way: a webhook sender retries."""
from __future__ import annotations

from .outage import REDIS_ERRORS, unavailable


class SharedSeenOnce:
    def __init__(self, client, keys, namespace: str, ttl: float, member_id: str, outage=None):
        self.redis, self.keys, self.namespace = client, keys, namespace
        self.ttl = max(1, int(round(ttl)))          # whole seconds; a zero window still dedups for one second
        self.member_id, self.outage = member_id, outage

    def key(self, key: str) -> str:
        return self.keys.g(f"seen:{self.namespace}:{key}")

    def first_time(self, key: str) -> bool:
        try:
            took = self.redis.set(self.key(key), self.member_id, nx=True, ex=self.ttl)
        except REDIS_ERRORS as e:
            self._down(f"{self.namespace} dedup", e)
        self._up()
        return bool(took)

    def forget(self, key: str) -> None:
        """Undo a ``first_time`` whose work could not be taken (so a redelivery is not absorbed)."""
        try:
            self.redis.delete(self.key(key))
        except REDIS_ERRORS as e:
            self._down(f"{self.namespace} dedup release", e)
        self._up()

    def _down(self, what: str, err: Exception):
        if self.outage is not None:
            self.outage.failed(what, err)
        raise unavailable(err) from None

    def _up(self) -> None:
        if self.outage is not None:
            self.outage.ok()
