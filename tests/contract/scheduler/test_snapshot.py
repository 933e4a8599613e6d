"""The Redis store's per-call snapshot (supernode/cluster/snapshot.py) answers as live reads do, its writes
land as live writes would, and two members writing the same records at once add up.

Random sequences of register / start / success / failure / leave calls run on the in-memory store and on
the Redis store; every few steps a client's call is made on the Redis store inside ``call`` (one snapshot,
answers from memory, writes in one pipeline at the end) and its answers compared with the in-memory store's
and with the Redis store's live answers outside the snapshot."""
import random

import pytest
import redis

from supernode.cluster.keys import Keys
from supernode.cluster.snapshot import SampledHolders
from supernode.cluster.store import RedisSchedulerStore
from supernode.scheduler.holders import sample_holders
from supernode.scheduler.progress import FAILED, RUNNING, SEMISUC, SUCCESS, WAITING, ProgressStore

TASKS, PEERS, PIECES = ["t1", "t2"], [f"p{i}" for i in range(7)], 8
STATUSES = [SUCCESS, FAILED, RUNNING, SEMISUC, WAITING]


def _client(redis_url):
    return redis.Redis.from_url(redis_url, decode_responses=True)


def _view(s, task, cid):
    """What the scheduler asks the store during one call about ``task`` and ``cid``."""
    c = s.client(cid)
    out = {"client": None if c is None else (c.task_id, c.peer_id, dict(c.running)),
           "done": s.success_pieces(cid), "available": s.available(task, cid),
           "fetching": s.cdn_fetching(), "complete": s.sn_complete(task), "superload": s.superload(task),
           "total": s.superload_total()}
    for p in range(PIECES):
        hs = s.holders(task, p)
        out[p] = (len(hs), s.in_flight(task, p), s.piece_md5(task, p), s.sn_sending_since(task, p))
    for pid in PEERS:
        ps = s.peer(pid)
        out[pid] = None if ps is None else (ps.producer_load, ps.client_error_count, ps.service_error_count,
                                            [s.blacklisted(pid, q) for q in PEERS])
        out["up:" + pid] = s.uplink_load("up-" + pid)
    return out


def _random_call(rng, mem, clients):
    """One store call of the kinds a pull, a report, a register or a leave makes (None: nothing fits)."""
    op = rng.choice(["sn_piece", "sn_piece", "sn_finished", "init_client", "start", "start", "start_sn",
                     "update", "update", "update", "blame", "delete_peer", "drop_holder", "delete_client"])
    t, pid, piece = rng.choice(TASKS), rng.choice(PEERS), rng.randrange(PIECES)
    live = [c for c in sorted(clients) if mem.client(c) is not None]
    cid = rng.choice(live) if live else None
    if op == "sn_piece":
        return ("sn_piece", t, piece, f"md5-{piece}")
    if op == "sn_finished":
        return ("sn_finished", t)
    if op == "init_client":
        cid = f"c{rng.randrange(8)}"
        clients[cid] = (t, pid)
        return ("init_client", t, cid, pid)
    if cid is None:
        return None
    if op in ("start", "start_sn"):
        dst = "" if op == "start_sn" else rng.choice(PEERS)
        return ("start_piece", cid, piece, dst, "up-" + dst if dst else "")
    if op == "update":
        running = list(mem.client(cid).running)
        p = rng.choice(running) if running and rng.random() < 0.8 else piece
        dst = mem.client(cid).running.get(p, rng.choice(PEERS + [""]))
        return ("update", cid, clients[cid][1], dst, p, rng.choice(STATUSES))
    if op == "blame":
        return ("blame", rng.choice(PEERS), pid)
    if op == "delete_peer" and rng.random() < 0.3:
        return ("delete_peer", pid)
    if op == "drop_holder":
        return ("drop_holder", t, piece, pid)
    if op == "delete_client" and rng.random() < 0.3:
        return ("delete_client", cid)
    return None


def _same(mem, red, name, args, step):
    a, b = getattr(mem, name)(*args), getattr(red, name)(*args)
    if name == "update":
        assert a == b, (step, name, args)


