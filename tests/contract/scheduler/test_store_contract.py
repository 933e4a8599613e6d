"""Contract of the scheduler store (supernode/scheduler/store.py), run against every implementation."""
import pytest

from supernode.scheduler.progress import FAILED, RUNNING, SUCCESS, ProgressStore
from supernode.scheduler.store import SchedulerStore

def _redis_store(request):
    """The cluster's store on a real redis-server (tests/fixtures/redis_server.py), a flushed database."""
    import redis

    from supernode.cluster.keys import Keys
    from supernode.cluster.store import RedisSchedulerStore
    url = request.getfixturevalue("redis_url")
    return RedisSchedulerStore(redis.Redis.from_url(url, decode_responses=True), Keys("contract"),
                               clock=lambda: 100.0)


IMPLEMENTATIONS = {"memory": lambda request: ProgressStore(clock=lambda: 100.0), "redis": _redis_store}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request):
    s = IMPLEMENTATIONS[request.param](request)
    assert isinstance(s, SchedulerStore)
    return s


def test_available_lists_sn_pieces_the_client_lacks(store):
    store.init_task("t")
    for p in range(4):
        store.sn_piece("t", p, f"md5-{p}")
    store.init_client("t", "c1", "p1")
    store.start_piece("c1", 0, "")
    store.update("c1", "p1", "", 1, SUCCESS)
    assert store.available("t", "c1") == [2, 3]
    assert store.sn_count("t") == 4 and store.piece_md5("t", 3) == "md5-3"


def test_in_flight_and_loads_follow_start_and_result(store):
    store.init_client("t", "c1", "p1")
    store.init_client("t", "c2", "p2")
    store.start_piece("c2", 5, "p1", uplink="h1:65001")
    assert store.in_flight("t", 5) == 1 and store.uplink_load("h1:65001") == 1
    assert store.update("c2", "p2", "p1", 5, SUCCESS)
    assert store.in_flight("t", 5) == 0 and store.uplink_load("h1:65001") == 0
    assert store.holders("t", 5) == {"p2"}
    assert not store.update("c2", "p2", "p1", 5, SUCCESS)       # SUCCESS never changes


def test_failure_blacklists_and_leave_forgets(store):
    store.init_client("t", "c1", "p1")
    store.init_client("t", "c2", "p2")
    store.start_piece("c1", 0, "p2")
    store.update("c1", "p1", "p2", 0, FAILED)
    assert store.blacklisted("p1", "p2")
    store.start_piece("c2", 1, "")
    store.update("c2", "p2", "", 1, SUCCESS)
    store.delete_peer("p2")
    assert not store.blacklisted("p1", "p2")
    assert "p2" not in store.holders("t", 1)


def test_supernode_sends_count_as_superload(store):
    store.init_client("t", "c1", "p1")
    store.start_piece("c1", 0, "")
    assert store.superload("t") == 1 and store.superload_total() == 1
    assert store.sn_send_ended("t", 0) and store.superload("t") == 0
    store.update("c1", "p1", "", 0, RUNNING)
    store.delete_client("c1")
    assert store.in_flight("t", 0) == 0 and store.superload("t") == 0


def test_a_supernode_send_starts_only_under_the_cap(store):
    store.init_client("t", "c1", "p1")
    store.init_client("t", "c2", "p2")
    assert store.start_supernode_send("c1", 0, cap=2)
    assert store.start_supernode_send("c2", 1, cap=2)
    assert not store.start_supernode_send("c1", 2, cap=2)          # the third send would pass the cap
    assert store.superload("t") == 2 and store.in_flight("t", 2) == 0
    assert 2 not in store.client("c1").running                       # a refused start changes nothing
    assert store.sn_send_ended("t", 0)
    assert store.start_supernode_send("c1", 2, cap=2)                # a slot came free
    assert store.superload("t") == 2 and store.in_flight("t", 2) == 1


def test_an_exclusive_supernode_send_refuses_a_second_copy_of_the_piece(store):
    store.init_client("t", "c1", "p1")
    store.init_client("t", "c2", "p2")
    assert store.start_supernode_send("c1", 4, cap=3, exclusive_for=10.0)
    assert store.sn_sending_since("t", 4) == 100.0
    assert not store.start_supernode_send("c2", 4, cap=3, exclusive_for=10.0)   # on its way to c1
    assert store.in_flight("t", 4) == 1 and store.superload("t") == 1
    assert store.start_supernode_send("c2", 4, cap=3)                # not exclusive: a second copy may go
    assert store.in_flight("t", 4) == 2 and store.superload("t") == 2
    store.update("c1", "p1", "", 4, SUCCESS)
    store.update("c2", "p2", "", 4, SUCCESS)
    assert store.sn_sending_since("t", 4) is None and store.superload("t") == 0


def test_two_members_starting_the_same_new_piece_at_once_send_it_once(request):
    """Both members read their call's snapshot before either starts the send (the race of two members
    answering two clients at the same moment): one send starts, the other is refused, and the count is one."""
    a, b = _redis_store(request), _redis_store(request)
    a.init_task("t")
    a.sn_piece("t", 0, "m0")
    a.init_client("t", "c1", "p1")
    a.init_client("t", "c2", "p2")
    with a.call("t", "c1", "p1"), b.call("t", "c2", "p2"):
        assert a.sn_sending_since("t", 0) is None and b.sn_sending_since("t", 0) is None
        first = a.start_supernode_send("c1", 0, cap=3, exclusive_for=10.0)
        second = b.start_supernode_send("c2", 0, cap=3, exclusive_for=10.0)
        assert a.sn_sending_since("t", 0) == 100.0                   # the call's own view follows its start
    assert (first, second) == (True, False)
    assert a.superload("t") == 1 and a.in_flight("t", 0) == 1
    assert a.client("c1").running == {0: ""} and b.client("c2").running == {}
