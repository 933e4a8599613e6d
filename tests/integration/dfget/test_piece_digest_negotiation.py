"""The fast piece digest is negotiated: our dfget with our supernode checks pieces with XXH3-128; a
Dragonfly-1.x-style client that offers nothing gets the protocol's fields only (pieceMd5, no pieceDigest);
``fast_digest: false`` (SUPERNODE_FAST_DIGEST) turns it off. Real supernode process, real piece server."""
import dataclasses
import os
import subprocess
import time

import pytest
import requests
import yaml

from dfcommon import piece_digest, pieces
from dfdaemon.p2p.downloader import Downloader, DownloaderOptions
from supernode.config import SupernodeConfig
from tests.helpers import free_port, script, wait_port

from .conftest import REPO, child_env


@pytest.fixture
def start_supernode(tmp_path):
    procs = []

    def start(**env):
        api, dl = free_port(), free_port()
        log = open(tmp_path / f"supernode-{api}.log", "wb")
        conf = tmp_path / f"supernode-{api}.yml"
        keys = {f.name for f in dataclasses.fields(SupernodeConfig)}
        # the origin runs on loopback: allowed explicitly where the supernode guards what it fetches
        conf.write_text(yaml.safe_dump({"fetch": {"allow": ["127.0.0.0/8"]}} if "fetch" in keys else {}))
        proc = subprocess.Popen([script("supernode"), "--config", str(conf), "--port", str(api),
                                 "--download-port", str(dl), "--home-dir", str(tmp_path / f"sn-{api}"),
                                 "--listen-ip", "127.0.0.1"],
                                env={**child_env(), **env}, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        wait_port(api)
        wait_port(dl)
        return f"127.0.0.1:{api}"
    yield start
    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def download(work, node, url, name):
    dl = Downloader(DownloaderOptions(work_home=str(work / f"home-{name}"), nodes=[node], alive_time=20))
    try:
        return dl.download(url, str(work / f"out-{name}"), pattern="cdn", notbs=True)
    finally:
        dl.close()


def test_our_dfget_and_supernode_use_the_fast_digest(origin, work, start_supernode, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", REPO)
    data = os.urandom(5 << 20)
    (origin.root_path / "f.bin").write_bytes(data)
    res = download(work, start_supernode(), origin.url("f.bin"), "fast")
    assert res.success, res.message
    assert (work / "out-fast").read_bytes() == data
    assert res.pieces_checked["xxh3-128"] >= 5 and res.pieces_checked["md5"] == 0
    assert res.md5 == ""        # lazy md5: every piece passed its fast digest, nobody computed the file md5


def test_fast_digest_off_checks_md5(origin, work, start_supernode, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", REPO)
    data = os.urandom(3 << 20)
    (origin.root_path / "g.bin").write_bytes(data)
    res = download(work, start_supernode(SUPERNODE_FAST_DIGEST="false"), origin.url("g.bin"), "md5")
    assert res.success, res.message
    assert (work / "out-md5").read_bytes() == data
    assert res.pieces_checked["xxh3-128"] == 0 and res.pieces_checked["md5"] >= 3


def legacy_register(node, url, cid, offer=None):
    """A registration with exactly the keys Dragonfly 1.x's dfget sends (plus ``pieceDigests`` if given)."""
    body = {"rawUrl": url, "taskUrl": url, "cid": cid, "ip": "127.0.0.1", "hostName": "legacy", "port": 0,
            "path": f"/peer/file/{cid}", "version": "1.0.6", "md5": "", "identifier": "", "callSystem": "",
            "headers": [], "dfdaemon": False, "insecure": False, "rootCAs": [], "taskId": "", "fileLength": 0,
            "asSeed": False, "superNodeIp": "", "pattern": "cdn"}
    if offer is not None:
        body["pieceDigests"] = offer
    r = requests.post(f"http://{node}/peer/registry", json=body, timeout=10)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["code"] == 200, reply
    return reply["data"]


def first_pieces(node, task_id, cid):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = requests.get(f"http://{node}/peer/task", params={"taskId": task_id, "srcCid": cid, "status": "700",
                                                             "result": "-1", "dstCid": "", "range": ""}, timeout=10)
        body = r.json()
        if body["code"] == 601 and body["data"]:
            return body["data"]
        time.sleep(0.1)
    raise AssertionError("no piece was scheduled")


def wrapped_piece(entry):
    start, end = pieces.parse_range(entry["range"])
    r = requests.get(f"http://{entry['peerIp']}:{entry['peerPort']}{entry['path']}",
                     headers={"Range": f"bytes={start}-{end}"}, timeout=10)
    assert r.status_code in (200, 206)
    return r.content


def test_a_legacy_client_gets_md5_only_and_ours_gets_both(origin, start_supernode):
    data = os.urandom(3 << 20)
    (origin.root_path / "h.bin").write_bytes(data)
    node, url = start_supernode(), origin.url("h.bin")

    legacy = legacy_register(node, url, "legacy-cid")
    assert "pieceDigest" not in legacy
    for entry in first_pieces(node, legacy["taskId"], "legacy-cid"):
        assert "pieceDigest" not in entry
        assert entry["pieceMd5"] == pieces.piece_md5(wrapped_piece(entry))

    ours = legacy_register(node, url, "our-cid", offer="xxh3-128")
    assert ours["pieceDigest"] == "xxh3-128"
    for entry in first_pieces(node, ours["taskId"], "our-cid"):
        wrapped = wrapped_piece(entry)
        # lazy md5: a piece's md5 is in our client's entry only once a peer that needed it had it computed
        assert entry["pieceMd5"] in ("", pieces.piece_md5(wrapped))
        assert entry["pieceDigest"] == piece_digest.of(wrapped)

    other = legacy_register(node, url, "other-cid", offer="crc32c")      # an offer we do not speak
    assert "pieceDigest" not in other
