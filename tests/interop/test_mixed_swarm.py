"""Point 3 of the interoperability checks: one swarm on our supernode, three Go dfgets and three of ours on
one 64 MiB file at once; pieces must flow in both directions between the two kinds of peers."""
from __future__ import annotations

import pytest

from dfcommon.pieces import piece_total
from tests.e2e.p2p_stack import start_dfget, upload_server_port
from tests.fixtures.origin import make_file
from tests.interop.helpers import MiB, peer_pieces, registered_piece_size, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_three_go_and_three_of_ours_in_one_swarm(origin, our_supernode, go_dfget, our_homes, tmp_path):
    size = 64 * MiB
    digest = make_file(str(origin.root_path / "mixed.bin"), size, seed=18)
    url = origin.url("mixed.bin")
    ours, go = [], []
    for i in range(3):          # interleaved starts, so each kind finds the other holding pieces; ours first,
        home = our_homes(f"ours{i}")        # as the Go dfget starts faster
        out = tmp_path / f"ours{i}.bin"
        ours.append((home, out, start_dfget(url, str(out), home, [our_supernode.node], ["--notbs"])))
        go.append(go_dfget.start(url, str(tmp_path / f"go{i}.bin"), [our_supernode.node], ["--notbs"], name=f"go{i}"))
    for r in go:
        r.wait(timeout=300)
        assert r.returncode == 0, r.stdout + r.client_log[-3000:]
        assert sha256_file(r.output) == digest
    for _, out, p in ours:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output
        assert sha256_file(out) == digest

    peers = our_supernode.peers()
    go_ports = {r.port for r in go}
    our_ports = {upload_server_port(h) for h, _, _ in ours}
    go_versions = {p["version"] for p in peers if p["port"] in go_ports}
    our_versions = {p["version"] for p in peers if p["port"] in our_ports}
    assert len(go_versions) == 1 and len(our_versions) == 1 and go_versions != our_versions, peers
    go_v, our_v = go_versions.pop(), our_versions.pop()
    flows = peer_pieces(our_supernode)
    go_to_ours, ours_to_go = flows.get((go_v, our_v), 0), flows.get((our_v, go_v), 0)
    ratio = origin.bytes_sent["/mixed.bin"] / size
    print(f"origin bytes {ratio:.2f}x; pieces Go->ours {go_to_ours:.0f}, ours->Go {ours_to_go:.0f}, "
          f"Go->Go {flows.get((go_v, go_v), 0):.0f}, ours->ours {flows.get((our_v, our_v), 0):.0f}, "
          f"from our supernode {our_supernode.metric('dragonfly_supernode_pieces_reported_total', source='supernode'):.0f}")
    assert ratio == 1.0, origin.bytes_sent
    piece_size = registered_piece_size(go[0].client_log)
    from_sn = our_supernode.metric("dragonfly_supernode_pieces_reported_total", source="supernode")
    assert sum(flows.values()) + from_sn == 6 * piece_total(size, piece_size)   # each piece of each run once
    assert go_to_ours > 0, flows
    assert ours_to_go > 0, flows
    assert our_supernode.healthy()
