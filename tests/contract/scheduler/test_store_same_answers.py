"""The Redis store answers every call as the in-memory store does: random sequences of the calls the task
manager and scheduler make, applied to both, with every answer and every observable count compared."""
import random

import pytest
import redis

from supernode.cluster.keys import Keys
from supernode.cluster.store import RedisSchedulerStore
from supernode.scheduler.progress import FAILED, RUNNING, SEMISUC, SUCCESS, WAITING, ProgressStore

TASKS, PEERS, PIECES = ["t1", "t2"], ["p1", "p2", "p3", "p4"], 6
STATUSES = [SUCCESS, FAILED, RUNNING, SEMISUC, WAITING]


def _observe(s, clients):
    out = {"fetching": s.cdn_fetching(), "total": s.superload_total()}
    for t in TASKS:
        out[t] = (s.sn_count(t), s.sn_complete(t), s.superload(t),
                  [(sorted(s.holders(t, p)), s.in_flight(t, p), s.piece_md5(t, p), s.sn_sending_since(t, p))
                   for p in range(PIECES)])
    for cid in clients:
        c = s.client(cid)
        out[cid] = None if c is None else (c.task_id, c.peer_id, dict(c.running), s.success_pieces(cid),
                                           {t: s.available(t, cid) for t in TASKS})
    for pid in PEERS:
        ps = s.peer(pid)
        out[pid] = None if ps is None else (ps.producer_load, ps.uplink, ps.client_error_count,
                                            ps.service_error_count, [s.blacklisted(pid, q) for q in PEERS])
        out["up:" + pid] = s.uplink_load("up-" + pid)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_random_sequences_give_the_same_answers(redis_url, seed):
    clock = [100.0]
    mem = ProgressStore(clock=lambda: clock[0])
    red = RedisSchedulerStore(redis.Redis.from_url(redis_url, decode_responses=True), Keys(f"same{seed}"),
                              clock=lambda: clock[0])
    rng = random.Random(seed)
    clients: dict[str, tuple[str, str]] = {}
    for step in range(220):
        op = rng.choice(["init_task", "reset", "sn_piece", "sn_finished", "sn_stopped", "init_client", "start",
                         "start_sn", "update", "ended", "drop_holder", "blame", "delete_client", "delete_peer",
                         "delete_task", "tick", "start", "update", "update", "sn_piece"])
        t, pid, piece = rng.choice(TASKS), rng.choice(PEERS), rng.randrange(PIECES)
        cid = rng.choice(sorted(clients)) if clients else None
        if op == "init_task":
            call = ("init_task", t)
        elif op == "reset":
            call = ("init_task", t, True)
        elif op == "sn_piece":
            call = ("sn_piece", t, piece, f"md5-{piece}")
        elif op in ("sn_finished", "sn_stopped"):
            call = (op, t)
        elif op == "init_client":
            cid = f"c{rng.randrange(6)}"
            clients[cid] = (t, pid)
            call = ("init_client", t, cid, pid)
        elif op in ("start", "start_sn") and cid and mem.client(cid) is not None:
            dst = "" if op == "start_sn" else rng.choice(PEERS)
            call = ("start_piece", cid, piece, dst, "up-" + dst if dst else "")
        elif op == "update" and cid and mem.client(cid) is not None:
            running = list(mem.client(cid).running)
            p = rng.choice(running) if running and rng.random() < 0.8 else piece
            dst = mem.client(cid).running.get(p, rng.choice(PEERS + [""]))
            call = ("update", cid, clients[cid][1], dst, p, rng.choice(STATUSES))
        elif op == "ended":
            call = ("sn_send_ended", t, piece)
        elif op == "drop_holder":
            call = ("drop_holder", t, piece, pid)
        elif op == "blame":
            call = ("blame", pid, rng.choice(PEERS))
        elif op == "delete_client" and cid:
            call = ("delete_client", cid)
        elif op == "delete_peer":
            call = ("delete_peer", pid)
        elif op == "delete_task" and rng.random() < 0.3:
            call = ("delete_task", t)
        elif op == "tick":
            clock[0] += rng.choice([1.0, 5.0, 31.0])
            continue
        else:
            continue
        name, args = call[0], call[1:]
        a, b = getattr(mem, name)(*args), getattr(red, name)(*args)
        if name in ("update", "sn_send_ended"):
            assert a == b, (step, call)
        if step % 4 == 0:
            assert _observe(mem, clients) == _observe(red, clients), (step, call)
    assert _observe(mem, clients) == _observe(red, clients)
