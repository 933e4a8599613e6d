"""Three supernode members on one real redis-server and eight dfget hosts, each in a network namespace of its own
(its own address on one bridge): one 64 MiB file, every output byte-exact, the origin (counting the body bytes
it sent) served the file once for the whole cluster, and pieces moved between peers of different members.

The origin runs in the test process on the root namespace's address on the bridge, so its byte count is read
directly; Redis, the members and the dfgets run inside their namespaces. Not timed."""
from __future__ import annotations

import os

import pytest
import redis
import requests

from bench import cluster_lab
from bench.hosts import HostSpec, Lab, missing_requirements
from bench.lab_services import dfget_argv
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import metric_total, round_trip_report, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MiB = 1 << 20
SIZE = 64 * MiB
MEMBERS = ("sn1", "sn2", "sn3")
HOSTS = tuple(f"h{i}" for i in range(1, 9))
API, PIECES, REDIS_PORT = 8002, 8001, 6379


@pytest.fixture
def lab(tmp_path):
    why = missing_requirements()
    if why:
        pytest.skip(why)
    specs = [HostSpec("redis"), *(HostSpec(m) for m in MEMBERS), *(HostSpec(h) for h in HOSTS)]
    with Lab(specs, prefix="dfc", workdir=str(tmp_path / "lab")) as lab:
        yield lab


def start_redis(lab: Lab, workdir: str):
    return cluster_lab.start_redis(lab, "redis", workdir, probe_host=MEMBERS[0], port=REDIS_PORT)


def member_config(lab: Lab, home: str, member: str, redis_url: str, base: dict | None = None) -> str:
    return cluster_lab.member_config(lab, home, member, redis_url, API, PIECES, base=base)


def start_member(lab: Lab, member: str, config: str):
    env = dict(os.environ, SUPERNODE_FETCH_ALLOW=f"{lab.root_ip}/32")      # the origin, on the root's address
    return cluster_lab.start_member(lab, member, config, HOSTS[0], API, PIECES, env=env)


def nodes_for(lab: Lab, first: str) -> str:
    return cluster_lab.nodes_arg(lab, MEMBERS, first, API)


def start_dfget(lab: Lab, host: str, url: str, out: str, home: str, member: str):
    return lab.popen(host, dfget_argv(lab, host, url, out, home, None, nodes=nodes_for(lab, member)), name="dfget")


def test_three_members_eight_hosts_origin_once_pieces_between_members(lab, tmp_path):
    src = tmp_path / "origin"
    src.mkdir()
    digest = make_file(str(src / "blob.bin"), SIZE, seed=14)
    origin = OriginServer(str(src), host=lab.root_ip).start()
    try:
        _, redis_url = start_redis(lab, str(tmp_path / "redis"))
        members = {m: start_member(lab, m, member_config(lab, str(tmp_path / m), m, redis_url)) for m in MEMBERS}
        url = origin.url("blob.bin")
        procs = {}
        for i, h in enumerate(HOSTS):
            member = MEMBERS[i % len(MEMBERS)]
            procs[h] = (member, start_dfget(lab, h, url, str(tmp_path / f"{h}.out"), str(tmp_path / f"home-{h}"),
                                            member))
        connected = {}
        for h, (member, p) in procs.items():
            assert p.wait(400) == 0, f"dfget on {h} failed: {lab.output(p)}"
            out = lab.output(p, tail=1 << 20)
            connected[h] = [m for m in MEMBERS if f"connected to node:{lab.ip(m)}:{API}" in out]
            assert len(connected[h]) == 1, out
        spread = {m: sum(1 for c in connected.values() if c == [m]) for m in MEMBERS}
        print("dfgets per member:", spread)
        assert sum(1 for n in spread.values() if n) >= 2               # the dfgets really used several members
        for h in HOSTS:
            assert sha256_file(str(tmp_path / f"{h}.out")) == digest
        assert origin.bytes_sent["/blob.bin"] == SIZE               # once for the whole cluster, not once a member

        texts = {m: requests.get(f"http://{lab.ip(m)}:{API}/metrics", timeout=5).text for m in MEMBERS}
        print("Redis round trips per call, three members:\n" + round_trip_report(list(texts.values())))
        cross_peer = {m: metric_total(t, "dragonfly_supernode_cluster_cross_member_peer_pieces_total")
                      for m, t in texts.items()}
        relayed = {m: metric_total(t, "dragonfly_supernode_cluster_cross_member_piece_bytes_total")
                   for m, t in texts.items()}
        from_peers = sum(metric_total(t, "dragonfly_supernode_pieces_reported_total", source="peer")
                         for t in texts.values())
        fetched = [m for m, t in texts.items() if metric_total(t, "dragonfly_supernode_cdn_download_size_bytes_total")]
        print(f"cross-member peer pieces={cross_peer} relayed bytes={relayed} pieces from peers={from_peers:.0f} "
              f"origin fetchers={fetched}")
        assert len(fetched) == 1                                      # one member fetched from the origin
        assert sum(cross_peer.values()) > 0                           # a peer of one member served a peer of another
        assert from_peers > 0
        listing = requests.get(f"http://{lab.ip(MEMBERS[0])}:{API}/api/v1/cluster", timeout=5).json()
        assert sorted(m["id"] for m in listing["members"]) == sorted(MEMBERS)
        info = redis.Redis.from_url(redis_url, socket_timeout=5).info("commandstats")
        print("redis calls:", sum(v["calls"] for v in info.values()))
        assert all(p.poll() is None for p in members.values())
    finally:
        origin.stop()