@pytest.mark.parametrize("seed", range(8))
def test_snapshot_answers_as_live_reads_after_random_sequences(redis_url, seed):
    clock = [100.0]
    mem = ProgressStore(clock=lambda: clock[0])
    red = RedisSchedulerStore(_client(redis_url), Keys(f"snap{seed}"), clock=lambda: clock[0], sample=3,
                              sampled_pieces=3)      # small: samples and pieces past the rarest are exercised
    rng = random.Random(seed)
    clients: dict[str, tuple[str, str]] = {}
    calls_in_snapshot = 0
    for step in range(300):
        if rng.random() < 0.1:
            clock[0] += rng.choice([1.0, 5.0, 31.0])
        if clients and rng.random() < 0.3:          # one call inside a snapshot: reads, then a few writes
            cid = rng.choice(sorted(clients))
            task, pid = clients[cid]
            dst = rng.choice(PEERS)
            live = _view(red, task, cid)
            with red.call(task, cid, pid, [dst], [rng.randrange(PIECES)], schedule=rng.random() < 0.8):
                assert _view(red, task, cid) == live == _view(mem, task, cid), (step, cid)
                for _ in range(rng.randrange(4)):
                    call = _random_call(rng, mem, clients)
                    if call is None or call[0] == "init_client":
                        continue
                    name, args = call[0], call[1:]
                    _same(mem, red, name, args, step)
                    assert _view(red, task, cid) == _view(mem, task, cid), (step, call)   # its own writes
            calls_in_snapshot += 1
            assert _view(red, task, cid) == _view(mem, task, cid), (step, "after the flush")
            continue
        call = _random_call(rng, mem, clients)
        if call is None:
            continue
        _same(mem, red, call[0], call[1:], step)
    assert calls_in_snapshot > 30
    for cid, (task, _) in clients.items():
        assert _view(red, task, cid) == _view(mem, task, cid)


def test_snapshot_reads_a_bounded_sample_of_a_busy_piece(redis_url):
    red = RedisSchedulerStore(_client(redis_url), Keys("snapbig"), clock=lambda: 100.0, sample=4)
    red.sn_piece("t", 0, "m0")
    for i in range(40):
        red.init_client("t", f"h{i}", f"peer{i}")
        red.start_piece(f"h{i}", 0, "")
        red.update(f"h{i}", f"peer{i}", "", 0, SUCCESS)
    red.init_client("t", "c", "me")
    with red.call("t", "c", "me") as snap:
        hs = red.holders("t", 0)
        assert isinstance(hs, SampledHolders) and len(hs) == 40 and len(hs.members) == 4
        assert set(sample_holders(hs, 8, random.Random(1))) <= {f"peer{i}" for i in range(40)}
        assert snap.misses == 0
        for pid in hs.members:                      # the sampled holders' states came with the snapshot
            assert red.peer(pid) is not None and not red.blacklisted("me", pid)
        assert snap.misses == 0


def test_two_members_releasing_one_piece_at_once_release_it_once(redis_url):
    r = _client(redis_url)
    a = RedisSchedulerStore(r, Keys("snaptwo"), clock=lambda: 100.0)
    b = RedisSchedulerStore(_client(redis_url), Keys("snaptwo"), clock=lambda: 100.0)
    a.init_client("t", "c1", "p1")
    a.init_client("t", "c2", "p2")
    a.start_piece("c1", 3, "p2", "up-p2")
    a.start_piece("c2", 4, "")
    with a.call("t", "c1", "p1", ["p2"], [3]):
        assert a.update("c1", "p1", "p2", 3, SUCCESS)       # member A: released in its snapshot...
        assert b.update("c1", "p1", "p2", 3, FAILED)        # ...member B releases it live before A writes
        assert a.in_flight("t", 3) == 0                     # A's own view
    for s in (a, b):                                        # the loads were lowered once, not twice
        assert s.in_flight("t", 3) == 0 and s.uplink_load("up-p2") == 0 and s.peer("p2").producer_load == 0
    with a.call("t", "c2", "p2"), b.call("t", "c2", "p2"):  # both members start a supernode send at once
        a.start_piece("c2", 5, "")
        b.start_piece("c2", 6, "")
    assert a.superload("t") == 3 and a.superload_total() == 3
    assert a.in_flight("t", 5) == a.in_flight("t", 6) == 1
    assert a.sn_sending_since("t", 5) == a.sn_sending_since("t", 6) == 100.0


def test_a_read_the_snapshot_lacks_is_read_live_after_the_queued_writes(redis_url):
    red = RedisSchedulerStore(_client(redis_url), Keys("snapmiss"), clock=lambda: 100.0)
    red.init_client("t", "c1", "p1")
    red.init_client("t2", "c9", "p9")
    with red.call("t", "c1", "p1") as snap:
        red.start_piece("c1", 2, "p9", "up-p9")             # p9 not in the snapshot: its keys are written blind
        assert red.uplink_load("up-p9") == 1 and red.peer("p9").producer_load == 1
        assert red.client("c9").task_id == "t2"             # another client's keys: read live
        assert snap.misses >= 2
    assert red.uplink_load("up-p9") == 1
