"""Point 2 of the interoperability checks: our dfget, two at once, through the Go supernode 1.0.6 and its nginx."""
from __future__ import annotations

import pytest

from tests.e2e.p2p_stack import start_dfget
from tests.fixtures.origin import make_file
from tests.interop.helpers import MiB, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_two_of_our_dfgets_through_the_go_supernode(origin, go_supernode, our_homes, tmp_path):
    size = 24 * MiB
    digest = make_file(str(origin.root_path / "ours2.bin"), size, seed=17)
    url = origin.url("ours2.bin")
    procs = [(tmp_path / f"ours{i}.bin", start_dfget(url, str(tmp_path / f"ours{i}.bin"), our_homes(f"o{i}"),
                                                      [go_supernode.node], ["--notbs"])) for i in range(2)]
    for out, p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output + go_supernode.log_tail()
        assert "download SUCCESS" in output
        assert sha256_file(out) == digest
    ratio = origin.bytes_sent["/ours2.bin"] / size
    print(f"origin bytes {ratio:.2f}x through the Go supernode")
    assert ratio >= 1.0          # the Go CDN fetched it (our dfget never went to the source: --notbs)
    assert go_supernode.healthy()
