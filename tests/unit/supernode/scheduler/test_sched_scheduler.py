import random

import pytest

from supernode.scheduler import Limits, PeerRegistry, ProgressStore, Scheduler, create_policy
from supernode.scheduler.progress import FAILED, SUCCESS
from supernode.scheduler.scheduler import SECOND_COPY_AFTER, SUPERNODE


class World:
    """Scheduler state driven directly: CDN pieces appear, clients register and report."""

    def __init__(self, pieces=10, limits=Limits(), policy="rarest-first", complete=True, clock=None):
        self.progress = ProgressStore(clock=clock) if clock else ProgressStore()
        self.peers = PeerRegistry()
        self.sched = Scheduler(self.progress, self.peers, create_policy(policy), limits, random.Random(7))
        for n in range(pieces):
            self.progress.sn_piece("t", n, f"m{n}:9")
        if complete:                                     # the CDN holds the whole task
            self.progress.sn_finished("t")
        self.pid = {}

    def client(self, name, cdn_pattern=False):
        peer = self.peers.register("10.0.0.%d" % (len(self.pid) + 1), name, 0 if cdn_pattern else 15001)
        self.pid[name] = peer.id
        self.progress.init_client("t", name, peer.id)
        return peer.id

    def schedule(self, name):
        return self.sched.schedule("t", name, self.pid[name])

    def holds(self, name, *pieces):
        for p in pieces:
            self.progress.update(name, self.pid[name], SUPERNODE, p, SUCCESS)


def test_first_schedule_takes_limit_pieces_from_the_supernode():
    w = World()
    w.client("a")
    r = w.schedule("a")
    assert len(r.assignments) == 4 and all(a.dst_pid == SUPERNODE for a in r.assignments)
    assert w.progress.superload("t") == 4
    assert w.schedule("a").busy                          # running == peer_down_limit -> 601, no data


def test_supernode_cap_per_task_sends_later_clients_to_peers():
    w = World(limits=Limits(peer_up_limit=5))            # "a" may serve all four of its pieces at once
    w.client("a"), w.client("b"), w.client("c")
    first = w.schedule("a")
    assert w.schedule("b").wait                          # the supernode serves 4 pieces of this task at most
    for a in first.assignments:
        w.holds("a", a.piece)
    got_b = w.schedule("b").assignments                  # the supernode sends new pieces, never a copy
    assert all(x.dst_pid == SUPERNODE for x in got_b)
    assert not {x.piece for x in got_b} & {a.piece for a in first.assignments}
    got_c = w.schedule("c").assignments                  # supernode busy: "c" takes what "a" holds from "a"
    assert len(got_c) == 4 and all(x.dst_pid == w.pid["a"] for x in got_c)
    assert {x.piece for x in got_c} == {a.piece for a in first.assignments}


def test_different_clients_get_different_pieces_first():
    w = World(pieces=8, limits=Limits(peer_down_limit=2))
    w.client("a"), w.client("b")
    pa = {x.piece for x in w.schedule("a").assignments}
    w.progress.tasks["t"].superload = 0                  # let the supernode serve again for this check
    pb = {x.piece for x in w.schedule("b").assignments}
    assert len(pa) == len(pb) == 2 and not pa & pb


def test_peer_holding_the_piece_is_preferred_and_up_limit_respected():
    w = World(pieces=4, limits=Limits(peer_up_limit=1, peer_down_limit=4))
    w.client("a"), w.client("b"), w.client("c")
    w.holds("a", 0, 1, 2, 3)
    rb = w.schedule("b").assignments
    assert sum(1 for x in rb if x.dst_pid == w.pid["a"]) == 1          # "a" serves one piece at a time
    assert sum(1 for x in rb if x.dst_pid == SUPERNODE) == 3


def test_blacklist_after_one_failure():
    w = World(pieces=1)
    w.client("a"), w.client("b")
    w.holds("a", 0)
    (x,) = w.schedule("b").assignments
    assert x.dst_pid == w.pid["a"]
    w.progress.update("b", w.pid["b"], w.pid["a"], 0, FAILED)
    (y,) = w.schedule("b").assignments
    assert y.dst_pid == SUPERNODE


