"""Where a member finds the piece server of the member holding a task (``holder_address.py``), on a real
redis-server: the lease holder's address from its heartbeat record, kept per task for the ttl, dropped by
``forget``, and None for the member's own tasks, for tasks nobody holds and while Redis is down."""
from supernode.cluster import cluster_of
from supernode.cluster.holder_address import HolderAddresses, PieceServer, parse_pieces
from tests.helpers import ManualClock

from .helpers import cluster_services

TASK = "b" * 64


def _members(redis_url, tmp_path):
    a = cluster_services(redis_url, str(tmp_path / "a"), "sn-a", port=9302, download_port=9301)
    b = cluster_services(redis_url, str(tmp_path / "b"), "sn-b", port=9402, download_port=9401)
    return cluster_of(a), cluster_of(b)


def test_the_lease_holder_piece_server_is_found_and_kept_for_the_ttl(redis_url, tmp_path):
    na, nb = _members(redis_url, tmp_path)
    na.membership.beat()
    nb.membership.beat()
    clock = ManualClock(100.0)
    at_b = HolderAddresses(nb.cdn, nb.records, nb, ttl=1.0, clock=clock)
    at_a = HolderAddresses(na.cdn, na.records, na, ttl=1.0, clock=clock)
    assert at_b.of(TASK) is None                               # nobody holds it
    assert na.leases.take("cdn:" + TASK)
    server = at_b.of(TASK)
    assert server == PieceServer("sn-a", "http", "127.0.0.1", 9301)
    assert server.url == "http://127.0.0.1:9301"
    assert at_a.of(TASK) is None                               # its own task: served from its own store
    na.leases.release("cdn:" + TASK)
    assert at_b.of(TASK) == server                             # kept for the ttl: no round trip per piece
    clock.now += 1.5
    assert at_b.of(TASK) is None                               # looked up again
    assert na.leases.take("cdn:" + TASK)
    assert at_b.of(TASK) == server
    na.leases.release("cdn:" + TASK)
    at_b.forget(TASK)                                          # a relay to it failed: look it up again
    assert at_b.of(TASK) is None


def test_the_owner_of_a_finished_task_wins_over_the_lease(redis_url, tmp_path):
    na, nb = _members(redis_url, tmp_path)
    na.membership.beat()
    nb.membership.beat()
    assert nb.leases.take("cdn:" + TASK)
    nb.redis.set(nb.keys.task(TASK, "owner"), "sn-a")          # what publish_status writes when A's fetch ends
    assert HolderAddresses(nb.cdn, nb.records, nb).of(TASK).member == "sn-a"


def test_redis_down_means_serve_from_this_member(redis_url, tmp_path):
    na, nb = _members(redis_url, tmp_path)

    class Down:
        def get(self, *a):
            import redis
            raise redis.ConnectionError("refused")

    holders = HolderAddresses(nb.cdn, nb.records, nb)
    nb.records.r = Down()
    assert holders.of(TASK) is None


def test_parse_pieces():
    assert parse_pieces("m", {"pieces": "10.0.0.7:8001", "scheme": "https"}) == PieceServer("m", "https", "10.0.0.7", 8001)
    assert parse_pieces("m", {"pieces": "[fd00::7]:8001"}).url == "http://[fd00::7]:8001"
    assert parse_pieces("m", {"pieces": "sn-0.sn.default.svc:8001"}).host == "sn-0.sn.default.svc"
    for bad in ({}, {"pieces": ""}, {"pieces": "host"}, {"pieces": "host:port"}, None):
        assert parse_pieces("m", bad) is None
