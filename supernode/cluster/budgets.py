"""Limits that hold for the whole cluster, not per member: budgets kept in Redis.

- :class:`SharedTokenBucket`: the back-to-source bandwidth cap (``max_bandwidth - system_bandwidth``) as one
  token bucket in Redis (``budget:<name>``), refilled with Redis's own clock (``TIME`` in the script), so
  every member's CDN reads draw from the same budget. The same interface as :class:`dfcommon.ratelimit.
  TokenBucket` (``acquire(n)``, ``rate``, ``set_rate``, ``bytes_passed``, ``waits``, ``wait_seconds``). A
  member asks Redis for a grant of at least ``rate / GRANTS_PER_SECOND`` bytes and spends it locally, so a CDN
  read of 64 KiB does not cost a round trip each.
- :class:`SourceDownloadBudget`: ``max_source_downloads`` for the cluster: a sorted set
  (``budget:source_downloads``) of the tasks fetched from the origin now, each with an expiry that the member
  running it renews every heartbeat (a member that dies stops renewing; its entries lapse after ``lease_ttl``).
  A new task beyond the cap is refused with 503 on whichever member it reaches.

Redis down: a new back-to-source download cannot be admitted (503, "the cluster's shared state (Redis) is
unreachable"); a download already running goes on paced by a local bucket at this member's share of the rate
(``rate / members`` last seen), Redis is asked again after ``RETRY_AFTER`` seconds; the failure is logged once
per interval (:class:`~supernode.cluster.outage.OutageLog`).
"""
from __future__ import annotations

import threading
import time

from dfcommon.errors import DfError
from dfcommon.ratelimit import TokenBucket

from .outage import REDIS_ERRORS, unavailable

GRANTS_PER_SECOND = 50          # a grant is at least 20 ms of the rate
RETRY_AFTER = 1.0               # seconds on the local share after a Redis failure before asking Redis again
IDLE_EXPIRY_MS = 60_000         # a bucket nobody draws from for this long is removed (it would be full anyway)

# KEYS[1] bucket hash; ARGV rate, want. Returns 0 when granted, else the milliseconds to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or rate)
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp') or now)
tokens = math.min(rate, tokens + (now - stamp) * rate / 1000)
local wait = 0
if tokens >= want then
  tokens = tokens - want
else
  wait = math.ceil((want - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait
"""

# KEYS[1] zset; ARGV task, cap, ttl ms. 1 admitted (or already in), 0 refused.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV - 1 do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[#ARGV]), ARGV[i])
end
return 1
"""


class SharedTokenBucket:
    """A token bucket of ``rate`` bytes/s shared by every member (``rate <= 0``: unlimited)."""

    def __init__(self, client, keys, name: str, rate: int, outage, members=lambda: 1, source: str = "",
                 clock=time.monotonic, sleep=time.sleep):
        self.r, self.key, self.outage, self.members = client, keys.g(f"budget:{name}"), outage, members
        self.source = source
        self._clock, self._sleep = clock, sleep
        self._take = client.register_script(_TAKE)
        self._lock = threading.Lock()
        self._credit = 0                 # bytes granted by Redis, not spent yet
        self._local_until = 0.0          # until then: the local share (Redis failed)
        self._member_count, self._counted = 1, None      # live members, as last read while Redis answered
        self.bytes_passed = 0
        self.waits = 0
        self.wait_seconds = 0.0
        self.set_rate(rate)

    def set_rate(self, rate: int) -> None:
        self.rate = int(rate or 0)
        self._local = TokenBucket(0)
        self._credit = 0

    def acquire(self, n: int) -> None:
        if self.rate <= 0 or n <= 0:
            return
        with self._lock:
            if self._credit >= n:
                self._credit -= n
                self.bytes_passed += n
                return
        while True:
            if self._clock() < self._local_until:
                self._local.acquire(n)
                with self._lock:
                    self.bytes_passed += n
                return
            with self._lock:
                need = n - self._credit
            want = min(self.rate, max(need, self.rate // GRANTS_PER_SECOND))
            try:
                wait_ms = int(self._take(keys=[self.key], args=[self.rate, want, IDLE_EXPIRY_MS]))
            except REDIS_ERRORS as e:
                self.outage.failed("back-to-source bandwidth budget", e)
                share = max(1, self.rate // self._member_count)
                if self._local.rate != share:
                    self._local = TokenBucket(share)
                self._local_until = self._clock() + RETRY_AFTER
                continue
            self.outage.ok()
            self._count_members()
            if wait_ms <= 0:
                with self._lock:
                    self._credit = max(0, self._credit + want - n)
                    self.bytes_passed += n
                return
            self.waits += 1
            started = self._clock()
            self._sleep(wait_ms / 1000.0)
            self.wait_seconds += self._clock() - started

    def _count_members(self) -> None:
        """Refresh the member count (for the local share during an outage) every few seconds."""
        now = self._clock()
        if self._counted is not None and now - self._counted < 5.0:
            return
        self._counted = now
        try:
            self._member_count = max(1, int(self.members() or 1))
        except REDIS_ERRORS:
            pass


class SourceDownloadBudget:
    """``max_source_downloads`` across the cluster (see the module docstring)."""

    def __init__(self, client, keys, cap: int, ttl: float, outage):
        self.r, self.key, self.cap, self.ttl_ms, self.outage = client, keys.g("budget:source_downloads"), \
            int(cap or 0), max(1000, int(ttl * 1000)), outage
        self._admit = client.register_script(_ADMIT)
        self._renew = client.register_script(_RENEW)

    def admit(self, task_id: str) -> None:
        """Count ``task_id`` as a running back-to-source download, or raise 503 when the cluster has ``cap``."""
        if self.cap <= 0:
            return
        try:
            ok = int(self._admit(keys=[self.key], args=[task_id, self.cap, self.ttl_ms]))
        except REDIS_ERRORS as e:
            self.outage.failed("source download budget", e)
            raise unavailable(e) from None
        self.outage.ok()
        if not ok:
            raise DfError("UNAVAILABLE", f"{self.cap} back-to-source downloads are running in the cluster "
                                         f"(max_source_downloads): retry later")

    def renew(self, task_ids) -> None:
        """Called each heartbeat with the tasks this member's CDN fetches now (Redis errors: the caller's). A
        fetch resumed after a take-over is added back if its entry lapsed meanwhile: it runs, so it counts."""
        task_ids = list(task_ids)
        if self.cap > 0 and task_ids:
            self._renew(keys=[self.key], args=[*task_ids, self.ttl_ms])

    def release(self, task_id: str) -> None:
        if self.cap > 0:
            self.r.zrem(self.key, task_id)

    def running(self) -> int:
        return int(self.r.zcount(self.key, "(" + str(int(_redis_ms(self.r))), "+inf"))


def _redis_ms(client) -> float:
    sec, usec = client.time()
    return sec * 1000 + usec / 1000