def test_service_down_and_eliminated_holders_are_dropped():
    w = World(pieces=2)
    w.client("a"), w.client("b"), w.client("c")
    w.holds("a", 0)
    w.holds("c", 1)
    w.peers.mark_down(w.pid["a"])
    w.progress.peer(w.pid["c"]).service_error_count = 5
    got = w.schedule("b").assignments
    assert all(x.dst_pid == SUPERNODE for x in got)
    assert w.pid["a"] not in w.progress.holders("t", 0) and w.pid["c"] not in w.progress.holders("t", 1)


def test_cdn_pattern_peers_are_never_sources():
    w = World(pieces=1)
    w.client("a", cdn_pattern=True), w.client("b")
    w.holds("a", 0)
    assert w.schedule("b").assignments[0].dst_pid == SUPERNODE


def test_client_over_failure_limit_uses_only_the_supernode():
    w = World(pieces=2, limits=Limits(failure_count_limit=1))
    w.client("a"), w.client("b")
    w.holds("a", 0, 1)
    w.progress.peer(w.pid["b"]).client_error_count = 2
    assert all(x.dst_pid == SUPERNODE for x in w.schedule("b").assignments)


def test_nothing_available_is_wait():
    w = World(pieces=0)
    w.client("a")
    assert w.schedule("a").wait


@pytest.mark.parametrize("policy", ["rarest-first", "dragonfly", "sequential"])
def test_a_swarm_completes_with_the_supernode_sending_about_one_copy(policy):
    """Drive 6 clients to completion; with rarest-first the supernode sends few duplicate pieces."""
    pieces = 24
    w = World(pieces=pieces, policy=policy)
    names = [f"n{i}" for i in range(6)]
    for n in names:
        w.client(n)
    sn_sent = 0
    for _ in range(500):
        for n in names:
            for a in w.schedule(n).assignments:
                sn_sent += a.dst_pid == SUPERNODE
                w.progress.update(n, w.pid[n], a.dst_pid, a.piece, SUCCESS)
        if all(len(w.progress.success_pieces(n)) == pieces for n in names):
            break
    assert all(len(w.progress.success_pieces(n)) == pieces for n in names)
    if policy == "rarest-first":
        assert sn_sent <= pieces * 1.5


def test_no_second_supernode_copy_of_a_piece_on_its_way():
    w = World(pieces=3, limits=Limits(peer_down_limit=6))
    w.client("a"), w.client("b")
    assert len(w.schedule("a").assignments) == 3          # every piece now on its way from the supernode to "a"
    assert w.schedule("b").wait                            # even idle, "b" waits: "a" will hold them in a moment
    w.holds("a", 0, 1, 2)
    later = w.schedule("b").assignments
    assert len(later) == 3 and all(x.dst_pid == w.pid["a"] for x in later)


def test_a_send_running_too_long_allows_a_second_copy():
    now = [100.0]
    w = World(pieces=1, clock=lambda: now[0])
    w.client("a"), w.client("b")
    assert w.schedule("a").assignments[0].dst_pid == SUPERNODE
    assert w.schedule("b").wait
    now[0] += SECOND_COPY_AFTER + 1                        # "a" may be stuck or gone
    (x,) = w.schedule("b").assignments
    assert x.piece == 0 and x.dst_pid == SUPERNODE


def test_supernode_upload_limit_caps_the_supernode_per_task():
    w = World(pieces=10, limits=Limits(peer_down_limit=4, supernode_upload_limit=1))
    w.client("a"), w.client("b")
    assert [x.dst_pid for x in w.schedule("a").assignments] == [SUPERNODE]
    assert w.schedule("b").wait
    assert Limits(peer_down_limit=3).supernode_cap == 3                 # 0: the peer_down_limit
    assert Limits(peer_down_limit=3, supernode_upload_limit=2).supernode_cap == 2


def test_while_the_cdn_downloads_busy_holders_do_not_send_clients_to_the_supernode():
    w = World(pieces=4, limits=Limits(peer_up_limit=1, peer_down_limit=4), complete=False)
    w.client("a"), w.client("b")
    w.holds("a", 0, 1, 2)
    got = w.schedule("b").assignments                      # one piece from "a" (its limit), piece 3 from the supernode
    assert sorted((x.piece in (0, 1, 2), x.dst_pid) for x in got) == [(False, SUPERNODE), (True, w.pid["a"])]
    w.progress.sn_finished("t")                            # CDN done: the supernode may help with copies
    more = w.schedule("b").assignments
    assert len(more) == 2 and all(x.dst_pid == SUPERNODE for x in more)


