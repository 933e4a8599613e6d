"""Leases in Redis: a key holding the holder's member id, taken with SET NX and an expiry, renewed by the
holder at each heartbeat, released by compare-and-delete. A holder that dies stops renewing: its leases
expire after ``lease_ttl`` (or at once when the others drop it from the membership)."""
from __future__ import annotations

import threading

from .keys import Keys

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Leases:
    def __init__(self, client, keys: Keys, member_id: str, ttl: float, metrics=None):
        self.r, self.keys, self.me, self.ttl_ms = client, keys, member_id, max(1, int(ttl * 1000))
        self.metrics = metrics
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def take(self, name: str) -> bool:
        """Take lease ``name`` unless another member holds it; True when this member holds it now."""
        key = self.keys.lease(name)
        if self.r.set(key, self.me, nx=True, px=self.ttl_ms):
            with self._lock:
                self._held.add(name)
            self.r.sadd(self.keys.member_leases(self.me), name)
            return True
        if self.r.get(key) == self.me:
            with self._lock:
                self._held.add(name)
            return True
        return False

    def holder(self, name: str) -> str | None:
        return self.r.get(self.keys.lease(name))

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def renew_all(self) -> list[str]:
        """Renew every lease held; returns the names lost (expired and taken by another member)."""
        lost = []
        for name in self.held():
            if not self._renew(keys=[self.keys.lease(name)], args=[self.me, self.ttl_ms]):
                lost.append(name)
        if lost:
            with self._lock:
                self._held.difference_update(lost)
            self.r.srem(self.keys.member_leases(self.me), *lost)
        return lost

    def release(self, name: str) -> None:
        with self._lock:
            self._held.discard(name)
        self._release(keys=[self.keys.lease(name)], args=[self.me])
        self.r.srem(self.keys.member_leases(self.me), name)

    def release_all(self) -> None:
        for name in self.held():
            self.release(name)

    def release_of(self, member_id: str) -> int:
        """Release the leases a dropped member still holds (only those it still holds)."""
        names = self.r.smembers(self.keys.member_leases(member_id))
        released = 0
        for name in names:
            released += int(self._release(keys=[self.keys.lease(name)], args=[member_id]) or 0)
        self.r.delete(self.keys.member_leases(member_id))
        return released
