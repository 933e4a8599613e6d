"""Property test: the incremental rarest-first levels (rarity.py) equal a full recount, and walking them gives
the policies' order, after random sequences of CDN pieces / register / start / success / failure / leave /
CDN restart."""
import random

from hypothesis import given, settings, strategies as st

from supernode.scheduler.policy import PieceView, center, create_policy
from supernode.scheduler.progress import FAILED, SUCCESS, ProgressStore

PEERS = [f"p{i}" for i in range(3)]
TASKS = ["t0", "t1"]
PIECES = st.integers(0, 4)
op = st.one_of(
    st.tuples(st.just("sn"), st.sampled_from(TASKS), PIECES),
    st.tuples(st.just("register"), st.sampled_from(TASKS), st.sampled_from(PEERS)),
    st.tuples(st.just("start"), st.integers(0, 5), PIECES, st.sampled_from(PEERS + [""])),     # client by index
    st.tuples(st.just("result"), st.integers(0, 5), st.integers(0, 3), st.sampled_from([SUCCESS, FAILED])),
    st.tuples(st.just("leave"), st.sampled_from(PEERS)),
    st.tuples(st.just("restart"), st.sampled_from(TASKS)),
)


def _apply(s, o):
    cids = sorted(s.clients)
    if o[0] == "sn":
        s.sn_piece(o[1], o[2], "m")
    elif o[0] == "register":
        s.init_client(o[1], f"{o[2]}-{o[1]}", o[2])
    elif o[0] == "start" and cids:
        cid = cids[o[1] % len(cids)]
        cp = s.client(cid)
        if o[2] not in cp.running and not cp.bits.has(o[2], SUCCESS) and o[3] != cp.peer_id:
            s.start_piece(cid, o[2], o[3])
    elif o[0] == "result" and cids:
        cid = cids[o[1] % len(cids)]
        cp = s.client(cid)
        if cp.running:                                  # a result for one of its running pieces
            piece = sorted(cp.running)[o[2] % len(cp.running)]
            s.update(cid, cp.peer_id, cp.running[piece], piece, o[3])
    elif o[0] == "leave":
        for cid in [c for c, cp in s.clients.items() if cp.peer_id == o[1]]:
            s.delete_client(cid)
        s.delete_peer(o[1])
    elif o[0] == "restart":
        s.init_task(o[1], reset=True)


def _check_levels(s, task_id):
    tp = s.tasks[task_id]
    r = tp.rarity
    sn = {p for p in range(64) if tp.sn.has(p, SUCCESS)}
    assert r.sn == sum(1 << p for p in sn)
    held = {p: len(hs) for p, hs in tp.holders.items() if len(hs)}
    assert r.held == held and r.flight == tp.in_flight
    want_copies, want_held = {}, {}
    for p in sn:
        h = held.get(p, 0)
        key = (h + tp.in_flight.get(p, 0), 0 if h else 1)
        want_copies[key] = want_copies.get(key, 0) | 1 << p
        want_held[h] = want_held.get(h, 0) | 1 << p
    assert r.copies.masks == want_copies and r.copies.keys == sorted(want_copies)
    assert r.by_held.masks == want_held and r.by_held.keys == sorted(want_held)


def _keys(s, task_id, cp, pieces, in_flight):
    mid = center(list(cp.running))
    out = []
    for p in pieces:
        h = len(s.holders(task_id, p))
        out.append((h + s.in_flight(task_id, p), 0 if h else 1, abs(p - mid)) if in_flight else (h, abs(p - mid)))
    return out


@settings(max_examples=250, deadline=None)
@given(st.lists(op, min_size=10, max_size=60), st.integers(0, 1000))
def test_levels_equal_a_recount_and_walk_in_policy_order(ops, seed):
    s = ProgressStore(clock=lambda: 0.0)
    for o in ops:
        _apply(s, o)
        for task_id in s.tasks:
            _check_levels(s, task_id)
    for cid, cp in s.clients.items():
        available = s.available(cp.task_id, cid)
        assert s.wanted_mask(cp.task_id, cid) == sum(1 << p for p in available)
        view = PieceView(holders=lambda p, t=cp.task_id: len(s.holders(t, p)),
                         in_flight=lambda p, t=cp.task_id: s.in_flight(t, p), running=list(cp.running))
        for name, kind, in_flight in (("rarest-first", "copies", True), ("dragonfly", "held", False)):
            walked = list(s.rarity(cp.task_id).walk(kind, lambda: s.wanted_mask(cp.task_id, cid),
                                                    center(list(cp.running)), random.Random(seed)))
            ordered = create_policy(name).order(available, view, random.Random(seed))
            assert sorted(walked) == sorted(ordered)
            # the same order up to the random order of equal keys
            assert _keys(s, cp.task_id, cp, walked, in_flight) == _keys(s, cp.task_id, cp, ordered, in_flight)
