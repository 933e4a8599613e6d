"""Contract of the back-to-source bandwidth budget: the member's own token bucket (dfcommon/ratelimit.py) and
the cluster's one in a real redis-server (supernode/cluster/budgets.py) pace alike; the Redis one is one
budget for every member drawing from it, and goes on at the member's share while Redis is down. Also the
cluster's ``max_source_downloads`` (a sorted set in Redis): one count for every member, entries of a member
that stops renewing lapse, 503 while Redis is down.

The bounds are loose on purpose: they tell a shared budget (N members together get the rate) from N separate
ones (N times the rate), not how fast anything is."""
import logging
import threading
import time

import pytest
import redis

from dfcommon.errors import DfError
from dfcommon.ratelimit import TokenBucket
from supernode.cluster.budgets import SharedTokenBucket, SourceDownloadBudget
from supernode.cluster.keys import Keys
from supernode.cluster.outage import OutageLog
from tests.helpers import free_port

KiB = 1 << 10
RATE = 512 * KiB
CHUNK = 64 * KiB


def _client(request):
    return redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)


def _shared(request, name="bw", rate=RATE, client=None, outage=None, members=lambda: 1):
    return SharedTokenBucket(client or _client(request), Keys("contract"), name, rate, outage or OutageLog(10.0),
                             members=members)


IMPLEMENTATIONS = {"memory": lambda request, rate=RATE: TokenBucket(rate),
                   "redis": lambda request, rate=RATE: _shared(request, name=request.node.name, rate=rate)}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def make(request):
    return lambda rate=RATE: IMPLEMENTATIONS[request.param](request, rate)


def _drain(bucket, total, chunk=CHUNK):
    started = time.monotonic()
    for _ in range(total // chunk):
        bucket.acquire(chunk)
    return time.monotonic() - started


def test_rate_zero_is_unlimited(make):
    b = make(0)
    assert _drain(b, 64 << 20) < 5              # 1024 acquires, none waits
    assert b.bytes_passed == 0 and b.waits == 0


def test_a_bucket_passes_about_its_rate_after_one_second_of_burst(make):
    b = make()
    took = _drain(b, 3 * RATE)                  # one second of burst, then two seconds at the rate
    assert b.bytes_passed == 3 * RATE
    assert took >= 1.5, took                    # 2 s at the rate (loose: grants and timers are coarse)
    assert b.waits > 0 and b.wait_seconds > 1.0


def test_two_members_share_one_redis_budget(request):
    """Two members (two clients, two objects) on one key: together about the rate, not twice it."""
    name = request.node.name
    a, b = _shared(request, name=name), _shared(request, name=name)
    took = {}

    def run(bucket, key):
        took[key] = _drain(bucket, 2 * RATE)

    threads = [threading.Thread(target=run, args=(x, k)) for x, k in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 4 x RATE in total = one second of burst + three at the rate; two separate buckets would take 1 s each
    assert max(took.values()) >= 2.3, took
    assert a.bytes_passed + b.bytes_passed == 4 * RATE


def test_redis_down_paces_at_the_members_share_and_logs_once(request, caplog):
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2,
                       decode_responses=True)
    outage = OutageLog(60.0)
    b = _shared(request, client=dead, outage=outage)
    b._member_count = 2                         # as read while Redis answered: two members, half the rate each
    with caplog.at_level(logging.ERROR, logger="supernode.cluster.outage"):
        took = _drain(b, 2 * RATE // 2)         # one second of the share's burst, then one at the share
    assert b.bytes_passed == RATE
    assert took >= 0.7, took
    assert outage.down
    lines = [r for r in caplog.records if "redis unreachable" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]


def test_source_downloads_counted_for_the_cluster(request):
    name = "sd-" + request.node.name
    a = SourceDownloadBudget(_client(request), Keys(name), 2, 1.0, OutageLog(10.0))
    b = SourceDownloadBudget(_client(request), Keys(name), 2, 1.0, OutageLog(10.0))
    a.admit("t1")
    b.admit("t2")
    a.admit("t1")                               # a task already counted is admitted again (no second slot)
    with pytest.raises(DfError) as e:
        b.admit("t3")
    assert e.value.http_status == 503 and "in the cluster" in e.value.message
    assert a.running() == 2
    b.release("t2")
    a.admit("t3")                               # a slot came free on another member
    # t1 and t3 are renewed by their member; nobody renews them now: they lapse after the ttl
    time.sleep(1.3)
    assert a.running() == 0
    b.admit("t4")


def test_source_downloads_503_while_redis_is_down(request):
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    budget = SourceDownloadBudget(dead, Keys("x"), 2, 1.0, OutageLog(10.0))
    with pytest.raises(DfError) as e:
        budget.admit("t1")
    assert e.value.http_status == 503 and "Redis" in e.value.message
    SourceDownloadBudget(dead, Keys("x"), 0, 1.0, OutageLog(10.0)).admit("t1")    # cap 0: no limit, no Redis


def test_renew_keeps_running_fetches_counted_and_adds_back_a_lapsed_one(request):
    name = "sd-" + request.node.name
    budget = SourceDownloadBudget(_client(request), Keys(name), 1, 1.0, OutageLog(10.0))
    budget.admit("t1")
    time.sleep(0.6)
    budget.renew(["t1"])                        # renewed before it lapsed: still counted after the first ttl
    time.sleep(0.6)
    assert budget.running() == 1
    time.sleep(1.2)                             # nobody renewed: lapsed
    assert budget.running() == 0
    budget.renew(["t1"])                        # a fetch resumed after a take-over: it runs, so it counts
    assert budget.running() == 1
    with pytest.raises(DfError):
        budget.admit("t2")
