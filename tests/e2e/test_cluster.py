"""Supernode cluster on a real redis-server with real supernode processes, a real origin that counts its bytes
and real dfget runs: any member answers any peer, and the origin is fetched once per cluster."""
from __future__ import annotations

import hashlib
import os
import time

import pytest
import requests

from dfcommon import pieces
from tests.e2e.p2p_stack import start_dfget, stop_upload_servers
from tests.fixtures.cluster_members import registered_task_id
from tests.fixtures.origin import OriginServer, make_file
from tests.integration.supernode.test_sn_pull_walk import HeldPieces
from tests.helpers import round_trip_report, sha256_file

MiB = 1 << 20
pytestmark = [pytest.mark.slow]
CROSS = "dragonfly_supernode_cluster_cross_member_piece_bytes_total"


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def homes(tmp_path):
    made = []

    def make(name):
        h = str(tmp_path / "hosts" / name)
        os.makedirs(h, exist_ok=True)
        made.append(h)
        return h

    yield make
    stop_upload_servers(*made)


def _walk(sn, task_id, cid, held: HeldPieces, timeout=60, servers: set | None = None):
    """The Dragonfly pull loop of one client against member ``sn`` until 600; returns {piece: source cid}.
    ``servers`` collects the (peerIp, peerPort) of every piece the answers named."""
    http = requests.Session()
    params = {"taskId": task_id, "srcCid": cid, "status": 700}
    content, sources = {}, {}
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no 600 in time"
        body = http.get(sn.api + "/peer/task", params=params, timeout=(5, 30)).json()
        if body["code"] == 600:
            return content, sources, body["data"]
        assert body["code"] in (601, 602), body
        if body["code"] == 602 or not body["data"]:
            params = {"taskId": task_id, "srcCid": cid, "status": 701}
            time.sleep(0.05)
            continue
        for info in body["data"]:
            if servers is not None:
                servers.add((info["peerIp"], info["peerPort"]))
            r = http.get(f"http://{info['peerIp']}:{info['peerPort']}{info['path']}", timeout=(5, 30),
                         headers={"Range": f"bytes={info['range']}", "pieceNum": str(info["pieceNum"]),
                                  "pieceSize": str(info["pieceSize"])})
            assert r.status_code == 206, (info, r.status_code)
            assert pieces.piece_md5(r.content) == info["pieceMd5"]
            held.by_range[info["range"]] = r.content
            content[info["pieceNum"]] = pieces.unwrap(r.content)
            sources[info["pieceNum"]] = info["cid"]
            suc = http.get(sn.api + "/peer/piece/suc", timeout=(5, 30), params={
                "taskId": task_id, "cid": cid, "dstCid": info["cid"], "pieceRange": info["range"]}).json()
            assert suc["code"] == 611, suc
        params = {"taskId": task_id, "srcCid": cid, "status": 701}


def test_a_peer_registered_on_a_is_served_by_b_with_pieces_peers_of_a_hold(cluster_factory, origin):
    data = os.urandom(6 * MiB + 321)
    (origin.root_path / "layer").write_bytes(data)
    url = origin.url("layer")
    a, b = cluster_factory("sn-a"), cluster_factory("sn-b")
    x, y = HeldPieces(), HeldPieces()
    try:
        task_id = registered_task_id(a, url, "127.0.0.1-x-1.000", x.port)
        x_content, x_src, fin = _walk(a, task_id, "127.0.0.1-x-1.000", x)            # x: all from supernode A
        assert b"".join(x_content[n] for n in sorted(x_content)) == data
        assert fin["md5"] == hashlib.md5(data).hexdigest()
        assert registered_task_id(a, url, "127.0.0.1-y-2.000", y.port) == task_id            # y registers on A ...
        y_content, y_src, fin_b = _walk(b, task_id, "127.0.0.1-y-2.000", y)        # ... and asks B
        assert b"".join(y_content[n] for n in sorted(y_content)) == data
        assert set(y_src.values()) == {"127.0.0.1-x-1.000"}                          # every piece from A's peer
        assert x.served == len(y_content) and fin_b["md5"] == fin["md5"]
        assert origin.bytes_sent["/layer"] == len(data)                               # the origin once
        # every /peer/task call B answered is measured in Redis round trips (a real count of B's writes)
        calls = b.metric("dragonfly_supernode_pull_replies_total")
        trips = b.metric("dragonfly_supernode_cluster_redis_round_trips_per_pull_sum")
        assert b.metric("dragonfly_supernode_cluster_redis_round_trips_per_pull_count") == calls > 0
        assert trips >= calls                          # each call reads the shared task state at least once
        assert b.metric("dragonfly_supernode_cluster_redis_round_trips_total") > trips   # heartbeats too
        print(f"Redis round trips per /peer/task on B: {trips / calls:.1f} over {calls:.0f} calls")
        print(round_trip_report([requests.get(b.api + "/metrics", timeout=5).text]))
        deadline = time.monotonic() + 15           # the listing is what the members' heartbeats last said
        while True:
            members = a.cluster()["members"]
            held = {m["id"]: m["tasks"] for m in members}
            if held.get("sn-a") == [task_id] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [m["id"] for m in members] == ["sn-a", "sn-b"]
        assert held == {"sn-a": [task_id], "sn-b": []}
    finally:
        x.stop()
        y.stop()


