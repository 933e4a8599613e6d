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
