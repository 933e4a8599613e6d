"""Holder arrays and bitsets (supernode/scheduler/holders.py) against a plain dict of sets."""
import random

from hypothesis import given, settings, strategies as st

from supernode.scheduler import Limits, PeerRegistry, ProgressStore, Scheduler, create_policy
from supernode.scheduler.holders import PeerIndex, TaskHolders
from supernode.scheduler.progress import SUCCESS
from supernode.scheduler.scheduler import CANDIDATES, SUPERNODE

PIDS = [f"p{i}" for i in range(6)]
op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 20), st.sampled_from(PIDS)),
    st.tuples(st.just("discard"), st.integers(0, 20), st.sampled_from(PIDS)),
    st.tuples(st.just("leave"), st.just(0), st.sampled_from(PIDS)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(op, max_size=80), st.integers(1, 4))
def test_holders_equal_a_reference_after_random_changes(ops, k):
    index = PeerIndex()
    th, ref = TaskHolders(index), {}
    for kind, piece, pid in ops:
        if kind == "add":
            th.of(piece).add(pid)
            ref.setdefault(piece, set()).add(pid)
        elif kind == "discard":
            th.of(piece).discard(pid)
            ref.get(piece, set()).discard(pid)
        else:
            n = index.get(pid)
            if n is not None:
                th.forget(n)
            index.release(pid)
            for hs in ref.values():
                hs.discard(pid)
        for p in range(21):
            hs = th.get(p)
            want = ref.get(p, set())
            got = set(hs) if hs is not None else set()
            assert got == want and (hs is None or len(hs) == len(want))
            assert all(th.holds(x, p) == (x in want) for x in PIDS)
            if hs is not None:
                drawn = hs.sample(k, random.Random(p))
                assert len(drawn) == len(set(drawn)) and set(drawn) <= want
                assert (len(drawn) == len(want)) if len(want) <= k else 1 <= len(drawn) <= k


def test_a_free_holder_is_found_among_many_busy_ones():
    """With more holders than the sample looks at, the source is still a holder with room on its uplink."""
    progress, peers = ProgressStore(), PeerRegistry()
    sched = Scheduler(progress, peers, create_policy("rarest-first"), Limits(peer_up_limit=1), random.Random(3))
    progress.sn_piece("t", 0, "m")
    progress.sn_finished("t")
    for i in range(CANDIDATES * 16):
        peer = peers.register(f"10.0.{i // 200}.{i % 200 + 1}", f"h{i}", 15001)
        progress.init_client("t", f"c{i}", peer.id)
        progress.update(f"c{i}", peer.id, SUPERNODE, 0, SUCCESS)
    sources = []
    for j in range(40):
        me = peers.register("10.9.0.1", f"me{j}", 15001)
        progress.init_client("t", f"me{j}", me.id)
        r = sched.schedule("t", f"me{j}", me.id)
        assert len(r.assignments) == 1
        a = r.assignments[0]
        assert a.dst_pid != SUPERNODE and me.id not in progress.holders("t", 0)
        assert progress.uplink_load(peers.get(a.dst_pid).uplink) == 1
        sources.append(a.dst_pid)
    assert len(set(sources)) == len(sources)       # each holder serves one piece at a time (peer_up_limit=1)


def test_the_one_holder_with_room_is_found_through_the_free_pool():
    """200 holders of the only piece, every upload server full but one: the sampled holders are busy, and the
    draws from the task's free pool take the full ones out, so within a bounded number of calls the client
    gets the one with room (never the supernode: it keeps its slots for new pieces while the CDN fetches)."""
    from supernode.scheduler.scheduler import POOL_DRAWS
    progress, peers = ProgressStore(), PeerRegistry()
    sched = Scheduler(progress, peers, create_policy("rarest-first"), Limits(peer_up_limit=1), random.Random(5))
    progress.sn_piece("t", 0, "m")
    holders = []
    for i in range(200):
        peer = peers.register(f"10.1.{i // 200}.{i % 200 + 1}", f"h{i}", 15001)
        progress.init_client("t", f"c{i}", peer.id)
        progress.update(f"c{i}", peer.id, SUPERNODE, 0, SUCCESS)
        holders.append(peer)
    free = holders[137]
    for i, peer in enumerate(holders):
        if peer is not free:                       # its one upload slot taken by another download
            progress.init_client("t", f"l{i}", f"lp{i}")
            progress.start_piece(f"l{i}", 0, peer.id, peer.uplink)
    assert len(progress.task_holders("t").free) == 200
    me = peers.register("10.9.0.1", "me", 15001)
    progress.init_client("t", "me", me.id)
    for calls in range(1, 200 // POOL_DRAWS + 2):
        r = sched.schedule("t", "me", me.id)
        if r.assignments:
            break
        assert r.wait
    assert [a.dst_pid for a in r.assignments] == [free.id]
    assert len(progress.task_holders("t").free) <= 200 - POOL_DRAWS * (calls - 1)