def _two_tasks(limits, fetching=()):
    progress, peers = ProgressStore(), PeerRegistry()
    sched = Scheduler(progress, peers, create_policy("rarest-first"), limits, random.Random(3))
    for task in ("t", "u"):
        progress.init_task(task, reset=task in fetching)
        for n in range(8):
            progress.sn_piece(task, n, f"m{n}:9")
        if task not in fetching:
            progress.sn_finished(task)
    pids = {}
    for i, (cid, task) in enumerate((("a", "t"), ("b", "u"), ("c", "u"))):
        pids[cid] = peers.register(f"10.0.1.{i + 1}", cid, 15001).id
        progress.init_client(task, cid, pids[cid])
    return progress, sched, pids


def test_supernode_upload_total_caps_all_tasks_together():
    progress, sched, pids = _two_tasks(Limits(peer_down_limit=4, supernode_upload_limit=3, supernode_upload_total=4))
    first = sched.schedule("t", "a", pids["a"]).assignments
    assert len(first) == 3 and progress.superload_total() == 3          # the per-task cap
    second = sched.schedule("u", "b", pids["b"]).assignments
    assert [x.dst_pid for x in second] == [SUPERNODE]                     # one slot left of the 4
    assert progress.superload_total() == 4
    assert sched.schedule("u", "c", pids["c"]).wait                       # nothing more from the supernode
    progress.update("a", pids["a"], SUPERNODE, first[0].piece, SUCCESS)   # a send ends: a slot frees
    assert progress.superload_total() == 3
    assert [x.dst_pid for x in sched.schedule("u", "c", pids["c"]).assignments] == [SUPERNODE]


def test_no_total_cap_by_default_in_limits():
    progress, sched, pids = _two_tasks(Limits(peer_down_limit=4, supernode_upload_limit=3))
    assert len(sched.schedule("t", "a", pids["a"]).assignments) == 3
    assert len(sched.schedule("u", "b", pids["b"]).assignments) == 3
    assert progress.superload_total() == 6


def test_a_cdn_download_of_another_task_keeps_the_supernode_on_new_pieces():
    # task "u" is complete in the CDN, but task "t" is still being fetched: no supernode copies of pieces
    # that busy peers of "u" hold, the uplink stays free for "t"'s new pieces
    progress, sched, pids = _two_tasks(Limits(peer_up_limit=1, peer_down_limit=4), fetching=("t",))
    for n in range(8):
        progress.update("b", pids["b"], SUPERNODE, n, SUCCESS)
    got = sched.schedule("u", "c", pids["c"]).assignments
    assert len(got) == 1 and got[0].dst_pid == pids["b"]                  # "b" serves one at a time
    progress.sn_finished("t")                                             # every CDN download done: copies ok
    more = sched.schedule("u", "c", pids["c"]).assignments
    assert more and all(x.dst_pid == SUPERNODE for x in more)


def test_a_send_that_left_the_piece_server_frees_its_slot_before_the_report():
    w = World(pieces=10, limits=Limits(peer_down_limit=4, supernode_upload_limit=2))
    w.client("a"), w.client("b")
    first = w.schedule("a").assignments
    assert [x.dst_pid for x in first] == [SUPERNODE, SUPERNODE] and w.progress.superload("t") == 2
    assert w.schedule("b").wait                                           # both slots taken
    assert w.progress.sn_send_ended("t", first[0].piece)                  # its bytes are on the wire
    assert w.progress.superload("t") == 1
    (x,) = w.schedule("b").assignments                                    # the freed slot goes to "b" at once
    assert x.dst_pid == SUPERNODE and x.piece not in {a.piece for a in first}
    w.holds("a", first[0].piece)                                          # the late report frees nothing twice
    assert w.progress.superload("t") == 2
    w.holds("a", first[1].piece)                                          # a send without an end notice still frees
    assert w.progress.superload("t") == 1


def test_a_send_end_is_counted_once_and_only_for_handed_out_sends():
    w = World(pieces=4, limits=Limits(peer_down_limit=1))
    w.client("a")
    (x,) = w.schedule("a").assignments
    assert not w.progress.sn_send_ended("t", (x.piece + 1) % 4)           # a piece nobody was given
    assert not w.progress.sn_send_ended("unknown-task", x.piece)
    assert w.progress.sn_send_ended("t", x.piece)
    assert not w.progress.sn_send_ended("t", x.piece)                     # a second end of the same send
    assert w.progress.superload("t") == 0
    w.holds("a", x.piece)
    assert w.progress.superload("t") == 0 and not w.progress.tasks["t"].sn_sent


