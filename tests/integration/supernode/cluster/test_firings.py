"""Cron firing claims on a real redis-server (supernode/cluster/firings.py): one member per firing; a firing its
member did not finish stays noted and is taken exactly once, by a member that sweeps the members that left or by
the member itself at its next start; a firing that ended is never taken."""
from datetime import datetime, timezone
from threading import Thread

import redis as redislib

from supernode.cluster.firings import Firing, FiringClaims
from supernode.cluster.keys import Keys

T0 = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 12, 7, 12, 0, 2, 500000, tzinfo=timezone.utc)


def _claims(url, member, prefix="fire"):
    client = redislib.Redis.from_url(url, decode_responses=True, socket_timeout=2)
    return FiringClaims(client, Keys(prefix), member, ttl=60)


def test_one_member_wins_each_firing_and_a_finished_one_is_never_taken(redis_url):
    a, b = _claims(redis_url, "m-a"), _claims(redis_url, "m-b")
    assert a.claim("policy-p1", T0) is True
    assert b.claim("policy-p1", T0) is False            # the same firing: already A's
    assert b.claim("policy-p1", T1) is True             # the next one
    a.done("policy-p1", T0)
    b.done("policy-p1", T1)
    assert b.take_over(live_members=[]) == []           # both ended: nothing to run again
    assert a.take_leftovers() == [] and b.take_leftovers() == []


def test_the_unfinished_firings_of_a_member_that_left_are_taken_once(redis_url):
    gone, a, b = _claims(redis_url, "m-gone"), _claims(redis_url, "m-a"), _claims(redis_url, "m-b")
    assert gone.claim("policy-p1", T0) and gone.claim("policy-p2", T1)
    assert a.claim("policy-p3", T0)                     # a live member's running firing: never taken
    assert b.take_over(live_members=["m-gone", "m-a", "m-b"]) == []    # still live: left alone
    results = {}
    threads = [Thread(target=lambda c=c: results.__setitem__(c.member_id, c.take_over(["m-a", "m-b"])))
               for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = results["m-a"] + results["m-b"]
    assert sorted((f.job_id, f.run_time, f.member) for f in taken) == [
        ("policy-p1", T0, "m-gone"), ("policy-p2", T1, "m-gone")]       # each once, between the two takers
    assert a.take_over(["m-a", "m-b"]) == [] and b.take_over(["m-a", "m-b"]) == []


def test_an_adopted_firing_passes_on_again_and_leftovers_go_to_the_restarted_member(redis_url):
    gone, a = _claims(redis_url, "m-gone"), _claims(redis_url, "m-a")
    assert gone.claim("policy-p1", T0)
    (firing,) = a.take_over(["m-a"])
    a.adopt(firing)                                     # A runs it again ...
    restarted = _claims(redis_url, "m-a")               # ... and dies: its next process finds it
    (left,) = restarted.take_leftovers()
    assert (left.job_id, left.run_time, left.member) == ("policy-p1", T0, "m-a")
    assert restarted.take_leftovers() == []


def test_a_firing_field_keeps_job_ids_and_milliseconds():
    f = Firing("policy-a|b", T1, "m")
    assert Firing.parse(f.field, "m") == f
    assert Firing.parse("no-separator", "m") is None
    assert Firing.parse("policy-x|not-a-time", "m") is None


def test_redis_down_claims_nothing_and_takes_nothing(redis_factory):
    server = redis_factory()
    a = _claims(server.url, "m-a")
    assert a.claim("policy-p1", T0)
    server.stop()
    assert a.claim("policy-p1", T1) is False            # no member can know: not run here
    assert a.take_leftovers() == []
    a.done("policy-p1", T0)                             # logged, no exception
