"""One ``/peer/task`` call's view of the Redis scheduler store: read in one round trip, answered in memory,
written in one round trip.

``SNAPSHOT`` (a Lua script in ``scripts``, run with EVALSHA) reads at once what the scheduler asks about one task and one
client: the client's head, statuses and running pieces, the task's md5s, meta, in-flight counts and supernode
sends, the cluster's ``fetching`` and ``snbusy`` sets with the busy tasks' meta, the state and blacklist of
the asking peer and of the peer a reported piece came from, the record version of the task (so the shared
records are read again only when they changed), and for the pieces the client wants: the number of holders
of each, and for at most ``max_pieces`` of the rarest ones the holders (all of them up to ``sample`` holders,
else ``sample`` drawn by SRANDMEMBER) with those holders' states and the loads of their upload servers. The
reads stay bounded: a piece with many holders gives a sample, and pieces past the rarest few give counts.

``CallCache`` answers the store's reads from that and queues its writes: ``RedisSchedulerStore`` runs its
usual code against it (it stands in for the client while the call runs in that greenlet), so a call's answers
are the store's answers. A read the snapshot does not hold (a key it did not read, a field it did not fetch,
a key written blind) is not guessed: the queued writes are sent and the value read live, one round trip
each. At the end of the call the writes go out in one pipeline (MULTI/EXEC). Counters are sent as HINCRBY,
and the releases of running pieces and the starts of supernode sends as small scripts run in that pipeline
(``RELEASE``, ``PUSH_START`` in ``scripts``), so two members writing the same counters or lists at the same moment add up
as they do live.
"""
from __future__ import annotations

_MISSING = object()


def _s(v) -> str:
    return v if isinstance(v, str) else str(v)


class SampledHolders:
    """Holders of a piece the snapshot drew a sample of: ``len`` is the real count, iteration the sample."""

    __slots__ = ("members", "total")

    def __init__(self, members: set[str], total: int):
        self.members, self.total = members, total

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        return iter(sorted(self.members))

    def sample(self, k: int, rng) -> list[str]:
        if len(self.members) <= k:
            return sorted(self.members)
        return rng.sample(sorted(self.members), k)


