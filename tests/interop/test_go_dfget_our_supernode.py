"""Point 1 of the interoperability checks: the unmodified Go dfget 1.0.6, four at once, through our supernode."""
from __future__ import annotations

import pytest
import requests

from dfcommon.pieces import piece_total
from tests.fixtures.origin import make_file
from tests.interop.helpers import MiB, peer_pieces, registered_piece_size, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_four_go_dfgets_through_our_supernode(origin, our_supernode, go_dfget, tmp_path):
    size = 32 * MiB
    digest = make_file(str(origin.root_path / "go4.bin"), size, seed=16)
    url = origin.url("go4.bin")
    runs = [go_dfget.start(url, str(tmp_path / f"go{i}.bin"), [our_supernode.node], ["--notbs"], name=f"go{i}")
            for i in range(4)]
    for r in runs:
        r.wait(timeout=300)
        assert r.returncode == 0, r.stdout + r.client_log[-3000:]
        assert "download SUCCESS" in r.stdout
        assert sha256_file(r.output) == digest
    ratio = origin.bytes_sent["/go4.bin"] / size
    from_peers = our_supernode.metric("dragonfly_supernode_pieces_reported_total", source="peer")
    from_sn = our_supernode.metric("dragonfly_supernode_pieces_reported_total", source="supernode")
    print(f"origin bytes {ratio:.2f}x; pieces from Go peers {from_peers:.0f}, from our supernode {from_sn:.0f}")
    assert ratio == 1.0, origin.bytes_sent
    pieces = piece_total(size, registered_piece_size(runs[0].client_log))     # wrapped pieces of the task
    assert from_peers + from_sn == 4 * pieces          # every piece of every run reported once
    go_ports = {r.port for r in runs}
    versions = {p["version"] for p in our_supernode.peers() if p["port"] in go_ports}
    assert len(versions) == 1, versions
    go_v = versions.pop()
    flows = peer_pieces(our_supernode)
    assert set(flows) <= {(go_v, go_v)}, flows         # only Go peers in this swarm
    assert flows.get((go_v, go_v), 0) == from_peers > 0, "no piece went from one Go dfget to another"
    assert our_supernode.healthy()


def test_go_dfgets_through_our_supernode_with_auth_on_in_interop_mode(origin, our_supernode_factory, go_dfget,
                                                                      tmp_path):
    """Off loopback our supernode turns auth on by itself; ``auth.interop`` keeps the API guarded but drops the
    piece tokens, which Dragonfly 1.x peers do not send."""
    sn = our_supernode_factory(listen_ip="0.0.0.0", auth={"interop": True})
    assert requests.get(sn.url + "/api/v1/peers", timeout=5).status_code == 401        # auth is on
    size = 8 * MiB
    digest = make_file(str(origin.root_path / "auth.bin"), size, seed=22)
    runs = [go_dfget.start(origin.url("auth.bin"), str(tmp_path / f"auth{i}.bin"), [sn.node], ["--notbs"],
                           name=f"auth{i}") for i in range(2)]
    for r in runs:
        r.wait(timeout=300)
        assert r.returncode == 0, r.stdout + r.client_log[-3000:]
        assert sha256_file(r.output) == digest
    assert origin.bytes_sent["/auth.bin"] == size


def test_a_go_dfget_is_refused_at_once_when_piece_tokens_are_required(origin, our_supernode_factory, go_dfget,
                                                                       tmp_path):
    """Auth on without ``auth.interop``: a Go dfget cannot send piece tokens, so its registration is refused
    (it would otherwise be refused every piece until its own timeout). With ``--notbs`` it fails with the
    register error; without, it goes to the source, as Dragonfly does when no supernode accepts a task."""
    sn = our_supernode_factory(listen_ip="0.0.0.0")                         # auth turns on by itself
    size = 3 * MiB
    digest = make_file(str(origin.root_path / "refused.bin"), size, seed=23)
    strict = go_dfget.start(origin.url("refused.bin"), str(tmp_path / "strict.bin"), [sn.node], ["--notbs"],
                            name="strict")
    strict.wait(timeout=120)
    assert strict.returncode != 0
    assert not (tmp_path / "strict.bin").exists()
    assert sn.metric("dragonfly_supernode_peers_refused_total", reason="piece_tokens") >= 1
    assert "auth.interop: true" in sn.log_tail()
    fallback = go_dfget.start(origin.url("refused.bin"), str(tmp_path / "fallback.bin"), [sn.node], name="fallback")
    fallback.wait(timeout=120)
    assert fallback.returncode == 0, fallback.stdout + fallback.client_log[-3000:]
    assert sha256_file(fallback.output) == digest
    assert sn.healthy()