@pytest.mark.parametrize("piece_source", ["holder", "relay"])
def test_supernode_pieces_of_a_task_another_member_fetched(cluster_factory, origin, piece_source):
    """A client of B whose task A's CDN fetched gets every supernode piece byte-exact: with
    ``piece_source: holder`` its answers name A's piece server (B relays nothing); with ``relay`` they name
    B's, which streams each piece from A's."""
    data = os.urandom(5 * MiB + 77)
    (origin.root_path / "layer").write_bytes(data)
    url = origin.url("layer")
    a = cluster_factory("sn-a", {"piece_source": piece_source})
    b = cluster_factory("sn-b", {"piece_source": piece_source})
    y = HeldPieces()
    try:
        task_id = registered_task_id(a, url, "127.0.0.1-x-1.000", 9)       # A's CDN takes the lease
        assert registered_task_id(b, url, "127.0.0.1-y-2.000", y.port) == task_id
        servers = set()
        content, sources, fin = _walk(b, task_id, "127.0.0.1-y-2.000", y, servers=servers)
        assert b"".join(content[n] for n in sorted(content)) == data
        assert fin["md5"] == hashlib.md5(data).hexdigest()
        assert origin.bytes_sent["/layer"] == len(data)                  # the origin once, from A
        assert b.metric("dragonfly_supernode_cdn_download_size_bytes_total") == 0
        if piece_source == "holder":
            assert servers == {("127.0.0.1", a.download_port)}
            assert b.metric(CROSS) == 0
        else:
            assert servers == {("127.0.0.1", b.download_port)}
            assert b.metric(CROSS) >= len(data)        # every piece streamed through B (piece headers too)
    finally:
        y.stop()


def test_dfgets_spread_over_two_members_fetch_the_origin_once(cluster_factory, origin, homes, tmp_path):
    digest = make_file(str(origin.root_path / "blob.bin"), 32 * MiB, seed=7)
    url = origin.url("blob.bin")
    a, b = cluster_factory("sn-a"), cluster_factory("sn-b")
    procs = []
    for i in range(4):
        out = tmp_path / "out" / f"f{i}.bin"
        out.parent.mkdir(exist_ok=True)
        node = (a, b)[i % 2].node
        procs.append((out, start_dfget(url, str(out), homes(f"h{i}"), [node], ["--notbs"])))
    for out, p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output
        assert sha256_file(out) == digest
    assert origin.bytes_sent["/blob.bin"] == 32 * MiB                 # exactly once for the whole cluster
    from_peers = a.metric("dragonfly_supernode_pieces_reported_total", source="peer") + \
        b.metric("dragonfly_supernode_pieces_reported_total", source="peer")
    cross = a.metric(CROSS) + b.metric(CROSS)
    print(f"pieces from peers={from_peers:.0f} cross-member bytes={cross:.0f}")
    calls = sum(m.metric("dragonfly_supernode_cluster_redis_round_trips_per_pull_count") for m in (a, b))
    trips = sum(m.metric("dragonfly_supernode_cluster_redis_round_trips_per_pull_sum") for m in (a, b))
    assert calls == sum(m.metric("dragonfly_supernode_pull_replies_total") for m in (a, b)) > 0
    print(f"Redis round trips per /peer/task: {trips / calls:.1f} over {calls:.0f} calls")
    print(round_trip_report([requests.get(m.api + "/metrics", timeout=5).text for m in (a, b)]))
    assert from_peers > 0
    # one member fetched from the origin; the other's clients got their supernode pieces from its piece server
    # (cluster.piece_source: holder), so the other member's piece server sent and relayed nothing
    fetched = [m for m in (a, b) if m.metric("dragonfly_supernode_cdn_download_size_bytes_total") > 0]
    assert len(fetched) == 1
    other = b if fetched[0] is a else a
    assert other.metric(CROSS) == 0
    assert other.metric("dragonfly_supernode_piece_server_bytes_total") == 0
    assert fetched[0].metric("dragonfly_supernode_piece_server_bytes_total") > 0


