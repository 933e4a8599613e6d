"""Wake-ups of held 602 replies across members (supernode/cluster/signals.py) on a real redis-server: a change
on one member wakes the held calls of that task on another; while Redis is down nothing is woken remotely and
the failure is logged once; once Redis is back every held call is woken and remote wake-ups go on."""
import logging
import time

import redis as redislib

from supernode.cluster.keys import Keys
from supernode.cluster.outage import OutageLog
from supernode.cluster.signals import ClusterSignals


def _member(url, member_id):
    client = redislib.Redis.from_url(url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)
    s = ClusterSignals(client, Keys("sig"), member_id, OutageLog(60.0))
    s.start()
    assert s.wait_subscribed(5)
    return s


def test_a_change_on_one_member_wakes_held_calls_on_another_and_recovers_after_an_outage(redis_factory, caplog):
    server = redis_factory()
    a, b = _member(server.url, "m-a"), _member(server.url, "m-b")
    try:
        held = b.event("t1")
        other = b.event("t2")
        a.notify("t1")
        assert held.wait(5)                         # woken by A's change
        assert not other.is_set()                   # another task's held calls stay held
        mine = a.event("t1")
        b.notify("t1")
        assert mine.wait(5) and b.woken_remote == 1 and a.woken_remote == 1
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="supernode.cluster.outage"):
            server.stop()
            held = b.event("t3")
            for _ in range(5):
                a.notify("t3")                      # no exception, no remote wake-up
            assert not held.wait(2)
        lines = [r.getMessage() for r in caplog.records if "redis unreachable" in r.getMessage()]
        assert 1 <= len(lines) <= 2, lines          # once per interval and member, not once per change
        server.start()                              # same port
        assert held.wait(10)                        # subscribed again: every held call woken (changes missed)
        deadline = time.monotonic() + 10
        while True:                                 # remote wake-ups work again
            again = b.event("t4")
            a.notify("t4")
            if again.wait(1) or time.monotonic() > deadline:
                break
        assert again.is_set()
    finally:
        a.stop()
        b.stop()