def test_a_failed_report_after_the_send_ended_frees_nothing_twice():
    w = World(pieces=4, limits=Limits(peer_down_limit=2))
    w.client("a")
    got = w.schedule("a").assignments
    assert w.progress.superload("t") == 2
    w.progress.sn_send_ended("t", got[0].piece)
    w.progress.update("a", w.pid["a"], SUPERNODE, got[0].piece, FAILED)   # md5 mismatch at the client
    assert w.progress.superload("t") == 1                                 # the other send still counts


def test_the_supernode_is_not_asked_for_a_second_copy_while_its_first_is_unreported():
    w = World(pieces=1, limits=Limits(peer_down_limit=4))
    w.client("a"), w.client("b")
    (x,) = w.schedule("a").assignments
    w.progress.sn_send_ended("t", x.piece)                                # sent, but "a" has not reported yet
    assert w.schedule("b").wait                                           # still on its way: no second copy


class TwoLayers:
    """Two tasks (an image's layers); host "h" registered once per task: two peer ids, one upload server."""

    def __init__(self, limit):
        self.progress, self.peers = ProgressStore(), PeerRegistry()
        self.sched = Scheduler(self.progress, self.peers, create_policy("rarest-first"),
                               Limits(peer_up_limit=limit, peer_down_limit=4), random.Random(3))
        self.pid = {}
        for task in ("t", "u"):
            for n in range(4):
                self.progress.sn_piece(task, n, f"m{n}:9")
            self.progress.sn_finished(task)
            holder = self.peers.register("10.0.0.1", "h", 15001)         # same host, same upload server
            self.progress.init_client(task, f"h-{task}", holder.id)
            for n in range(4):
                self.progress.update(f"h-{task}", holder.id, SUPERNODE, n, SUCCESS)
            self.pid[task] = holder.id
            client = self.peers.register("10.0.0.2", "c", 15001)
            self.progress.init_client(task, f"c-{task}", client.id)
            self.pid[f"c-{task}"] = client.id

    def schedule(self, task):
        return self.sched.schedule(task, f"c-{task}", self.pid[f"c-{task}"]).assignments


def test_up_limit_counts_every_task_a_host_serves():
    w = TwoLayers(limit=3)
    from_h = lambda got: [x for x in got if x.dst_pid in (w.pid["t"], w.pid["u"])]     # noqa: E731
    assert len(from_h(w.schedule("t"))) == 3                 # the host's uplink: three pieces at once
    assert from_h(w.schedule("u")) == []                     # its other registration shares that uplink
    assert w.progress.uplink_load("10.0.0.1:15001") == 3


def test_uplink_load_is_released_by_reports_and_by_deleting_a_task():
    w = TwoLayers(limit=3)
    got = w.schedule("t")
    piece = next(x.piece for x in got if x.dst_pid == w.pid["t"])
    w.progress.update("c-t", w.pid["c-t"], w.pid["t"], piece, SUCCESS)
    assert w.progress.uplink_load("10.0.0.1:15001") == 2
    assert len([x for x in w.schedule("u") if x.dst_pid == w.pid["u"]]) == 1     # the freed slot, for the other task
    w.progress.delete_task("t")                              # its client's running pieces go with it
    assert w.progress.uplink_load("10.0.0.1:15001") == 1
    w.progress.delete_task("u")
    assert w.progress.uplink_load("10.0.0.1:15001") == 0 and not w.progress.uplinks


def test_a_deleted_peer_no_longer_loads_its_upload_server():
    w = TwoLayers(limit=3)
    assert len([x for x in w.schedule("t") if x.dst_pid == w.pid["t"]]) == 3
    w.progress.delete_peer(w.pid["t"])                       # gone: its uploads no longer count
    assert w.progress.uplink_load("10.0.0.1:15001") == 0
    assert len([x for x in w.schedule("u") if x.dst_pid == w.pid["u"]]) == 3
    w.progress.delete_task("t")                              # its running pieces were already let go
    assert w.progress.uplink_load("10.0.0.1:15001") == 3