def _wait(cond, timeout=60.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def test_lease_holder_killed_mid_fetch_another_member_resumes_and_clients_move(cluster_factory, homes, tmp_path):
    """SIGKILL the member fetching from the origin (over two connections, the default) while it fetches and
    while its peers download: the other member takes the lease over and fetches the missing pieces with Range
    requests, none of them from byte 0 again; the killed member's dfgets move to the other member
    (``--node a,b``) and keep their pieces; every output is right and the origin sent at most 1.1x."""
    root = tmp_path / "origin"
    root.mkdir()
    size = 24 * MiB
    digest = make_file(str(root / "blob.bin"), size, seed=11)
    origin = OriginServer(str(root), rate=4 * MiB).start()           # about 6 s from the origin
    try:
        url = origin.url("blob.bin")
        a = cluster_factory("sn-a", base={"source_chunk": "4MB"})
        b = cluster_factory("sn-b", base={"source_chunk": "4MB"})
        outs = [tmp_path / "out" / f"f{i}.bin" for i in range(3)]
        outs[0].parent.mkdir()
        first = start_dfget(url, str(outs[0]), homes("h0"), [a.node, b.node], ["--notbs"])

        def holder():
            held = [m["id"] for m in b.cluster()["members"] if m["tasks"]]
            return {"sn-a": a, "sn-b": b}[held[0]] if held else None

        assert _wait(lambda: holder() is not None)          # the first client's member took the lease
        dead = holder()
        alive = b if dead is a else a
        procs = [(outs[0], first),
                 (outs[1], start_dfget(url, str(outs[1]), homes("h1"), [alive.node, dead.node], ["--notbs"])),
                 (outs[2], start_dfget(url, str(outs[2]), homes("h2"), [dead.node, alive.node], ["--notbs"]))]
        assert _wait(lambda: origin.bytes_sent["/blob.bin"] >= 0.4 * size)
        dead.kill()
        killed_at = origin.bytes_sent["/blob.bin"]
        ranges_before = len(origin.ranges.get("/blob.bin", []))
        outputs = []
        for out, p in procs:
            output, _ = p.communicate(timeout=150)
            assert p.returncode == 0, output
            assert sha256_file(out) == digest
            outputs.append(output)
        assert "connected to node:" + dead.node in outputs[0]
        for output in outputs:                                            # the killed member's clients moved
            if "connected to node:" + dead.node in output:
                assert "migrated to node:" + alive.node in output, output
        sent = origin.bytes_sent["/blob.bin"]
        after = origin.ranges["/blob.bin"][ranges_before:]
        print(f"origin bytes at kill={killed_at / size:.2f}x total={sent / size:.3f}x ranges after={after}")
        assert after and not any(r.startswith("bytes=0-") for r in after)   # the missing pieces, not a restart
        assert sent <= 1.1 * size
        assert alive.metric("dragonfly_supernode_cluster_lease_takeovers_total") == 1
        assert [m["id"] for m in alive.cluster()["members"]] == [alive.member_id]      # the killed one dropped
    finally:
        origin.stop()


def test_member_killed_while_its_peers_download_they_move_and_finish(cluster_factory, homes, tmp_path):
    """SIGKILL a member that is not fetching from the origin while dfgets download through it: they move to the
    other member and finish with their pieces kept; the origin still sent the file exactly once."""
    root = tmp_path / "origin"
    root.mkdir()
    size = 24 * MiB
    digest = make_file(str(root / "blob.bin"), size, seed=12)
    origin = OriginServer(str(root), rate=4 * MiB).start()
    try:
        url = origin.url("blob.bin")
        a = cluster_factory("sn-a", base={"source_streams": 1})
        b = cluster_factory("sn-b", base={"source_streams": 1})
        outs = [tmp_path / "out" / f"f{i}.bin" for i in range(5)]
        outs[0].parent.mkdir()
        procs = [(outs[0], start_dfget(url, str(outs[0]), homes("h0"), [a.node, b.node], ["--notbs"]))]
        lease = {}

        def holder():
            held = [m["id"] for m in a.cluster()["members"] if m["tasks"]]
            return {"sn-a": a, "sn-b": b}[held[0]] if held else None

        assert _wait(lambda: lease.setdefault("m", holder()) is not None or lease.pop("m") is not None)
        fetcher = lease["m"]
        victim = b if fetcher is a else a
        for i in range(1, 5):                   # each picks one of the two members at random
            procs.append((outs[i], start_dfget(url, str(outs[i]), homes(f"h{i}"), [a.node, b.node], ["--notbs"])))
        assert _wait(lambda: origin.bytes_sent["/blob.bin"] >= 0.4 * size)
        victim.kill()
        moved = 0
        for out, p in procs:
            output, _ = p.communicate(timeout=150)
            assert p.returncode == 0, output
            assert sha256_file(out) == digest
            if "connected to node:" + victim.node in output:
                assert "migrated to node:" + fetcher.node in output, output
                moved += 1
        print(f"clients moved={moved} origin={origin.bytes_sent['/blob.bin'] / size:.3f}x")
        assert origin.bytes_sent["/blob.bin"] == size            # the move fetched nothing twice from the origin
        assert fetcher.metric("dragonfly_supernode_cluster_lease_takeovers_total") == 0
    finally:
        origin.stop()
