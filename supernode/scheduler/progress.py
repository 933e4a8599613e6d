"""Piece progress of the supernode's scheduler.

Per task: the supernode's (CDN) piece bitset and md5s, the holders of each piece (peers that
reported it written, never the supernode), pieces in flight, the supernode's load and when each
piece's supernode sends started. Per
client (cid): a bitset and the running pieces (piece -> source peer). Per peer: producer load
and error counts. Blacklist: ``src peer -> {dst peer: failures}``.

Not locked itself: the task manager serialises every call.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .holders import PeerIndex, TaskHolders
from .piece_status import FAILED, RUNNING, SEMISUC, SUCCESS, WAITING, PieceBitset  # noqa: F401 - re-exported
from .rarity import RarityIndex

SUPERLOAD_RESET_AFTER = 30.0     # a supernode load unchanged this long is reset (lost reports)


@dataclass
class TaskProgress:
    sn: PieceBitset = field(default_factory=PieceBitset)
    md5s: dict[int, str] = field(default_factory=dict)
    holders: TaskHolders | None = None    # piece -> HolderSet of the peers holding it (set by init_task)
    rarity: RarityIndex = field(default_factory=RarityIndex)    # the CDN's pieces by copies (rarity.py)
    in_flight: dict[int, int] = field(default_factory=dict)
    superload: int = 0
    superload_changed: float = 0.0
    sn_sending: dict[int, list[float]] = field(default_factory=dict)   # piece -> start times of supernode sends
    sn_sent: dict[int, int] = field(default_factory=dict)   # piece -> sends the piece server ended, not yet reported
    sn_complete: bool = False           # the CDN holds every piece
    _sn_list: list | None = None        # the CDN's pieces in order, kept while no piece is added

    def sn_pieces(self) -> list[int]:
        if self._sn_list is None:
            self._sn_list = self.sn.pieces(SUCCESS)
        return self._sn_list


@dataclass(slots=True)
class ClientProgress:
    task_id: str
    peer_id: str
    bits: PieceBitset = field(default_factory=PieceBitset)
    running: dict[int, str] = field(default_factory=dict)     # piece -> source peer id ("" = supernode)
    cid: str = ""


@dataclass(slots=True)
class PeerState:
    producer_load: int = 0              # pieces this peer serves now
    uplink: str = ""                    # its upload server (ip:port), once it has served
    client_error_count: int = 0
    service_error_count: int = 0


class ProgressStore:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self.tasks: dict[str, TaskProgress] = {}
        self.clients: dict[str, ClientProgress] = {}
        self.peers: dict[str, PeerState] = {}
        self.peer = self.peers.get          # look-ups of the request path as the dicts' own methods
        self.client = self.clients.get
        self.uplinks: dict[str, int] = {}       # upload server (ip:port) -> its peers' producer_load summed
        self.blacklist: dict[str, dict[str, int]] = {}
        self._sn_busy: set[str] = set()         # tasks with supernode sends running
        self._fetching: set[str] = set()        # tasks whose CDN download runs
        # indexes that let a leaving peer be forgotten without scanning every task and blacklist:
        self._index = PeerIndex()                            # peer id <-> number in the holder arrays
        # peer -> the task it was recorded holding pieces of (the task id itself: most peers hold one task),
        # or a tuple of them when it holds pieces of several (see held_tasks)
        self._held: dict[str, str | tuple[str, ...]] = {}
        self._blamed: dict[str, set[str]] = {}              # peer -> peers whose blacklist names it
        # peer -> the cids fetching from it, once per piece (which pieces: the client's ``running``, at most
        # peer_down_limit of them); cid strings only, no (cid, piece) tuples: about 100 bytes a serving peer less
        self._serving: dict[str, list[str]] = {}

    # --- supernode side -------------------------------------------------------------------
    def init_task(self, task_id: str, reset: bool = False) -> TaskProgress:
        tp = self.tasks.get(task_id)
        if tp is None or reset:
            old = tp
            tp = self.tasks[task_id] = TaskProgress(holders=TaskHolders(self._index))
            if old is not None:          # keep what peers hold and what is in flight
                tp.holders, tp.in_flight, tp.superload = old.holders, old.in_flight, old.superload
                tp.rarity = RarityIndex({p: len(hs) for p, hs in old.holders.items() if len(hs)}, old.in_flight)
                tp.sn_sent = old.sn_sent
                tp.sn_sending = old.sn_sending
            tp.holders.on_change = tp.rarity.held_changed
        if reset:
            self._fetching.add(task_id)
        return tp

    def sn_piece(self, task_id: str, piece: int, md5: str) -> None:
        tp = self.init_task(task_id)
        if tp.sn.set(piece, SUCCESS):
            tp._sn_list = None
            tp.rarity.add_sn(piece)
        tp.md5s[piece] = md5

    def sn_finished(self, task_id: str) -> None:
        self.init_task(task_id).sn_complete = True
        self._fetching.discard(task_id)

    def sn_stopped(self, task_id: str) -> None:
        """The CDN download of ``task_id`` ended without completing (failed or cancelled)."""
        self._fetching.discard(task_id)

    def cdn_fetching(self) -> bool:
        """Whether any CDN download runs on this supernode (its uplink's new pieces are the critical path)."""
        return bool(self._fetching)

    def sn_complete(self, task_id: str) -> bool:
        tp = self.tasks.get(task_id)
        return tp is not None and tp.sn_complete

    def piece_md5(self, task_id: str, piece: int) -> str | None:
        tp = self.tasks.get(task_id)
        return tp.md5s.get(piece) if tp else None

    def sn_count(self, task_id: str) -> int:
        tp = self.tasks.get(task_id)
        return tp.sn.count(SUCCESS) if tp else 0

    def superload(self, task_id: str) -> int:
        tp = self.tasks.get(task_id)
        if tp is None:
            return 0
        if tp.superload and self._clock() - tp.superload_changed > SUPERLOAD_RESET_AFTER:
            tp.superload = 0
        return tp.superload

    def superload_total(self) -> int:
        """Pieces the supernode sends right now, all tasks together."""
        total = 0
        for task_id in list(self._sn_busy):
            n = self.superload(task_id)
            if n <= 0:
                self._sn_busy.discard(task_id)
            total += n
        return total

    def holders(self, task_id: str, piece: int) -> set[str]:
        tp = self.tasks.get(task_id)
        hs = tp.holders.get(piece) if tp else None
        return hs if hs is not None else set()

    def in_flight(self, task_id: str, piece: int) -> int:
        tp = self.tasks.get(task_id)
        return tp.in_flight.get(piece, 0) if tp else 0

    def sn_sending_since(self, task_id: str, piece: int) -> float | None:
        """When the oldest supernode send of ``piece`` still running started (None: none running)."""
        tp = self.tasks.get(task_id)
        starts = tp.sn_sending.get(piece) if tp else None
        return min(starts) if starts else None

    def sn_send_ended(self, task_id: str, piece: int) -> bool:
        """The piece server has sent its last byte of ``piece`` (or the connection ended): the send no longer
        takes a supernode slot, although its client has not reported yet (the bytes still cross the link and
        the client checks them). Returns whether a slot was freed: not for a send the scheduler never
        handed out (a client that fetched on its own), nor twice for one send."""
        tp = self.tasks.get(task_id)
        if tp is None or tp.superload <= 0:
            return False
        if len(tp.sn_sending.get(piece, ())) <= tp.sn_sent.get(piece, 0):
            return False
        tp.sn_sent[piece] = tp.sn_sent.get(piece, 0) + 1
        tp.superload -= 1
        tp.superload_changed = self._clock()
        return True

    def now(self) -> float:
        return self._clock()

    def drop_holder(self, task_id: str, piece: int, peer_id: str) -> None:
        self.holders(task_id, piece).discard(peer_id)

    def holds(self, peer_id: str, task_id: str, piece: int) -> bool:
        """Whether ``peer_id`` is recorded holding ``piece`` of ``task_id`` (O(1))."""
        tp = self.tasks.get(task_id)
        return tp is not None and tp.holders.holds(peer_id, piece)

    # --- client side ----------------------------------------------------------------------
    def init_client(self, task_id: str, cid: str, peer_id: str) -> ClientProgress:
        self.delete_client(cid)
        cp = self.clients[cid] = ClientProgress(task_id, peer_id, cid=cid)
        self.peers.setdefault(peer_id, PeerState())
        self.init_task(task_id)
        return cp

    def init_peer(self, peer_id: str) -> PeerState:
        return self.peers.setdefault(peer_id, PeerState())

    def client(self, cid: str) -> ClientProgress | None:     # replaced per instance by clients.get
        return self.clients.get(cid)

    def peer(self, peer_id: str) -> PeerState | None:       # replaced per instance by peers.get
        return self.peers.get(peer_id)

    def success_count(self, cid: str) -> int:
        """len(success_pieces(cid)) without building the list (not part of SchedulerStore)."""
        cp = self.clients.get(cid)
        return cp.bits.done.bit_count() if cp else 0

    def success_pieces(self, cid: str) -> list[int]:
        cp = self.clients.get(cid)
        return cp.bits.pieces(SUCCESS) if cp else []

    def available(self, task_id: str, cid: str) -> list[int]:
        """Pieces the supernode has that the client neither has nor is fetching."""
        tp, cp = self.tasks.get(task_id), self.clients.get(cid)
        if tp is None or cp is None:
            return []
        done, running = cp.bits.done, cp.running
        return [p for p in tp.sn_pieces() if not done >> p & 1 and p not in running]

    def task_holders(self, task_id: str) -> TaskHolders | None:
        """The task's holder arrays and free pool (not part of SchedulerStore: the scheduler uses it when
        present)."""
        tp = self.tasks.get(task_id)
        return tp.holders if tp is not None else None

    def rarity(self, task_id: str) -> RarityIndex | None:
        """The task's pieces by copies (not part of SchedulerStore: the scheduler uses it when present)."""
        tp = self.tasks.get(task_id)
        return tp.rarity if tp is not None else None

    def wanted_mask(self, task_id: str, cid: str) -> int:
        """``available`` as a bit mask: the CDN's pieces the client neither has nor is fetching."""
        tp, cp = self.tasks.get(task_id), self.clients.get(cid)
        if tp is None or cp is None:
            return 0
        busy = cp.bits.done
        for piece in cp.running:
            busy |= 1 << piece
        return tp.rarity.sn & ~busy

    def start_supernode_send(self, cid: str, piece: int, cap: int, exclusive_for: float = 0.0) -> bool:
        """Start a supernode send of ``piece`` to client ``cid`` if the supernode may: fewer than ``cap`` sends
        of the task running and, with ``exclusive_for`` > 0, no send of that piece started in the last
        ``exclusive_for`` seconds. False: nothing was started."""
        cp = self.clients[cid]
        if self.superload(cp.task_id) + 1 > cap:
            return False
        since = self.sn_sending_since(cp.task_id, piece) if exclusive_for > 0 else None
        if since is not None and self._clock() - since <= exclusive_for:
            return False
        self.start_piece(cid, piece, "")
        return True

    def start_piece(self, cid: str, piece: int, dst_pid: str, uplink: str = "") -> None:
        """The client starts fetching ``piece`` from ``dst_pid`` ("" = the supernode), whose upload server is
        ``uplink`` (default: a server of its own)."""
        cp = self.clients[cid]
        tp = self.init_task(cp.task_id)
        cp.bits.set(piece, RUNNING)
        again = cp.running.get(piece, None) == dst_pid      # the same fetch started twice: served once
        cp.running[piece] = dst_pid
        tp.in_flight[piece] = tp.in_flight.get(piece, 0) + 1
        tp.rarity.flight_changed(piece, 1)
        if dst_pid:
            ps = self.peers.setdefault(dst_pid, PeerState())
            ps.uplink = ps.uplink or uplink or dst_pid
            ps.producer_load += 1
            self.uplinks[ps.uplink] = self.uplinks.get(ps.uplink, 0) + 1
            serving = self._serving.get(dst_pid)
            if serving is None:
                self._serving[dst_pid] = [cid]
            elif not again:                         # at most peer_up_limit long: a list, not a set
                serving.append(cid)
        else:
            tp.superload += 1
            tp.superload_changed = self._clock()
            self._sn_busy.add(cp.task_id)
            tp.sn_sending.setdefault(piece, []).append(tp.superload_changed)

    def _release(self, cp: ClientProgress, piece: int) -> str | None:
        if piece not in cp.running:
            return None
        dst = cp.running.pop(piece)
        tp = self.tasks.get(cp.task_id)
        if tp is not None:
            n = tp.in_flight.get(piece, 0) - 1
            tp.rarity.flight_changed(piece, -1)
            if n > 0:
                tp.in_flight[piece] = n
            else:
                tp.in_flight.pop(piece, None)
            if not dst and tp.sn_sent.get(piece, 0) > 0:      # its slot was freed when the send ended
                tp.sn_sent[piece] -= 1
                if not tp.sn_sent[piece]:
                    del tp.sn_sent[piece]
            elif not dst and tp.superload > 0:
                tp.superload -= 1
                tp.superload_changed = self._clock()
            if not dst:
                starts = tp.sn_sending.get(piece)
                if starts:
                    starts.pop(0)
                    if not starts:
                        del tp.sn_sending[piece]
        if dst and tp is not None:              # one of its uploads ended: it may have room again
            n = self._index.get(dst)
            if n is not None and n in tp.holders.held:     # it holds pieces of this task
                tp.holders.free.add(n)
        if dst:
            serving = self._serving.get(dst)
            if serving is not None:
                try:
                    serving.remove(cp.cid)
                except ValueError:
                    pass
                if not serving:
                    del self._serving[dst]
        ps = self.peers.get(dst) if dst else None
        if ps is not None and ps.producer_load > 0:
            ps.producer_load -= 1
            self._unload(ps.uplink, 1)
        return dst

    def _unload(self, uplink: str, pieces: int) -> None:
        n = self.uplinks.get(uplink, 0) - pieces
        if n > 0:
            self.uplinks[uplink] = n
        else:
            self.uplinks.pop(uplink, None)

    def uplink_load(self, uplink: str) -> int:
        """Pieces the upload server ``uplink`` serves now, over every task and registration behind it."""
        return self.uplinks.get(uplink, 0)

    def update(self, cid: str, src_pid: str, dst_pid: str, piece: int, status: int) -> bool:
        """Apply a piece result reported by client ``cid`` (peer ``src_pid``) about source ``dst_pid``
        ("" = supernode). Returns False when nothing changed (the piece was already a success)."""
        cp = self.clients.get(cid)
        if cp is None:
            return False
        if status == FAILED and piece not in cp.running:
            return False                            # a repeated report (dfget re-sends it while told to wait)
        if status == SUCCESS:                       # written to disk: servable to others
            self.init_task(cp.task_id).holders.of(piece).add(src_pid)
            held = self._held.get(src_pid)
            if held is None:
                self._held[src_pid] = cp.task_id
            elif type(held) is str:
                if held != cp.task_id:
                    self._held[src_pid] = (held, cp.task_id)
            elif cp.task_id not in held:            # a peer holds pieces of a task or a few: a short tuple
                self._held[src_pid] = held + (cp.task_id,)
        if status != RUNNING:
            self._release(cp, piece)
        if not cp.bits.set(piece, status):
            return False
        if not src_pid or not dst_pid or src_pid == dst_pid:
            return True
        src, dst = self.peers.get(src_pid), self.peers.get(dst_pid)
        if status in (SUCCESS, SEMISUC):
            if src:
                src.client_error_count = 0
            if dst:
                dst.service_error_count = 0
        elif status == FAILED:
            self.blame(src_pid, dst_pid)
            if src:
                src.client_error_count += 1
            if dst:
                dst.service_error_count += 1
        return True

    def blame(self, src_pid: str, dst_pid: str) -> None:
        """Count a failure of ``src_pid`` fetching from ``dst_pid`` in its blacklist."""
        bl = self.blacklist.setdefault(src_pid, {})
        bl[dst_pid] = bl.get(dst_pid, 0) + 1
        self._blamed.setdefault(dst_pid, set()).add(src_pid)

    def blacklisted(self, src_pid: str, dst_pid: str) -> bool:
        return self.blacklist.get(src_pid, {}).get(dst_pid, 0) > 0

    def held_tasks(self, peer_id: str) -> tuple[str, ...]:
        """The tasks ``peer_id`` was recorded holding pieces of (the index a leaving peer is forgotten by)."""
        held = self._held.get(peer_id, ())
        return (held,) if type(held) is str else held

    # --- removal --------------------------------------------------------------------------
    def delete_client(self, cid: str) -> None:
        cp = self.clients.get(cid)
        if cp is None:
            return
        for piece in list(cp.running):
            self._release(cp, piece)
        del self.clients[cid]

    def delete_task(self, task_id: str) -> None:
        for cid in [c for c, cp in self.clients.items() if cp.task_id == task_id]:
            self.delete_client(cid)             # their running pieces no longer load anyone's uplink
        self.tasks.pop(task_id, None)
        self._sn_busy.discard(task_id)
        self._fetching.discard(task_id)

    def delete_peer(self, peer_id: str) -> None:
        for cid in set(self._serving.get(peer_id, ())):   # pieces others fetch from it: fetch again
            cp = self.clients.get(cid)
            if cp is None:
                continue
            for piece in [p for p, src in cp.running.items() if src == peer_id]:
                self._release(cp, piece)
                cp.bits.set(piece, WAITING)
        self._serving.pop(peer_id, None)
        ps = self.peers.pop(peer_id, None)
        if ps is not None and ps.producer_load:      # a peer that is gone no longer loads its upload server
            self._unload(ps.uplink, ps.producer_load)
        for dst in self.blacklist.pop(peer_id, {}):      # its own blacklist
            blamers = self._blamed.get(dst)
            if blamers is not None:
                blamers.discard(peer_id)
                if not blamers:
                    del self._blamed[dst]
        for src in self._blamed.pop(peer_id, ()):          # blacklists naming it
            bl = self.blacklist.get(src)
            if bl is not None:
                bl.pop(peer_id, None)
        n = self._index.get(peer_id)
        held = self._held.pop(peer_id, ())
        for task_id in (held,) if type(held) is str else held:     # the pieces it held (gone tasks: nothing to do)
            tp = self.tasks.get(task_id)
            if tp is not None and n is not None:
                tp.holders.forget(n)
        self._index.release(peer_id)
