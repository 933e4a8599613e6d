"""Membership on a real redis-server: heartbeats, ``GET /api/v1/cluster`` (admin auth), a member that stops
beating is dropped with its leases, and a bad or unreachable Redis at start is a clear non-zero exit."""
import subprocess
import time

from supernode.app import create_app
from supernode.auth import write_key_pair
from supernode.cluster import cluster_of
from supernode.config import load_config
from tests.helpers import free_port, script

from .helpers import cluster_config, cluster_services


def _wait(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_members_beat_and_a_silent_one_is_dropped(redis_url, tmp_path):
    a = cluster_services(redis_url, str(tmp_path / "a"), "sn-a", port=9102, download_port=9101)
    b = cluster_services(redis_url, str(tmp_path / "b"), "sn-b", port=9202, download_port=9201)
    na, nb = cluster_of(a), cluster_of(b)
    na.start()
    nb.start()
    try:
        assert na.leases.take("cdn:" + "a" * 64)
        assert not nb.leases.take("cdn:" + "a" * 64)             # one holder per lease
        client = create_app(a.config, a).test_client()
        assert _wait(lambda: [m["tasks"] for m in client.get("/api/v1/cluster").get_json()["members"]]
                     == [["a" * 64], []])                          # the next beats carry the lease
        doc = client.get("/api/v1/cluster").get_json()
        assert doc["enabled"] is True and doc["member"] == "sn-a"
        by_id = {m["id"]: m for m in doc["members"]}
        assert by_id["sn-a"]["pieces"] == "127.0.0.1:9101" and by_id["sn-b"]["api"] == "127.0.0.1:9202"
        assert by_id["sn-a"]["tasks"] == ["a" * 64] and by_id["sn-b"]["tasks"] == []
        assert set(by_id["sn-a"]["load"]) == {"tasks", "peers", "dfgetTasks", "cdnFetching"}
        metrics = client.get("/metrics").get_data(as_text=True)
        assert "dragonfly_supernode_cluster_members 2.0" in metrics

        na.membership._stop.set()                                   # A stops beating (as if it hung)
        na.membership._thread.join()
        assert _wait(lambda: [m["id"] for m in nb.membership.members()] == ["sn-b"])
        assert _wait(lambda: "sn-a" in nb.membership.dropped)
        assert nb.leases.take("cdn:" + "a" * 64)                    # its lease was released with it
    finally:
        na.stop()
        nb.stop()


def test_a_clean_stop_leaves_the_cluster(redis_url, tmp_path):
    a = cluster_services(redis_url, str(tmp_path / "a"), "sn-a")
    node = cluster_of(a)
    node.start()
    assert [m["id"] for m in node.membership.members()] == ["sn-a"]
    node.leases.take("cdn:x")
    a.close()
    r = node.redis
    assert r.zcard(node.keys.members()) == 0 and r.get(node.keys.lease("cdn:x")) is None


def test_without_cluster_the_endpoint_says_so(tmp_path):
    from supernode.services import build_services
    conf = load_config(None, {"home_dir": str(tmp_path), "storage_driver": "memory"}, environ={})
    services = build_services(conf)
    assert "cluster" not in services.extras
    doc = create_app(conf, services).test_client().get("/api/v1/cluster").get_json()
    assert doc == {"enabled": False, "member": None, "members": []}


def test_cluster_endpoint_needs_an_admin_token(redis_url, tmp_path):
    write_key_pair(str(tmp_path / "k.key"), str(tmp_path / "k.pub"))
    conf = cluster_config(redis_url, str(tmp_path), "sn-a")
    conf.auth.enabled, conf.auth.signing_key = True, str(tmp_path / "k.key")
    from supernode.services import build_services
    services = build_services(conf)
    cluster_of(services).start()
    try:
        client = create_app(conf, services).test_client()
        assert client.get("/api/v1/cluster").status_code == 401
        peer = services.extras["auth"].keys.signer.mint("peer", "p", 60)
        admin = services.extras["auth"].keys.signer.mint("admin", "ops", 60)
        assert client.get("/api/v1/cluster", headers={"Authorization": "Bearer " + peer}).status_code == 403
        r = client.get("/api/v1/cluster", headers={"Authorization": "Bearer " + admin})
        assert r.status_code == 200 and r.get_json()["members"][0]["id"] == "sn-a"
    finally:
        services.close()


def test_unreachable_redis_at_start_is_a_clear_exit(tmp_path):
    port = free_port()                 # nothing listens there
    r = subprocess.run([script("supernode"), "--home-dir", str(tmp_path), "--port", str(free_port()),
                        "--download-port", str(free_port()), "--advertise-ip", "127.0.0.1", "--listen-ip", "127.0.0.1"],
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "SUPERNODE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                            "SUPERNODE_CLUSTER_REDIS_TIMEOUT": "1s"})
    assert r.returncode == 2
    assert "cannot reach Redis" in r.stderr and f"127.0.0.1:{port}" in r.stderr


def test_bad_redis_url_at_start_is_a_clear_exit(tmp_path):
    r = subprocess.run([script("supernode"), "--home-dir", str(tmp_path), "--advertise-ip", "127.0.0.1"],
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "SUPERNODE_REDIS_URL": "memcached://cache:11211"})
    assert r.returncode == 2 and "cluster.redis_url must start with redis://" in r.stderr
