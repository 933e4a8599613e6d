"""A swarm of simulated hosts driving the real supernode objects (build_services: SchedulerState, Scheduler,
TaskManager) through their ``register`` / ``pull`` / ``supernode_sent`` / ``service_down`` calls.

Each host runs dfget's loop: register, ``/peer/task`` (700), fetch the pieces handed out (each a transfer on
the simulated network from a peer's uplink or the supernode's), report each written piece in the next
``/peer/task`` call (701 + result 501, as our dfget does with ``reportInPull``), and on a 602 wait until the
task changes (a piece written somewhere, a supernode slot freed) or ``hold`` seconds pass, like the
supernode's held 602. A finished host stays as a source. Hosts may be slow, and may leave mid-run: half of
those say so (``/peer/service/down``), half vanish, and their transfers fail for the hosts fetching from
them after ``crash_timeout``; a left host is dropped by the supernode's peer GC ``gc_after`` seconds later.
Only the supernode's CDN is simulated (it fetches from an origin at ``origin_rate`` and reports pieces
through the real listener), and it is called only through the task manager.
"""
from __future__ import annotations

import hashlib
import random
import time
from collections import deque
from dataclasses import dataclass

from dfcommon.errors import DfError
from supernode.cdn.types import SourceInfo
from supernode.config import load_config
from supernode.scheduler.requests import PullRequest, RegisterRequest
from supernode.services import build_services

from .network import EventQueue, Link, Network

MiB = 1 << 20
CONTINUE, FINISH, WAIT = 601, 600, 602
WAKE = 1                 # held calls answered again per change of the task


@dataclass
class Scenario:
    hosts: int = 1000
    file_size: int = 1 << 30
    piece_size: int = 4 * MiB
    up: float = 100e6 / 8                 # bytes/s of a host's uplink
    down: float = 100e6 / 8
    sn_up: float = 100e6 / 8              # the supernode's uplink
    origin_rate: float = 1000e6 / 8       # the CDN's fetch from the origin
    latency: tuple = (0.0005, 0.005)      # one-way delay of a host, uniform in this range (seconds)
    arrival: float = 2.0                  # hosts register uniformly over this many seconds
    slow_share: float = 0.0               # share of hosts with slow links
    slow_factor: float = 0.25             # their up and down rates are this share of the others'
    leave_share: float = 0.0              # share of hosts that leave mid-run
    piece_failure: float = 0.0            # chance a transfer ends in a bad piece (md5 mismatch)
    hold: float = 1.0                     # a held 602 ends after this long without a change
    crash_timeout: float = 2.0            # a fetch from a vanished host fails after this long
    gc_after: float = 10.0                # the supernode's GC drops a left host this long after
    seed: int = 1