class CallCache:
    """The subset of the redis client the store uses, answered from one snapshot, writes queued."""

    def __init__(self, client, raw: dict, on_miss=None):
        self.live, self.on_miss = client, on_miss
        self.h: dict[str, dict[str, str]] = {k: dict(v) if v else {} for k, v in raw.get("h", {}).items()}
        self.s: dict[str, set[str]] = {k: set(v or ()) for k, v in raw.get("s", {}).items()}
        self.ss: dict[str, SampledHolders] = {}
        for key, (total, members) in raw.get("ss", {}).items():
            self.ss[key] = SampledHolders(set(members or ()), int(total))
        self.hp: dict[str, dict[str, str | None]] = {
            k: {f: (v if isinstance(v, str) else None) for f, v in (m or {}).items()} for k, m in raw.get("hp", {}).items()}
        self.sm: dict[tuple[str, str], bool] = {(k, m): bool(v) for k, m, v in raw.get("sm", ())}
        self.ver = raw.get("ver") if isinstance(raw.get("ver"), str) else None
        self.queue = None
        self.local_only = False         # writes change the cache only (a script queued does them in Redis)
        self.misses = 0

    # --- writes out ---------------------------------------------------------------------------------------
    def _q(self):
        if self.local_only:
            return None
        if self.queue is None:
            self.queue = self.live.pipeline()
        return self.queue

    def flush(self) -> None:
        q, self.queue = self.queue, None
        if q is not None and len(q):
            q.execute()

    def queue_eval(self, script: str, keys: list, args: list) -> None:
        self._q().eval(script, len(keys), *keys, *args)

    def eval_now(self, script: str, keys: list, args: list):
        """Send what is queued and run ``script`` after it in the same round trip; returns the script's result
        (a decision that must see Redis as it is now, not as the snapshot read it)."""
        q, self.queue = self.queue, None
        if q is None:
            q = self.live.pipeline()
        q.eval(script, len(keys), *keys, *args)
        return q.execute()[-1]

    def _miss(self):
        """A value the snapshot does not hold: send what is queued, then read live."""
        self.misses += 1
        if self.on_miss is not None:
            self.on_miss()
        self.flush()
        return self.live

    def _forget(self, key: str, field: str | None = None) -> None:
        """A write whose outcome the cache cannot work out: the next read of it goes live."""
        if field is not None and key in self.hp:
            self.hp[key].pop(field, None)
            return
        if field is not None and key in self.h:
            self.hp[key] = dict(self.h.pop(key))
            self.hp[key].pop(field, None)
            return
        self.h.pop(key, None)
        self.hp.pop(key, None)
        self.s.pop(key, None)
        self.ss.pop(key, None)
        for k in [k for k in self.sm if k[0] == key]:
            del self.sm[k]

    # --- hashes -------------------------------------------------------------------------------------------
    def _field(self, key: str, field: str):
        m = self.h.get(key)
        if m is not None:
            return m.get(field)
        m = self.hp.get(key)
        if m is not None and field in m:
            return m[field]
        return _MISSING

    def hget(self, key, field):
        field = _s(field)
        v = self._field(key, field)
        if v is _MISSING:
            v = self._miss().hget(key, field)
            self.hp.setdefault(key, {})[field] = v
        return v

    def hmget(self, key, *fields):
        return [self.hget(key, f) for f in fields]

    def hgetall(self, key):
        m = self.h.get(key)
        if m is None:
            m = self.h[key] = dict(self._miss().hgetall(key))
            self.hp.pop(key, None)
        return dict(m)

    def hkeys(self, key):
        return list(self.hgetall(key))

    def hlen(self, key):
        return len(self.hgetall(key))

    def hexists(self, key, field):
        return self.hget(key, field) is not None

    def exists(self, *keys):
        n = 0
        for key in keys:
            if key in self.h:
                n += bool(self.h[key])
            elif key in self.s:
                n += bool(self.s[key])
            else:
                n += self._miss().exists(key)
        return n

    def _set_field(self, key: str, field: str, value) -> None:
        if key in self.h:
            self.h[key][field] = value
        else:
            self.hp.setdefault(key, {})[field] = value

    def hset(self, key, field=None, value=None, mapping=None):
        items = dict(mapping or {})
        if field is not None:
            items[field] = value
        q = self._q()
        if q is not None:
            q.hset(key, mapping=items)
        for f, v in items.items():
            self._set_field(key, _s(f), _s(v))
        return len(items)

    def hsetnx(self, key, field, value):
        field = _s(field)
        q = self._q()
        if q is not None:
            q.hsetnx(key, field, value)
        v = self._field(key, field)
        if v is None:
            self._set_field(key, field, _s(value))
        elif v is _MISSING:
            self._forget(key, field)
        return v is None

    def hincrby(self, key, field, amount=1):
        field = _s(field)
        q = self._q()
        if q is not None:
            q.hincrby(key, field, amount)
        v = self._field(key, field)
        if v is _MISSING:
            self._forget(key, field)
            return 0
        n = int(v or 0) + amount
        self._set_field(key, field, str(n))
        return n

    def hdel(self, key, *fields):
        fields = [_s(f) for f in fields]
        q = self._q()
        if q is not None:
            q.hdel(key, *fields)
        n = 0
        for f in fields:
            v = self._field(key, f)
            if v is _MISSING:
                self._forget(key, f)
                continue
            if v is not None:
                n += 1
            if key in self.h:
                self.h[key].pop(f, None)
            else:
                self.hp[key][f] = None
        return n

    # --- sets ---------------------------------------------------------------------------------------------
    def smembers(self, key):
        if key in self.s:
            return set(self.s[key])
        if key in self.ss:
            return self.ss[key]           # a sample with the real count (holders only)
        v = self.s[key] = set(self._miss().smembers(key))
        self.sm = {k: b for k, b in self.sm.items() if k[0] != key}
        return set(v)

    def sismember(self, key, member):
        if key in self.s:
            return member in self.s[key]
        known = self.sm.get((key, member))
        if known is None and key in self.ss and member in self.ss[key].members:
            known = True
        if known is None:
            known = self.sm[(key, member)] = bool(self._miss().sismember(key, member))
        return known

    def scard(self, key):
        if key in self.s:
            return len(self.s[key])
        if key in self.ss:
            return self.ss[key].total
        return self._miss().scard(key)

    def sadd(self, key, *members):
        members = [_s(m) for m in members]
        q = self._q()
        if q is not None:
            q.sadd(key, *members)
        if key in self.s:
            self.s[key].update(members)
            return
        sample = self.ss.get(key)
        for m in members:
            known = self.sm.get((key, m))
            if sample is not None and (known is not None or m in sample.members):
                if not (known or m in sample.members):
                    sample.total += 1
                self.sm[(key, m)] = True
            else:
                self._forget(key)
                return

    def srem(self, key, *members):
        members = [_s(m) for m in members]
        q = self._q()
        if q is not None:
            q.srem(key, *members)
        if key in self.s:
            self.s[key].difference_update(members)
            return
        sample = self.ss.get(key)
        for m in members:
            known = self.sm.get((key, m))
            if sample is not None and (known is not None or m in sample.members):
                if known or m in sample.members:
                    sample.total -= 1
                sample.members.discard(m)
                self.sm[(key, m)] = False
            else:
                self._forget(key)
                return

    def delete(self, *keys):
        q = self._q()
        if q is not None:
            q.delete(*keys)
        for key in keys:
            self._forget(key)
            self.h[key] = {}

    # --- pipelines: the store's own batches, answered and queued the same way -----------------------------
    def pipeline(self):
        return _Batch(self)


class _Batch:
    def __init__(self, cache: CallCache):
        self._c, self._out = cache, []

    def __getattr__(self, name):
        fn = getattr(self._c, name)

        def call(*args, **kwargs):
            self._out.append(fn(*args, **kwargs))
            return self
        return call

    def execute(self):
        out, self._out = self._out, []
        return out

