"""Property test: the dfget-task index by peer (one dfget task per peer kept without a tuple key, a dict when a
peer has several) answers ``cid_of`` as a recount of the registrations does, after random adds and deletes.
A peer id is one dfget run, so one cid registers it (for one task or several); a cid registers many peers."""
from hypothesis import given, settings, strategies as st

from supernode.scheduler.tasks import DfgetTask, DfgetTaskRegistry

CIDS, TASKS, RUNS = ["c0", "c1", "c2"], ["t0", "t1"], ["r0", "r1"]
PEERS = [f"{c}-{r}" for c in CIDS for r in RUNS]
op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(CIDS), st.sampled_from(TASKS), st.sampled_from(RUNS)),
    st.tuples(st.just("delete"), st.sampled_from(CIDS), st.sampled_from(TASKS)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_cid_of_equals_a_recount(ops):
    reg = DfgetTaskRegistry()
    for o in ops:
        if o[0] == "add":
            reg.add(DfgetTask(o[1], o[2], f"{o[1]}-{o[3]}"))
        else:
            reg.delete(o[1], o[2])
        by_peer: dict = {}
        for dt in reg.list():
            by_peer.setdefault((dt.peer_id, dt.task_id), []).append(dt.cid)
        for pid in PEERS:
            for t in TASKS:
                assert [reg.cid_of(pid, t)] == by_peer.get((pid, t), [None])