class SimCdn:
    """The CDN seen by the task manager: a probe that knows the length, and a fetch from the origin that
    reports each piece through the real CDN listener as it arrives."""

    def __init__(self, events: EventQueue, sc: Scenario):
        self.events, self.sc = events, sc
        self.listener = None
        self.on_change = None
        self.origin_bytes = 0
        self.md5s: dict[int, str] = {}

    def set_listener(self, listener) -> None:
        self.listener = listener

    def probe(self, req) -> SourceInfo:
        return SourceInfo(200, self.sc.file_size, True)

    def trigger(self, req, piece_size: int, source_length: int) -> None:
        n = -(-source_length // piece_size)
        per = piece_size / self.sc.origin_rate
        for i in range(n):
            size = min(piece_size, source_length - i * piece_size)
            self.events.after(per * (i + 1), self._piece, req.task_id, i, size, i == n - 1)

    def _piece(self, task_id: str, i: int, size: int, last: bool) -> None:
        self.origin_bytes += size
        self.md5s[i] = f"{hashlib.md5(b'%d' % i).hexdigest()}:{size}"
        self.listener.on_piece(task_id, i, self.md5s[i])
        if last:
            self.listener.on_success(task_id, self.sc.file_size, "0" * 32, self.sc.file_size)
        if self.on_change is not None:
            self.on_change()

    def status(self, task_id):
        return "SUCCESS"

    def piece_md5(self, task_id, piece_num):
        return self.md5s.get(piece_num)

    def piece_path(self, task_id, raw_url=""):
        return f"/download/{task_id[:3]}/{task_id}"

    def check_piece(self, task_id, piece_num, expected_md5):
        return True

    def delete(self, task_id, full):
        pass

    def disk_gc(self, in_use):
        return 0


class Host:
    __slots__ = ("n", "cid", "link", "slow", "leaves", "gone", "crashed", "running", "reports", "asking",
                 "parked", "started", "finished", "calls", "pieces", "next_call")

    def __init__(self, n: int, link: Link, slow: bool, leaves: bool):
        self.n, self.cid, self.link, self.slow, self.leaves = n, f"sim-{n}", link, slow, leaves
        self.gone = self.crashed = False
        self.running: dict = {}           # piece -> Transfer
        self.reports: list = []           # (piece, result, dst cid) to carry in the next calls
        self.asking = self.parked = False
        self.started = self.finished = None
        self.calls = self.pieces = 0
        self.next_call = None


class Swarm:
    def __init__(self, sc: Scenario):
        self.sc = sc
        self.rng = random.Random(sc.seed)
        self.events = EventQueue()
        self.net = Network(self.events)
        self.cdn = SimCdn(self.events, sc)
        self.cdn.on_change = self._wake
        conf = load_config(None, {"pull_hold": "0s", "piece_size": str(sc.piece_size)}, environ={})
        self.services = build_services(conf, cdn=self.cdn, rng=random.Random(sc.seed + 1))
        self.manager, self.state = self.services.manager, self.services.state
        self.sn_link = Link(sc.sn_up, float("inf"), 0.0002)
        self.hosts: list[Host] = []
        self.by_cid: dict[str, Host] = {}
        self.task_id = ""
        self.sn_cid = ""
        self.parked: deque[Host] = deque()
        self.parked_total = 0
        self.sn_bytes = 0
        self.cpu = 0.0
        self.pull_calls = 0
        self.failures = 0
        self.url = "http://origin.sim/blob/1gib"

    # --- set-up -----------------------------------------------------------------------------------
    def build(self) -> None:
        sc, rng = self.sc, self.rng
        slow = set(rng.sample(range(sc.hosts), int(sc.hosts * sc.slow_share)))
        leave = set(rng.sample(range(sc.hosts), int(sc.hosts * sc.leave_share)))
        for n in range(sc.hosts):
            f = sc.slow_factor if n in slow else 1.0
            link = Link(sc.up * f, sc.down * f, rng.uniform(*sc.latency))
            h = Host(n, link, n in slow, n in leave)
            self.hosts.append(h)
            self.by_cid[h.cid] = h
            self.events.at(rng.uniform(0, sc.arrival), self._register, h)
            if h.leaves:                    # mid-run: between a tenth and two thirds of the ideal time
                self.events.at(rng.uniform(0.1, 0.66) * self.t_min(), self._leave, h)

    def t_min(self) -> float:
        sc = self.sc
        ups = sum(h.link.up for h in self.hosts)
        d_min = min(h.link.down for h in self.hosts)
        return max(sc.file_size / sc.sn_up, sc.file_size / d_min, sc.hosts * sc.file_size / (sc.sn_up + ups))

    # --- calls into the real task manager ---------------------------------------------------------
    def _timed(self, fn, *args):
        t = time.process_time()
        try:
            return fn(*args)
        finally:
            self.cpu += time.process_time() - t

    def _register(self, h: Host) -> None:
        if h.gone:
            return
        n = h.n
        req = RegisterRequest(raw_url=self.url, cid=h.cid, ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                              host_name=f"sim{n}", port=15001, path=f"/sim/{h.cid}", version="sim",
                              call_system="sim")
        reply = self._timed(self.manager.register, req)
        self.task_id = reply["taskId"]
        self.sn_cid = self.state.super_cid(self.task_id)
        h.started = self.events.now
        self._ask(h, 700)

    def _ask(self, h: Host, status: int = 701) -> None:
        """Send one /peer/task call (it reaches the supernode after the host's latency)."""
        if h.gone or h.finished is not None or h.asking:
            return
        h.asking, h.parked = True, False
        self.events.after(h.link.latency, self._pull, h, status)

    def _pull(self, h: Host, status: int) -> None:
        h.asking = False
        if h.gone:
            return
        report = h.reports.pop(0) if h.reports else None
        if report is None:
            req = PullRequest(self.task_id, h.cid, status, "", "", 502 if status == 701 else None)
        else:
            piece, result, dst = report
            ps = self.sc.piece_size
            req = PullRequest(self.task_id, h.cid, 701, dst, f"{piece * ps}-{piece * ps + ps - 1}", result)
        self.pull_calls += 1
        h.calls += 1
        try:
            code, data = self._timed(self.manager.pull, req)
        except DfError:
            code, data = WAIT, None
        if report is not None and report[1] in (501, 500):
            self._wake()                    # the task changed: held calls are scheduled again
        self.events.after(h.link.latency, self._reply, h, code, data)

    def _reply(self, h: Host, code: int, data) -> None:
        if h.gone:
            return
        if code == FINISH:
            h.finished = self.events.now
            return
        if code == CONTINUE and data:
            for info in data:
                self._fetch(h, info)
        if h.reports:
            self._ask(h)
        elif code == WAIT:
            self._park(h)

    def _park(self, h: Host) -> None:
        if h.parked:
            return
        h.parked = True
        self.parked.append(h)
        self.parked_total += 1
        self.events.after(self.sc.hold, self._unpark, h)

    def _unpark(self, h: Host) -> None:
        if h.parked:
            h.parked = False
            self._ask(h)

    def _wake(self, limit: int = WAKE) -> None:
        """A change of the task: a few held calls are answered again (oldest first)."""
        woken = 0
        while self.parked and woken < limit:
            h = self.parked.popleft()
            if h.parked:
                h.parked = False
                self._ask(h)
                woken += 1

    # --- transfers --------------------------------------------------------------------------------
    def _fetch(self, h: Host, info: dict) -> None:
        piece, dst = info["pieceNum"], info["cid"]
        src_host = None if dst == self.sn_cid else self.by_cid.get(dst)
        src = self.sn_link if src_host is None else src_host.link
        size = min(self.sc.piece_size, self.sc.file_size - piece * self.sc.piece_size)
        delay = h.link.latency + src.latency          # the request to the source
        self.events.after(delay, self._start, h, src_host, src, piece, size, dst)

    def _start(self, h: Host, src_host, src: Link, piece: int, size: int, dst: str) -> None:
        if h.gone:
            return
        if src_host is not None and src_host.gone:
            if src_host.crashed:             # no answer: the fetch times out
                self.events.after(self.sc.crash_timeout, self._failed, h, piece, dst)
            else:                            # connection refused at once
                self._failed(h, piece, dst)
            return
        t = self.net.start(src, h.link, size, self._done, (h, src_host, piece, dst))
        h.running[piece] = t
        if src_host is not None:
            src_host.running.setdefault(("up", id(t)), t)

    def _done(self, t) -> None:
        h, src_host, piece, dst = t.meta
        h.running.pop(piece, None)
        if src_host is None:
            self.sn_bytes += t.size
            self._timed(self.manager.supernode_sent, self.task_id, piece)
            self._wake()
        else:
            src_host.running.pop(("up", id(t)), None)
        if self.sc.piece_failure and self.rng.random() < self.sc.piece_failure:
            self._failed(h, piece, dst)
            return
        h.pieces += 1
        h.reports.append((piece, 501, dst))
        self._ask(h)

    def _failed(self, h: Host, piece: int, dst: str) -> None:
        if h.gone:
            return
        self.failures += 1
        h.running.pop(piece, None)
        h.reports.append((piece, 500, dst))
        self._ask(h)

    # --- leaving hosts ----------------------------------------------------------------------------
    def _leave(self, h: Host) -> None:
        if h.gone:
            return
        h.gone = True
        h.crashed = h.n % 2 == 1
        h.parked = False
        for key, t in list(h.running.items()):
            self.net.cancel(t)
            if isinstance(key, tuple):       # an upload: its receiver sees the connection end
                receiver, _, piece, dst = t.meta
                receiver.running.pop(piece, None)
                delay = self.sc.crash_timeout if h.crashed else 0.0
                self.events.after(delay, self._failed, receiver, piece, dst)
            elif t.meta[1] is None:
                self._timed(self.manager.supernode_sent, self.task_id, key)
            else:
                t.meta[1].running.pop(("up", id(t)), None)
        h.running.clear()
        if not h.crashed and self.task_id:
            try:
                self._timed(self.manager.service_down, self.task_id, h.cid)
            except DfError:
                pass
        self.events.after(self.sc.gc_after, self._gc, h)

    def _gc(self, h: Host) -> None:
        dt = self.state.dfget_tasks.get(h.cid, self.task_id)
        if dt is not None:
            self._timed(self.state.drop_peer, dt.peer_id)

    # --- run ----------------------------------------------------------------------------------------
    def run(self, limit: float = 1e6) -> None:
        self.build()
        self.events.run(limit)
