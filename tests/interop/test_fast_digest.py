"""Point 4 of the interoperability checks: our supernode with ``fast_digest`` on serves a swarm of Go dfgets
1.0.6 and one of ours. The Go peers, which offer no fast digest, get the protocol's piece md5 only and
finish with correct outputs; a client that offers the fast digest is answered with it."""
from __future__ import annotations

import json
import re

import pytest
import requests

from tests.e2e.p2p_stack import start_dfget
from tests.fixtures.origin import make_file
from tests.interop.helpers import MiB, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
PIECES_LINE = re.compile(r"pieces to be processed:(\[.*\])")
MD5_FIELD = re.compile(r"^[0-9a-f]{32}:\d+$")


@pytest.fixture
def fast_supernode(our_supernode_factory):
    try:
        return our_supernode_factory(fast_digest=True)
    except AssertionError as e:           # the supernode did not start
        if "fast_digest" in str(e):
            pytest.skip("fast digest not implemented (the supernode config rejects the key fast_digest)")
        raise


def piece_entries(client_log: str) -> list[dict]:
    """The piece entries the Go dfget logged (``--verbose``): JSON objects in a space-separated list."""
    out = []
    for m in PIECES_LINE.finditer(client_log):
        out += [json.loads(obj) for obj in re.findall(r"\{[^{}]*\}", m.group(1))]
    return out


def test_go_dfget_gets_md5_from_a_supernode_with_the_fast_digest_on(origin, fast_supernode, go_dfget, our_homes,
                                                                    tmp_path):
    size = 24 * MiB
    digest = make_file(str(origin.root_path / "fast.bin"), size, seed=21)
    url = origin.url("fast.bin")
    go = [go_dfget.start(url, str(tmp_path / "go0.bin"), [fast_supernode.node], ["--notbs"], name="go0")]
    ours_out = tmp_path / "ours.bin"
    ours = start_dfget(url, str(ours_out), our_homes("ours"), [fast_supernode.node], ["--notbs"])
    go.append(go_dfget.start(url, str(tmp_path / "go1.bin"), [fast_supernode.node], ["--notbs"], name="go1"))
    for r in go:
        r.wait(timeout=300)
        assert r.returncode == 0, r.stdout + r.client_log[-3000:]
        assert sha256_file(r.output) == digest
    output, _ = ours.communicate(timeout=300)
    assert ours.returncode == 0, output
    assert sha256_file(ours_out) == digest

    for r in go:                                      # what the Go peer was told, from its own log
        log = r.client_log
        reply = re.search(r"do register result:(\{.*\}) and cost", log)
        assert reply, log[-2000:]
        assert "pieceDigest" not in json.loads(reply.group(1))["data"]
        entries = piece_entries(log)
        assert entries, log[-2000:]
        assert all(MD5_FIELD.match(e["pieceMd5"]) and "pieceDigest" not in e for e in entries), entries[:3]

    # the switch is really on: a registration that offers the fast digest is answered with it
    body = {"rawUrl": url, "taskUrl": url, "cid": "127.0.0.1-7-7.000", "ip": "127.0.0.1", "hostName": "offer",
            "port": 15777, "path": "/peer/file/fast", "version": "probe", "pieceDigests": "xxh3-128"}
    answer = requests.post(fast_supernode.url + "/peer/registry", json=body, timeout=30).json()
    assert answer["code"] == 200, answer
    assert answer["data"].get("pieceDigest") == "xxh3-128", answer
    assert fast_supernode.healthy()
