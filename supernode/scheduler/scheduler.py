"""The schedule step: which pieces a client fetches next, and from whom.

Dragonfly 1.x's rules (supernode/daemon/mgr/scheduler), tuned so the supernode's uplink is
spent once per piece: a peer holding the piece is preferred to the supernode and the least
loaded such peer is chosen; the supernode sends at most ``supernode_upload_limit`` pieces of a
task at a time (default: ``peer_down_limit``) and at most ``supernode_upload_total`` pieces of all
tasks together, so later clients take pieces from earlier ones instead of waiting on it, and an
image's layers, fetched at once, do not multiply its sends. A send takes its slot from the moment
it is handed out until the piece server has sent its last byte (``ProgressStore.sn_send_ended``),
not until its client reports. The supernode never sends a second copy
of a piece that no peer holds yet while a first copy is on its way from it (a peer will hold that
piece in a moment), unless that first send has run for ``SECOND_COPY_AFTER`` seconds (its client
may be stuck or gone), and while any CDN download runs it sends no piece that a live peer holds
(those peers are busy now, but the supernode's slots are kept for the next new piece: new pieces
are the critical path). Once the CDN holds every piece of every task it fetches, it may help the
tail with copies.
A client over ``failure_count_limit`` takes everything from the supernode.

Topology: a client whose registration carries a ``location`` ("region|zone|rack") or ``idc`` label gets the
nearest holder with room (``affinity``: shared leading location elements, then the same idc), the least
loaded among equally near ones; a client without labels (every Dragonfly 1.x dfget) the least loaded one.

Cost per call: a piece's holders are looked at through a random sample of at most ``CANDIDATES`` of them
(all of them when there are no more), so neither the rarity count nor the choice of a source walks the
swarm: a piece's rarity is its number of holders (live or not: dead ones are dropped as the samples meet
them) and the source is the least loaded of the sample (the power of a few random choices keeps the load
even). With the built-in policies the pieces come from the store's incremental order (rarity.py), walked only
as far as the call needs: levels of pieces no peer holds are passed over while the supernode is full, and a
call looks at ``MAX_EXAMINED`` pieces at most before it answers with what it found. When a piece's sampled
holders are all busy, at most ``POOL_DRAWS`` peers are drawn from the task's free pool (holders.FreePool: the
holders that may have room, kept lazily) before the call moves on to the next piece.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from .holders import sample_holders
from .peers import Peer, PeerRegistry
from .policy import PiecePolicy, PieceView, center
from .progress import ProgressStore

log = logging.getLogger(__name__)
SUPERNODE = ""        # the source id of the supernode in running/progress records
SECOND_COPY_AFTER = 10.0    # seconds a supernode send may run before another client gets a copy of its piece
CANDIDATES = 8              # holders of a piece looked at per call (a random sample when there are more)
LOCAL_CANDIDATES = 16       # the sample for a client that says where it is (more chances of a near holder)
POOL_DRAWS = 12             # draws from a task's free pool for a piece whose sampled holders are all busy
MAX_EXAMINED = 24           # pieces a call looks at before it answers with what it found (or 602)
_LIVE, _SKIP, _DEAD = 0, 1, 2   # a holder serves this client / not this client / nobody (dropped as a holder)


@dataclass(frozen=True)
class Limits:
    peer_up_limit: int = 4          # pieces a peer's upload server serves at once (all its tasks together)
    peer_down_limit: int = 4        # pieces a client fetches at once; also the supernode's cap per task
    elimination_limit: int = 5      # serving failures before a peer is dropped as a source
    failure_count_limit: int = 5    # fetching failures before a client is sent to the supernode only
    supernode_upload_limit: int = 0     # pieces of one task the supernode sends at once (0: peer_down_limit)
    supernode_upload_total: int = 0     # pieces of all tasks the supernode sends at once (0: no such cap)

    @property
    def supernode_cap(self) -> int:
        return self.supernode_upload_limit if self.supernode_upload_limit > 0 else self.peer_down_limit

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(config.peer_up_limit, config.peer_down_limit, config.elimination_limit, config.failure_count_limit,
                   getattr(config, "supernode_upload_limit", 0), getattr(config, "supernode_upload_total", 0))

    def supernode_full(self, task_load: int, total_load: int) -> bool:
        """Whether one more supernode send would pass a cap (the task's or the whole supernode's)."""
        if task_load + 1 > self.supernode_cap:
            return True
        return self.supernode_upload_total > 0 and total_load + 1 > self.supernode_upload_total


@dataclass(frozen=True)
class Assignment:
    piece: int
    dst_pid: str                    # SUPERNODE ("") or a peer id


@dataclass
class ScheduleResult:
    assignments: list[Assignment]
    busy: bool = False              # the client already runs peer_down_limit pieces (reply 601 with no data)
    wait: bool = False              # nothing to hand out now (reply 602)


class Scheduler:
    def __init__(self, progress: ProgressStore, peers: PeerRegistry, policy: PiecePolicy, limits: Limits,
                 rng: random.Random | None = None):
        self.progress = progress
        self.peers = peers
        self.policy = policy
        self.limits = limits
        self.rng = rng or random.Random()

    def schedule(self, task_id: str, cid: str, peer_id: str) -> ScheduleResult:
        pr = self.progress
        client = pr.client(cid)
        if client is None:
            return ScheduleResult([], wait=True)
        levels = getattr(self.policy, "levels", None)
        rarity = pr.rarity(task_id) if levels and hasattr(pr, "rarity") else None
        if rarity is not None:
            wanted = lambda: pr.wanted_mask(task_id, cid)       # noqa: E731
            if not wanted():
                return ScheduleResult([], wait=True)
        else:
            available = pr.available(task_id, cid)
            if not available:
                return ScheduleResult([], wait=True)
        running = len(client.running)
        if running >= self.limits.peer_down_limit:
            return ScheduleResult([], busy=True)
        verdicts: dict[str, int] = {}      # peer id -> _LIVE / _SKIP / _DEAD, worked out once per call
        me = self.peers.get(peer_id)
        draws = LOCAL_CANDIDATES if me is not None and (me.location or me.idc) else CANDIDATES
        live = lambda p: self._live_holders(task_id, p, peer_id, verdicts, draws)    # noqa: E731
        state = pr.peer(peer_id)
        sn_only = state is not None and state.client_error_count > self.limits.failure_count_limit
        out: list[Assignment] = []
        sn_task, sn_total = pr.superload(task_id), pr.superload_total()     # supernode sends running now
        sn_full = lambda: self.limits.supernode_full(sn_task, sn_total)     # noqa: E731
        if sn_only and sn_full():
            return ScheduleResult([], wait=True)
        if rarity is not None:      # levels only the supernode could serve are passed over while it is full
            skip = lambda key: sn_full() and (sn_only or rarity.unheld(levels, key))    # noqa: E731
            order = rarity.walk(levels, wanted, center(list(client.running)), self.rng, skip)
        else:
            view = PieceView(holders=lambda p: len(pr.holders(task_id, p)),
                             in_flight=lambda p: pr.in_flight(task_id, p), running=list(client.running))
            order = self.policy.order(available, view, self.rng)
        th = pr.task_holders(task_id) if hasattr(pr, "task_holders") else None
        for examined, piece in enumerate(order):
            if examined >= MAX_EXAMINED:
                break                         # enough looking: the client asks again after its next piece
            holders = [] if sn_only else live(piece)
            dst = SUPERNODE if sn_only else self._pick_holder(holders, me)
            if dst == SUPERNODE and not sn_only and th is not None:
                extra = self._free_holders(th, piece, peer_id, verdicts, draws)
                if extra:                     # the sampled holders are busy: holders with room, from the pool
                    holders = holders + extra
                    dst = self._pick_holder(extra, me)
            if dst == SUPERNODE and self.limits.supernode_full(sn_task, sn_total):
                continue                      # the supernode already serves its share
            if dst == SUPERNODE and not sn_only and self._on_its_way(task_id, piece, holders):
                continue                      # a second copy: a peer will hold it soon
            if dst == SUPERNODE and not sn_only and (pr.cdn_fetching() or not pr.sn_complete(task_id)) \
                    and holders:
                continue                      # busy holders: keep the supernode for new pieces
            if dst == SUPERNODE:
                # the store checks the cap and the piece's other sends again as it counts this one: in a
                # cluster another member may have started a send of the same new piece since this call read
                exclusive = 0.0 if sn_only or holders else SECOND_COPY_AFTER
                if not pr.start_supernode_send(cid, piece, self.limits.supernode_cap, exclusive):
                    continue
                sn_task, sn_total = sn_task + 1, sn_total + 1
            else:
                pr.start_piece(cid, piece, dst, self._uplink(dst))
            out.append(Assignment(piece, dst))
            running += 1
            if running >= self.limits.peer_down_limit:
                break
        return ScheduleResult(out, wait=not out)

    def _on_its_way(self, task_id: str, piece: int, live_holders: list[str]) -> bool:
        """Nobody holds ``piece`` yet but the supernode is sending it to another client (for a short while)."""
        since = self.progress.sn_sending_since(task_id, piece)
        if since is None or self.progress.now() - since > SECOND_COPY_AFTER:
            return False
        return not live_holders

    def _live_holders(self, task_id: str, piece: int, requester: str, verdicts: dict,
                      draws: int = CANDIDATES) -> list[str]:
        """Holders that can serve ``requester`` among at most ``CANDIDATES`` drawn at random; dead ones
        (unknown, service down, eliminated) are dropped for good. ``verdicts`` keeps each peer's verdict for
        the rest of one schedule call: a call looks at the same few peers over and over."""
        live, dead = [], []
        get, verdict_of = verdicts.get, self._verdict
        for pid in sample_holders(self.progress.holders(task_id, piece), draws, self.rng):
            verdict = get(pid)
            if verdict is None:
                verdict = verdicts[pid] = verdict_of(pid, requester)
            if verdict == _LIVE:
                live.append(pid)
            elif verdict == _DEAD:
                dead.append(pid)
        for pid in dead:
            self.progress.drop_holder(task_id, piece, pid)
        return live

    def _free_holders(self, th, piece: int, requester: str, verdicts: dict, draws: int) -> list[str]:
        """Holders of ``piece`` that can serve ``requester`` and have an upload slot free, drawn from the task's
        free pool (holders.FreePool) when the sampled holders were all busy: at most ``POOL_DRAWS`` draws,
        up to ``draws`` // 4 found. A member found full or dead is taken out of the pool (it comes back when
        one of its uploads ends), so the pool keeps, lazily, the holders with room; nothing is drawn when
        the sample already looked at every holder of the piece."""
        hs = th.get(piece)
        pool = th.free
        if hs is None or len(hs) <= draws or not len(pool):
            return []
        out: list[str] = []
        nums, pid_of, has = pool.nums, th.index.pid, th.holds_number
        peers, uplink_load, limit = self.peers.get, self.progress.uplink_load, self.limits.peer_up_limit
        get, verdict_of, rand = verdicts.get, self._verdict, self.rng.random
        want = max(1, draws // 4)
        for _ in range(POOL_DRAWS):
            size = len(nums)
            if not size:
                break
            i = int(rand() * size)
            n = nums[i]
            pid = pid_of(n)
            peer = peers(pid) if pid is not None else None
            if peer is None:
                pool.remove_at(i)             # gone (its number may come back with another peer)
                continue
            if uplink_load(peer.uplink) + 1 > limit:
                pool.remove_at(i)             # full now: back when one of its uploads ends
                continue
            if not has(n, piece):
                continue
            verdict = get(pid)
            if verdict is None:
                verdict = verdicts[pid] = verdict_of(pid, requester)
            if verdict == _DEAD:
                pool.remove_at(i)
            elif verdict == _LIVE and pid not in out:
                out.append(pid)
                if len(out) >= want:
                    break
        return out

    def _verdict(self, pid: str, requester: str) -> int:
        peer, state = self.peers.get(pid), self.progress.peer(pid)
        if peer is None or state is None or peer.service_down_time > 0 \
                or state.service_error_count >= self.limits.elimination_limit:
            return _DEAD
        if pid == requester or peer.cdn_pattern or self.progress.blacklisted(requester, pid):
            return _SKIP
        return _LIVE

    def _uplink(self, pid: str) -> str:
        peer = self.peers.get(pid) if pid else None
        return peer.uplink if peer is not None else pid

    def _pick_holder(self, live_holders: list[str], me: Peer | None = None) -> str:
        """The nearest holder whose upload server has room (when the client's registration says where it is:
        see ``affinity``), the least loaded among those. The load counts every piece that server sends,
        whichever task or registration it serves it for: a host fetching an image's four layers holds four
        registrations but has one uplink, and each piece it serves more at once arrives later."""
        near = me is not None and bool(me.location or me.idc)
        best, best_key = SUPERNODE, None
        peers, uplink_load = self.peers, self.progress.uplink_load
        for pid in live_holders:
            peer = peers.get(pid)
            load = uplink_load(peer.uplink if peer is not None else pid)
            if load + 1 > self.limits.peer_up_limit:
                continue
            key = (-affinity(me, peer), load) if near else load
            if best_key is None or key < best_key or (key == best_key and self.rng.random() < 0.5):
                best, best_key = pid, key
        return best


def affinity(me: Peer | None, other: Peer | None) -> int:
    """How near ``other`` is to ``me`` by their registrations' labels: 2 per leading element of
    ``location`` ("region|zone|rack", compared element by element from the left) they share, plus 1 for
    the same ``idc``. 0 when either says nothing."""
    if me is None or other is None:
        return 0
    score = 1 if me.idc and me.idc == other.idc else 0
    if me.location and other.location:
        for a, b in zip(me.location_parts, other.location_parts):
            if a != b:
                break
            score += 2
    return score
