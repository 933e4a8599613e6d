"""Issue scenarios of the P2P core with real processes: one supernode, several dfget runs, a real origin."""
from __future__ import annotations

import os
import time

import pytest

from tests.e2e.p2p_stack import (SupernodeProcess, kill_upload_server, run_dfget, start_dfget,
                                 stop_upload_servers, upload_server_port)
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import sha256_file

MiB = 1 << 20
pytestmark = [pytest.mark.slow]


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    (root / "private").mkdir()
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def supernode(tmp_path):
    sn = SupernodeProcess(str(tmp_path / "sn"))
    yield sn
    sn.stop()


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


def test_eight_dfgets_share_one_origin_fetch_and_mostly_peer_pieces(origin, supernode, homes, tmp_path):
    digest = make_file(str(origin.root_path / "blob.bin"), 64 * MiB, seed=1)
    url = origin.url("blob.bin")
    procs = []
    for i in range(8):
        out = tmp_path / "out" / f"f{i}.bin"
        out.parent.mkdir(exist_ok=True)
        procs.append((out, start_dfget(url, str(out), homes(f"h{i}"), [supernode.node], ["--notbs"])))
    for out, p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output
        assert "download SUCCESS" in output
        assert sha256_file(out) == digest
    assert origin.bytes_sent["/blob.bin"] == 64 * MiB          # the origin sent the file exactly once
    from_peers = supernode.metric("dragonfly_supernode_pieces_reported_total", source="peer")
    from_sn = supernode.metric("dragonfly_supernode_pieces_reported_total", source="supernode")
    assert from_peers + from_sn >= 8 * 16
    print(f"pieces from peers={from_peers:.0f} from supernode={from_sn:.0f}")
    assert from_peers > from_sn, (from_peers, from_sn)


def test_peer_killed_while_serving_does_not_break_other_downloads(origin, supernode, homes, tmp_path):
    digest = make_file(str(origin.root_path / "k.bin"), 32 * MiB, seed=2)
    url = origin.url("k.bin")
    seed_home = homes("seed")
    r = run_dfget(url, str(tmp_path / "seed.bin"), seed_home, [supernode.node], ["--notbs"])
    assert r.returncode == 0, r.stdout + r.stderr
    seed_port = upload_server_port(seed_home)
    assert seed_port > 0
    procs = [(tmp_path / f"k{i}.bin", start_dfget(url, str(tmp_path / f"k{i}.bin"), homes(f"k{i}"),
                                                  [supernode.node], ["--locallimit", "8M"])) for i in range(3)]
    # the seed's upload server dies while the others are pulling pieces from it
    time.sleep(1.0)
    assert kill_upload_server(seed_home) == 1
    for out, p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output
        assert sha256_file(out) == digest


def test_corrupted_peer_is_rejected_and_blacklisted(origin, supernode, homes, tmp_path):
    digest = make_file(str(origin.root_path / "c.bin"), 16 * MiB, seed=3)
    url = origin.url("c.bin")
    bad_home = homes("bad")
    r = run_dfget(url, str(tmp_path / "bad.bin"), bad_home, [supernode.node], ["--notbs"])
    assert r.returncode == 0, r.stdout + r.stderr
    # corrupt every data file the bad peer serves from (its upload server reads them to build pieces)
    data_dir = os.path.join(bad_home, "data")
    corrupted = 0
    for name in os.listdir(data_dir):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            with open(path, "r+b") as f:
                size = os.path.getsize(path)
                for off in range(0, size, 1 << 20):
                    f.seek(off)
                    f.write(b"\xff" * 16)
            corrupted += 1
    assert corrupted >= 1
    good_out = tmp_path / "good.bin"
    r = run_dfget(url, str(good_out), homes("good"), [supernode.node], ["--notbs"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert sha256_file(good_out) == digest
    peers = supernode.peers()
    bad_port = upload_server_port(bad_home)
    bad_ids = {p["ID"] for p in peers if p["port"] == bad_port}
    # the good client put the corrupting peer on its blacklist after the first bad piece
    assert any(set(p["blacklist"]) & bad_ids for p in peers if p["port"] != bad_port), peers


def test_supernode_unreachable_falls_back_to_source_unless_notbs(origin, homes, tmp_path):
    from tests.helpers import free_port
    digest = make_file(str(origin.root_path / "s.bin"), 5 * MiB, seed=4)
    dead = f"127.0.0.1:{free_port()}"
    out = tmp_path / "s.bin"
    r = run_dfget(origin.url("s.bin"), str(out), homes("s1"), [dead])
    assert r.returncode == 0, r.stdout + r.stderr
    assert sha256_file(out) == digest
    out2 = tmp_path / "s2.bin"
    r = run_dfget(origin.url("s.bin"), str(out2), homes("s2"), [dead], ["--notbs"])
    assert r.returncode == 79, r.stdout + r.stderr       # register error (1103 & 0xFF)
    assert not out2.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith("s2.bin") or ".tmp" in n]


@pytest.mark.parametrize("path,status", [("missing.bin", "404"), ("private/secret.bin", "401")])
def test_origin_errors_give_clear_message_and_exit_code(origin, supernode, homes, tmp_path, path, status):
    make_file(str(origin.root_path / "private" / "secret.bin"), MiB, seed=5)
    out = tmp_path / "err.bin"
    r = run_dfget(origin.url(path), str(out), homes("e"), [supernode.node])
    assert r.returncode in (79, 80), r.stdout + r.stderr
    text = r.stdout + r.stderr
    assert status in text, text
    assert "download FAIL" in text
    assert not out.exists()
    assert supernode.healthy()
