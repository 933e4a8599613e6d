"""Contract of the "seen once" memories: the in-process one (dfcommon/recent_keys.py) and the cluster's one in
a real redis-server (supernode/cluster/seen_once.py) answer the same; the Redis one also across members and
with the expiry of its window."""
import threading
import time

import pytest
import redis

from dfcommon.errors import DfError
from dfcommon.recent_keys import RecentKeys
from supernode.cluster.keys import Keys
from supernode.cluster.outage import OutageLog
from supernode.cluster.seen_once import SharedSeenOnce


def _shared(request, member="m1", ttl=60):
    url = request.getfixturevalue("redis_url")
    return SharedSeenOnce(redis.Redis.from_url(url, decode_responses=True), Keys("contract"), "webhook", ttl,
                          member, OutageLog(10.0))


IMPLEMENTATIONS = {"memory": lambda request: RecentKeys(16), "redis": _shared}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def seen(request):
    return IMPLEMENTATIONS[request.param](request)


def test_first_time_once_per_key(seen):
    assert seen.first_time("a") is True
    assert seen.first_time("a") is False
    assert seen.first_time("b") is True
    assert seen.first_time("a") is False


def test_forget_makes_it_new_again(seen):
    assert seen.first_time("k")
    seen.forget("k")
    assert seen.first_time("k") is True and seen.first_time("k") is False
    seen.forget("never-seen")                       # forgetting an unknown key is harmless


def test_many_threads_one_winner(seen):
    wins = []
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        wins.append(seen.first_time("race"))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_two_members_share_one_memory(request):
    a, b = _shared(request, "m1"), _shared(request, "m2")
    assert a.first_time("push") is True
    assert b.first_time("push") is False
    assert b.first_time("other") is True and a.first_time("other") is False


def test_key_expires_after_the_window(request):
    s = _shared(request, ttl=1)
    assert s.first_time("short")
    ttl = s.redis.ttl(s.key("short"))
    assert 0 < ttl <= 1
    time.sleep(1.3)
    assert s.first_time("short") is True


def test_redis_down_is_unavailable(redis_factory):
    server = redis_factory()
    s = SharedSeenOnce(redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1),
                       Keys("contract"), "webhook", 60, "m1", OutageLog(10.0))
    assert s.first_time("x")
    server.stop()
    with pytest.raises(DfError) as err:
        s.first_time("y")
    assert err.value.http_status == 503 and "Redis" in str(err.value)
    assert s.outage.down
    server.start()
    assert s.first_time("y") is True and not s.outage.down
