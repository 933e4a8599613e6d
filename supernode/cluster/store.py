"""The scheduler store in Redis: :class:`~supernode.scheduler.store.SchedulerStore` shared by every member.

Same rules as the in-memory ``ProgressStore`` (``tests/contract/scheduler`` runs over both). Keys, all under
``<prefix>:`` (docs/cluster.md):

- task ``t:<id>:``: ``md5`` (hash piece -> md5: the cluster CDN's pieces), ``meta`` (complete, superload,
  superload_changed), ``h:<piece>`` (set: holders), ``hp`` (set: pieces with holders), ``fl`` (hash piece -> in
  flight), ``sending`` (hash piece -> JSON start times of supernode sends), ``sent`` (hash piece -> sends the
  piece server ended, not yet reported), ``clients`` (set of cids);
- client ``c:<cid>:``: ``s`` (task_id, peer_id), ``bits`` (hash piece -> status), ``run`` (hash piece -> source);
- peer ``p:<id>:``: ``s`` (producer_load, uplink, client/service error counts), ``held`` (set "task|piece"),
  ``bl`` (hash blamed peer -> failures), ``blamed`` (set of peers whose blacklist names it), ``serving``
  (set "cid|piece" fetched from it now);
- cluster-wide: ``tasks``, ``fetching`` (CDN downloads running), ``snbusy`` (tasks with supernode sends),
  ``uplinks`` (hash upload server -> load).

Each call's writes go in one pipeline (one round trip). Two members may apply calls for one client at the same
moment (the task manager's lock is per member); counters use HINCRBY so loads stay right, and a status read and
written by two members at once can only repeat what one report said. Times are ``clock()`` (wall clock by
default), shared by every member.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

from supernode.scheduler.piece_status import FAILED, RUNNING, SEMISUC, SUCCESS, WAITING
from supernode.scheduler.progress import SUPERLOAD_RESET_AFTER, ClientProgress, PeerState

from .keys import Keys
from .scripts import CLAIM_SEND, PUSH_START, RELEASE, SNAPSHOT
from .snapshot import CallCache, SampledHolders

SAMPLE = 16             # holders of a piece a snapshot reads (SRANDMEMBER past that): the scheduler's largest draw
SAMPLED_PIECES = 32     # pieces a snapshot reads holders of (the rarest it wants; the scheduler looks at 24)


def _i(v, default: int = 0) -> int:
    return int(v) if v not in (None, "") else default


class _Blacklists:
    """``store.blacklist.get(peer)`` -> {blamed peer: failures}, as the in-memory store offers it."""

    def __init__(self, store):
        self._s = store

    def get(self, peer_id: str, default=None) -> dict:
        raw = self._s.r.hgetall(self._s.k.peer(peer_id, "bl"))
        return {k: int(v) for k, v in raw.items()} if raw else (default if default is not None else {})


class _Peers:
    def __init__(self, store):
        self._s = store

    def get(self, peer_id: str, default=None):
        return self._s.peer(peer_id) or default


class RedisSchedulerStore:
    def __init__(self, client, keys: Keys, clock=time.time, sample: int = SAMPLE, sampled_pieces: int = SAMPLED_PIECES):
        self._client, self.k, self._clock = client, keys, clock
        self.sample, self.sampled_pieces = sample, sampled_pieces
        self.on_miss = None                     # called at each read a snapshot did not hold (a metric)
        self.blacklist = _Blacklists(self)
        self.peers = _Peers(self)
        self._local = threading.local()         # the snapshot of the call running in this greenlet, if any
        self._snapshot = client.register_script(SNAPSHOT)
        self._release_script = client.register_script(RELEASE)
        self._push_script = client.register_script(PUSH_START)
        self._claim_script = client.register_script(CLAIM_SEND)

    @property
    def r(self):
        """The Redis client, or inside ``call`` the call's snapshot standing in for it."""
        return getattr(self._local, "cache", None) or self._client

    # --- one call's snapshot (supernode.cluster.snapshot) ---------------------------------------------
    @contextmanager
    def call(self, task_id: str, cid: str, peer_id: str = "", peers=(), pieces=(), schedule: bool = True):
        """Read what a call about ``task_id`` and client ``cid`` asks in one round trip (the peers ``peers``
        and, for the pieces ``pieces`` just reported, whether ``peer_id`` holds them; with ``schedule`` the
        holders of the pieces the client wants), answer the store's reads from it inside the block and send
        the block's writes in one pipeline when it ends. Yields the snapshot (``ver``: the task's record
        version). Nested calls share the outer snapshot."""
        outer = getattr(self._local, "cache", None)
        if outer is not None:
            yield outer
            return
        pids = list(dict.fromkeys(p for p in (peer_id, *peers) if p))
        raw = self._snapshot(args=[self.k.p, task_id, cid, peer_id or "", json.dumps(pids),
                                   json.dumps([str(p) for p in pieces]), self.sample, self.sampled_pieces,
                                   "1" if schedule else "0"], client=self._client)
        cache = CallCache(self._client, json.loads(raw), self.on_miss)
        self._local.cache = cache
        try:
            yield cache
        finally:
            self._local.cache = None
            cache.flush()

    def note_uplink(self, peer_id: str, uplink: str) -> None:
        """Record the upload server of a peer that registered (kept if it has one), so a snapshot reads its
        load with the peer's state before the peer first serves."""
        self.r.hsetnx(self.k.peer(peer_id), "uplink", uplink)

    @property
    def tasks(self) -> list[str]:
        """Task ids with progress in the cluster (``for task_id in store.tasks``)."""
        return sorted(self.r.smembers(self.k.g("tasks")))

    # --- supernode side -------------------------------------------------------------------
    def init_task(self, task_id: str, reset: bool = False) -> bool:
        pipe = self.r.pipeline()
        pipe.sadd(self.k.g("tasks"), task_id)
        if reset:                   # a new CDN run: keep what peers hold, what is in flight, the sends
            pipe.delete(self.k.task(task_id, "md5"))
            pipe.hset(self.k.task(task_id, "meta"), mapping={"complete": 0, "superload_changed": 0})
            pipe.sadd(self.k.g("fetching"), task_id)
        pipe.execute()
        return True

    def sn_piece(self, task_id: str, piece: int, md5: str) -> None:
        pipe = self.r.pipeline()
        pipe.sadd(self.k.g("tasks"), task_id)
        pipe.hset(self.k.task(task_id, "md5"), str(piece), md5)
        pipe.execute()

    def sn_finished(self, task_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.sadd(self.k.g("tasks"), task_id)
        pipe.hset(self.k.task(task_id, "meta"), "complete", 1)
        pipe.srem(self.k.g("fetching"), task_id)
        pipe.execute()

    def sn_stopped(self, task_id: str) -> None:
        self.r.srem(self.k.g("fetching"), task_id)

    def cdn_fetching(self) -> bool:
        return self.r.scard(self.k.g("fetching")) > 0

    def sn_complete(self, task_id: str) -> bool:
        return self.r.hget(self.k.task(task_id, "meta"), "complete") == "1"

    def piece_md5(self, task_id: str, piece: int) -> str | None:
        return self.r.hget(self.k.task(task_id, "md5"), str(piece))

    def sn_count(self, task_id: str) -> int:
        return self.r.hlen(self.k.task(task_id, "md5"))

    def superload(self, task_id: str) -> int:
        key = self.k.task(task_id, "meta")
        load, changed = self.r.hmget(key, "superload", "superload_changed")
        load = _i(load)
        if load and self._clock() - float(changed or 0) > SUPERLOAD_RESET_AFTER:
            self.r.hset(key, "superload", 0)
            return 0
        return max(0, load)

    def superload_total(self) -> int:
        total = 0
        for task_id in self.r.smembers(self.k.g("snbusy")):
            n = self.superload(task_id)
            if n <= 0:
                self.r.srem(self.k.g("snbusy"), task_id)
            total += n
        return total

    def holders(self, task_id: str, piece: int) -> set[str]:
        hs = self.r.smembers(self.k.task(task_id, f"h:{piece}"))
        return hs if isinstance(hs, SampledHolders) else set(hs)

    def in_flight(self, task_id: str, piece: int) -> int:
        return max(0, _i(self.r.hget(self.k.task(task_id, "fl"), str(piece))))

    def sn_sending_since(self, task_id: str, piece: int) -> float | None:
        starts = json.loads(self.r.hget(self.k.task(task_id, "sending"), str(piece)) or "[]")
        return min(starts) if starts else None

    def sn_send_ended(self, task_id: str, piece: int) -> bool:
        meta = self.k.task(task_id, "meta")
        p = self.r.pipeline()
        p.hget(meta, "superload")
        p.hget(self.k.task(task_id, "sending"), str(piece))
        p.hget(self.k.task(task_id, "sent"), str(piece))
        load, sending, sent = p.execute()
        if _i(load) <= 0 or len(json.loads(sending or "[]")) <= _i(sent):
            return False
        p = self.r.pipeline()
        p.hincrby(self.k.task(task_id, "sent"), str(piece), 1)
        p.hincrby(meta, "superload", -1)
        p.hset(meta, "superload_changed", self._clock())
        p.execute()
        return True

    def now(self) -> float:
        return self._clock()

    def drop_holder(self, task_id: str, piece: int, peer_id: str) -> None:
        p = self.r.pipeline()
        p.srem(self.k.task(task_id, f"h:{piece}"), peer_id)
        p.srem(self.k.peer(peer_id, "held"), f"{task_id}|{piece}")
        p.execute()

    # --- client side ----------------------------------------------------------------------
    def init_client(self, task_id: str, cid: str, peer_id: str) -> bool:
        self.delete_client(cid)
        p = self.r.pipeline()
        p.hset(self.k.client(cid, "s"), mapping={"task_id": task_id, "peer_id": peer_id})
        p.sadd(self.k.task(task_id, "clients"), cid)
        p.sadd(self.k.g("tasks"), task_id)
        p.hsetnx(self.k.peer(peer_id), "producer_load", 0)
        p.execute()
        return True

    def init_peer(self, peer_id: str) -> PeerState:
        self.r.hsetnx(self.k.peer(peer_id), "producer_load", 0)
        return self.peer(peer_id)

    def client(self, cid: str) -> ClientProgress | None:
        p = self.r.pipeline()
        p.hgetall(self.k.client(cid, "s"))
        p.hgetall(self.k.client(cid, "run"))
        p.hgetall(self.k.client(cid, "bits"))
        head, running, bits = p.execute()
        if not head:
            return None
        cp = ClientProgress(head.get("task_id", ""), head.get("peer_id", ""), cid=cid)
        cp.running = {int(k): v for k, v in sorted(running.items(), key=lambda kv: int(kv[0]))}
        for piece, status in bits.items():
            cp.bits.set(int(piece), int(status))
        return cp

    def peer(self, peer_id: str) -> PeerState | None:
        raw = self.r.hgetall(self.k.peer(peer_id))
        if not raw:
            return None
        return PeerState(producer_load=_i(raw.get("producer_load")), uplink=raw.get("uplink", ""),
                         client_error_count=_i(raw.get("cerr")), service_error_count=_i(raw.get("serr")))

    def success_pieces(self, cid: str) -> list[int]:
        bits = self.r.hgetall(self.k.client(cid, "bits"))
        return sorted(int(k) for k, v in bits.items() if int(v) == SUCCESS)

    def available(self, task_id: str, cid: str) -> list[int]:
        p = self.r.pipeline()
        p.exists(self.k.client(cid, "s"))
        p.hkeys(self.k.task(task_id, "md5"))
        p.hgetall(self.k.client(cid, "bits"))
        p.hkeys(self.k.client(cid, "run"))
        exists, sn, bits, running = p.execute()
        if not exists:
            return []
        skip = {int(k) for k, v in bits.items() if int(v) == SUCCESS} | {int(k) for k in running}
        return sorted(p for p in map(int, sn) if p not in skip)

    def start_piece(self, cid: str, piece: int, dst_pid: str, uplink: str = "") -> None:
        task_id = self._task_of(cid)
        p = self._running(cid, task_id, piece, dst_pid)
        now = self._clock()
        if dst_pid:
            pk = self.k.peer(dst_pid)
            ul = self.r.hget(pk, "uplink") or uplink or dst_pid
            p.hset(pk, "uplink", ul)
            p.hincrby(pk, "producer_load", 1)
            p.hincrby(self.k.g("uplinks"), ul, 1)
            p.sadd(self.k.peer(dst_pid, "serving"), f"{cid}|{piece}")
        else:
            meta = self.k.task(task_id, "meta")
            p.hincrby(meta, "superload", 1)
            p.hset(meta, "superload_changed", now)
            p.sadd(self.k.g("snbusy"), task_id)
        p.execute()
        if not dst_pid:
            self._push_start(task_id, piece, now)

    def start_supernode_send(self, cid: str, piece: int, cap: int, exclusive_for: float = 0.0) -> bool:
        """The check and the count in one script (``CLAIM_SEND``), run live even inside a call (after the
        call's queued writes, in the same round trip): a send another member started since the call's
        snapshot counts."""
        task_id = self._task_of(cid)
        meta, sending, busy = self.k.task(task_id, "meta"), self.k.task(task_id, "sending"), self.k.g("snbusy")
        now = self._clock()
        keys = [meta, sending, busy]
        args = [str(piece), repr(now), str(cap), repr(float(exclusive_for)), repr(SUPERLOAD_RESET_AFTER), task_id]
        cache = getattr(self._local, "cache", None)
        got = self._claim_script(keys=keys, args=args, client=self._client) if cache is None \
            else cache.eval_now(CLAIM_SEND, keys, args)
        if not got:
            return False
        load, starts = got
        if cache is not None:                    # the call's own view of what the script wrote
            cache.local_only = True
            try:
                cache.hset(meta, mapping={"superload": int(load), "superload_changed": repr(now)})
                cache.hset(sending, str(piece), starts)
                cache.sadd(busy, task_id)
            finally:
                cache.local_only = False
        self._running(cid, task_id, piece, "").execute()
        return True

    def _task_of(self, cid: str) -> str:
        head = self.r.hgetall(self.k.client(cid, "s"))
        if not head:
            raise KeyError(cid)
        return head["task_id"]

    def _running(self, cid: str, task_id: str, piece: int, dst_pid: str):
        """A pipeline with the client side of a piece's start: the piece running from ``dst_pid``, in flight."""
        bits = self.k.client(cid, "bits")
        already = self.r.hget(bits, str(piece))
        p = self.r.pipeline()
        if _i(already, WAITING) != SUCCESS:
            p.hset(bits, str(piece), RUNNING)
        p.hset(self.k.client(cid, "run"), str(piece), dst_pid)
        p.hincrby(self.k.task(task_id, "fl"), str(piece), 1)
        p.sadd(self.k.g("tasks"), task_id)
        return p

    def _push_start(self, task_id: str, piece: int, when: float) -> None:
        key = self.k.task(task_id, "sending")
        cache = getattr(self._local, "cache", None)
        if cache is None:
            self._push_script(keys=[key], args=[str(piece), repr(when)], client=self._client)
            return
        starts = json.loads(cache.hget(key, str(piece)) or "[]")        # the call's own view
        starts.append(when)
        cache.local_only = True
        try:
            cache.hset(key, str(piece), json.dumps(starts))
        finally:
            cache.local_only = False
        cache.queue_eval(PUSH_START, [key], [str(piece), repr(when)])

    def _release(self, cid: str, task_id: str, piece: int) -> str | None:
        """Release a running piece of client ``cid``: in-flight, supernode slot or the source's load (one
        script, so two members releasing the same piece at once release it once)."""
        args = [self.k.p, cid, task_id, str(piece), repr(self._clock())]
        cache = getattr(self._local, "cache", None)
        if cache is None:
            return self._release_script(args=args, client=self._client)
        cache.local_only = True             # the call's own view; the script does it in Redis
        try:
            dst = self._release_effects(cid, task_id, piece)
        finally:
            cache.local_only = False
        if dst is not None:
            cache.queue_eval(RELEASE, [], args)
        return dst

    def _release_effects(self, cid: str, task_id: str, piece: int) -> str | None:
        """What ``RELEASE`` does, worked out on the call's snapshot."""
        run = self.k.client(cid, "run")
        dst = self.r.hget(run, str(piece))
        if dst is None or not self.r.hdel(run, str(piece)):
            return None                          # not running (or another member released it just now)
        fl = self.k.task(task_id, "fl")
        if self.r.hincrby(fl, str(piece), -1) <= 0:
            self.r.hdel(fl, str(piece))
        if not dst:
            meta, sent = self.k.task(task_id, "meta"), self.k.task(task_id, "sent")
            if _i(self.r.hget(sent, str(piece))) > 0:       # its slot was freed when the send ended
                if self.r.hincrby(sent, str(piece), -1) <= 0:
                    self.r.hdel(sent, str(piece))
            elif _i(self.r.hget(meta, "superload")) > 0:
                self.r.hincrby(meta, "superload", -1)
                self.r.hset(meta, "superload_changed", self._clock())
            key = self.k.task(task_id, "sending")
            starts = json.loads(self.r.hget(key, str(piece)) or "[]")
            if starts:
                starts.pop(0)
                if starts:
                    self.r.hset(key, str(piece), json.dumps(starts))
                else:
                    self.r.hdel(key, str(piece))
            return dst
        self.r.srem(self.k.peer(dst, "serving"), f"{cid}|{piece}")
        pk = self.k.peer(dst)
        load, ul = self.r.hmget(pk, "producer_load", "uplink")
        if _i(load) > 0:
            self.r.hincrby(pk, "producer_load", -1)
            self._unload(ul or "", 1)
        return dst

    def _unload(self, uplink: str, pieces: int) -> None:
        key = self.k.g("uplinks")
        if self.r.hincrby(key, uplink, -pieces) <= 0:
            self.r.hdel(key, uplink)

    def uplink_load(self, uplink: str) -> int:
        return max(0, _i(self.r.hget(self.k.g("uplinks"), uplink)))

    def update(self, cid: str, src_pid: str, dst_pid: str, piece: int, status: int) -> bool:
        head = self.r.hgetall(self.k.client(cid, "s"))
        if not head:
            return False
        task_id = head["task_id"]
        running = self.r.hexists(self.k.client(cid, "run"), str(piece))
        if status == FAILED and not running:
            return False                            # a repeated report (dfget re-sends it while told to wait)
        if status == SUCCESS:                       # written to disk: servable to others
            p = self.r.pipeline()
            p.sadd(self.k.task(task_id, f"h:{piece}"), src_pid)
            p.sadd(self.k.task(task_id, "hp"), piece)
            p.sadd(self.k.peer(src_pid, "held"), f"{task_id}|{piece}")
            p.sadd(self.k.g("tasks"), task_id)
            p.execute()
        if status != RUNNING:
            self._release(cid, task_id, piece)
        if not self._set_bit(cid, piece, status):
            return False
        if not src_pid or not dst_pid or src_pid == dst_pid:
            return True
        src, dst = self.k.peer(src_pid), self.k.peer(dst_pid)
        if status in (SUCCESS, SEMISUC):
            p = self.r.pipeline()
            if self.r.exists(src):
                p.hset(src, "cerr", 0)
            if self.r.exists(dst):
                p.hset(dst, "serr", 0)
            p.execute()
        elif status == FAILED:
            self.blame(src_pid, dst_pid)
            if self.r.exists(src):
                self.r.hincrby(src, "cerr", 1)
            if self.r.exists(dst):
                self.r.hincrby(dst, "serr", 1)
        return True

    def _set_bit(self, cid: str, piece: int, status: int) -> bool:
        """The PieceBitset rule in Redis: SUCCESS never changes; False when the piece was already SUCCESS."""
        if piece < 0:
            raise ValueError("negative piece number")
        bits = self.k.client(cid, "bits")
        if _i(self.r.hget(bits, str(piece)), WAITING) == SUCCESS:
            return False
        status = SUCCESS if status == SEMISUC else status
        if status == WAITING:
            self.r.hdel(bits, str(piece))
        else:
            self.r.hset(bits, str(piece), status)
        return True

    def blame(self, src_pid: str, dst_pid: str) -> None:
        p = self.r.pipeline()
        p.hincrby(self.k.peer(src_pid, "bl"), dst_pid, 1)
        p.sadd(self.k.peer(dst_pid, "blamed"), src_pid)
        p.execute()

    def blacklisted(self, src_pid: str, dst_pid: str) -> bool:
        return _i(self.r.hget(self.k.peer(src_pid, "bl"), dst_pid)) > 0

    # --- removal --------------------------------------------------------------------------
    def delete_client(self, cid: str) -> None:
        head = self.r.hgetall(self.k.client(cid, "s"))
        if not head:
            return
        task_id = head["task_id"]
        for piece in self.r.hkeys(self.k.client(cid, "run")):
            self._release(cid, task_id, int(piece))
        p = self.r.pipeline()
        p.delete(self.k.client(cid, "s"), self.k.client(cid, "run"), self.k.client(cid, "bits"))
        p.srem(self.k.task(task_id, "clients"), cid)
        p.execute()

    def delete_task(self, task_id: str) -> None:
        for cid in self.r.smembers(self.k.task(task_id, "clients")):
            self.delete_client(cid)             # their running pieces no longer load anyone's uplink
        pieces = self.r.smembers(self.k.task(task_id, "hp"))
        keys = [self.k.task(task_id, part) for part in ("md5", "meta", "fl", "sending", "sent", "clients", "hp")]
        keys += [self.k.task(task_id, f"h:{piece}") for piece in pieces]
        p = self.r.pipeline()
        p.delete(*keys)
        for name in ("tasks", "snbusy", "fetching"):
            p.srem(self.k.g(name), task_id)
        p.execute()

    def delete_peer(self, peer_id: str) -> None:
        for entry in self.r.smembers(self.k.peer(peer_id, "serving")):   # pieces others fetch from it: again
            cid, _, piece = entry.rpartition("|")
            head = self.r.hgetall(self.k.client(cid, "s"))
            if head and self.r.hget(self.k.client(cid, "run"), piece) == peer_id:
                self._release(cid, head["task_id"], int(piece))
                self._set_bit(cid, int(piece), WAITING)
        pk = self.k.peer(peer_id)
        load, ul = self.r.hmget(pk, "producer_load", "uplink")
        if _i(load) > 0:                        # a peer that is gone no longer loads its upload server
            self._unload(ul or "", _i(load))
        for dst in self.r.hkeys(self.k.peer(peer_id, "bl")):              # its own blacklist
            self.r.srem(self.k.peer(dst, "blamed"), peer_id)
        for src in self.r.smembers(self.k.peer(peer_id, "blamed")):       # blacklists naming it
            self.r.hdel(self.k.peer(src, "bl"), peer_id)
        p = self.r.pipeline()
        for entry in self.r.smembers(self.k.peer(peer_id, "held")):       # the pieces it held
            task_id, _, piece = entry.rpartition("|")
            p.srem(self.k.task(task_id, f"h:{piece}"), peer_id)
        p.delete(pk, self.k.peer(peer_id, "held"), self.k.peer(peer_id, "bl"), self.k.peer(peer_id, "blamed"),
                 self.k.peer(peer_id, "serving"))
        p.execute()
