"""Topology-aware source choice: the registration's location / idc labels (docs/scheduler.md)."""
import random

from supernode.scheduler import Limits, PeerRegistry, ProgressStore, Scheduler, create_policy
from supernode.scheduler.progress import SUCCESS
from supernode.scheduler.scheduler import SUPERNODE, affinity


class World:
    def __init__(self, limits=Limits(peer_up_limit=2, peer_down_limit=1), pieces=1):
        self.progress, self.peers = ProgressStore(), PeerRegistry()
        self.sched = Scheduler(self.progress, self.peers, create_policy("rarest-first"), limits, random.Random(5))
        for n in range(pieces):
            self.progress.sn_piece("t", n, "m")
        self.progress.sn_finished("t")
        self.n = 0

    def peer(self, location="", idc="", holds=()):
        self.n += 1
        p = self.peers.register(f"10.0.0.{self.n}", f"h{self.n}", 15001, location=location, idc=idc)
        self.progress.init_client("t", f"c{self.n}", p.id)
        for piece in holds:
            self.progress.update(f"c{self.n}", p.id, SUPERNODE, piece, SUCCESS)
        return p, f"c{self.n}"

    def source(self, peer, cid):
        r = self.sched.schedule("t", cid, peer.id)
        assert len(r.assignments) == 1
        return r.assignments[0].dst_pid


def test_affinity_counts_shared_location_elements_then_the_idc():
    w = World()
    me, _ = w.peer("eu|fra|r1", "dc1")
    rack, _ = w.peer("eu|fra|r1")
    zone, _ = w.peer("eu|fra|r9", "dc1")
    far, _ = w.peer("us|nyc|r1", "dc1")
    bare, _ = w.peer()
    assert affinity(me, rack) == 6 and affinity(me, zone) == 5 and affinity(me, far) == 1
    assert affinity(me, bare) == 0 and affinity(bare, rack) == 0


def test_the_same_location_is_preferred_then_the_least_loaded():
    w = World()
    others = [w.peer("us|nyc|r1", holds=[0])[0] for _ in range(6)]
    near, _ = w.peer("eu|fra|r1", holds=[0])
    picks = [w.source(*w.peer("eu|fra|r2")) for _ in range(2)]
    assert picks == [near.id, near.id]                 # the same region and zone, twice (up limit 2)
    third = w.source(*w.peer("eu|fra|r2"))              # its uplink is full: the least loaded of the others
    assert third in {p.id for p in others}


def test_the_same_idc_wins_over_a_lighter_load_elsewhere():
    w = World(limits=Limits(peer_up_limit=3, peer_down_limit=1))
    a, _ = w.peer(idc="dc-a", holds=[0])
    b, _ = w.peer(idc="dc-b", holds=[0])
    w.progress.start_piece(w.peer()[1], 0, a.id, a.uplink)      # "a" already serves one piece
    assert w.source(*w.peer(idc="dc-a")) == a.id
    assert w.source(*w.peer(idc="dc-b")) == b.id


def test_without_labels_the_choice_is_the_least_loaded_as_before():
    w = World(limits=Limits(peer_up_limit=3, peer_down_limit=1))
    a, _ = w.peer("eu|fra|r1", holds=[0])
    b, _ = w.peer("us|nyc|r1", holds=[0])
    w.progress.start_piece(w.peer()[1], 0, a.id, a.uplink)
    assert w.source(*w.peer()) == b.id                  # a Dragonfly 1.x client: no label, least loaded
