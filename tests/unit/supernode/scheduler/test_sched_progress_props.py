"""Property test: the progress store's incremental records equal a full recount after random sequences of
register / start / success / failure / leave."""
from hypothesis import given, settings, strategies as st

from supernode.scheduler.progress import FAILED, SUCCESS, ProgressStore

PEERS = [f"p{i}" for i in range(5)]
TASKS = ["t0", "t1"]
op = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(TASKS), st.sampled_from(PEERS)),
    st.tuples(st.just("start"), st.sampled_from(TASKS), st.sampled_from(PEERS), st.integers(0, 5),
              st.sampled_from(PEERS + [""])),
    st.tuples(st.just("result"), st.sampled_from(TASKS), st.sampled_from(PEERS), st.integers(0, 5),
              st.sampled_from([SUCCESS, FAILED])),
    st.tuples(st.just("leave"), st.sampled_from(PEERS)),
)


def _recount_in_flight(store):
    counts = {}
    for cp in store.clients.values():
        for piece in cp.running:
            counts[(cp.task_id, piece)] = counts.get((cp.task_id, piece), 0) + 1
    return counts


@settings(max_examples=200, deadline=None)
@given(st.lists(op, max_size=60))
def test_incremental_records_equal_a_recount(ops):
    s = ProgressStore(clock=lambda: 0.0)
    for o in ops:
        if o[0] == "register":
            s.init_client(o[1], f"{o[2]}-{o[1]}", o[2])
        elif o[0] == "start":
            cid = f"{o[2]}-{o[1]}"
            cp = s.client(cid)
            if cp is not None and o[3] not in cp.running and o[4] != o[2]:
                s.start_piece(cid, o[3], o[4])
        elif o[0] == "result":
            cp = s.client(f"{o[2]}-{o[1]}")
            if cp is not None and o[3] in cp.running:
                s.update(f"{o[2]}-{o[1]}", o[2], cp.running[o[3]], o[3], o[4])
        else:
            for cid in [c for c, cp in s.clients.items() if cp.peer_id == o[1]]:
                s.delete_client(cid)
            s.delete_peer(o[1])
            assert all(o[1] not in hs for tp in s.tasks.values() for hs in tp.holders.values())
            assert all(o[1] not in bl for bl in s.blacklist.values()) and o[1] not in s.blacklist
        # in flight per piece equals the clients' running pieces counted afresh
        flights = {(t, p): n for t, tp in s.tasks.items() for p, n in tp.in_flight.items()}
        assert flights == _recount_in_flight(s)
        # upload-server load equals the running pieces served by peers, counted afresh
        loads = {}
        for cp in s.clients.values():
            for src in cp.running.values():
                if src and src in s.peers:
                    up = s.peers[src].uplink
                    loads[up] = loads.get(up, 0) + 1
        assert {u: n for u, n in s.uplinks.items() if n} == loads
        # the leave indexes cover every holder and every blacklist entry
        for t, tp in s.tasks.items():
            for p, hs in tp.holders.items():
                pids = list(hs)
                assert len(pids) == len(set(pids)) == len(hs)       # no peer twice in a piece's array
                for pid in pids:
                    assert t in s.held_tasks(pid) and s.holds(pid, t, p)
            # the per-peer bitsets and the per-piece arrays say the same, counted afresh
            from_bits = {(n, p) for n in tp.holders.held for p in tp.holders.held_pieces(n)}
            from_arrays = {(s._index.get(pid), p) for p, hs in tp.holders.items() for pid in hs}
            assert from_bits == from_arrays
            # the free pool: each member once, its bitset and array agree, and (no scheduler draws take
            # members out here) every peer holding a piece of the task is a member
            pool = tp.holders.free
            assert len(set(pool.nums)) == len(pool.nums)
            assert all(n in pool for n in pool.nums) and \
                sum(bin(b).count("1") for b in pool.member) == len(pool.nums)
            assert {n for n, _ in from_bits} <= set(pool.nums)
        for src, bl in s.blacklist.items():
            for dst in bl:
                assert src in s._blamed.get(dst, set())
        # the per-source cid lists name each client once per piece it fetches from that source, counted afresh
        recount: dict = {}
        for cid, cp in s.clients.items():
            for src in cp.running.values():
                if src:
                    recount.setdefault(src, []).append(cid)
        assert {src: sorted(cids) for src, cids in s._serving.items()} == \
            {src: sorted(cids) for src, cids in recount.items()}


def test_a_leaving_source_frees_the_pieces_fetched_from_it():
    s = ProgressStore(clock=lambda: 0.0)
    s.init_client("t", "c1", "p1")
    s.init_client("t", "c0", "p0")
    s.start_piece("c1", 3, "p0")
    assert s.uplink_load("p0") == 1
    s.delete_client("c0")
    s.delete_peer("p0")
    assert 3 not in s.client("c1").running and s.tasks["t"].in_flight == {}
    assert s.uplinks == {} and s._serving == {}
    s.init_client("t", "c0", "p0")              # the same peer id back: nothing stale charged to it
    assert s.uplink_load("p0") == 0


def test_free_pool_members_leave_when_full_and_come_back_when_an_upload_ends():
    from supernode.scheduler.holders import FreePool
    pool = FreePool()
    for n in (3, 9, 3, 17):
        pool.add(n)
    assert sorted(pool.nums) == [3, 9, 17] and 9 in pool and 4 not in pool
    pool.remove_at(list(pool.nums).index(9))
    assert sorted(pool.nums) == [3, 17] and 9 not in pool
    s = ProgressStore(clock=lambda: 0.0)
    s.init_client("t", "c0", "p0")
    s.init_client("t", "c1", "p1")
    s.update("c0", "p0", "", 0, SUCCESS)           # p0 holds piece 0: a member
    th = s.task_holders("t")
    n0 = s._index.get("p0")
    assert list(th.free.nums) == [n0]
    th.free.remove_at(0)                           # a draw found it full
    s.start_piece("c1", 0, "p0")
    s.update("c1", "p1", "p0", 0, SUCCESS)         # its upload ended: back in the pool, with the new holder
    assert sorted(th.free.nums) == sorted([n0, s._index.get("p1")])
