"""Real P2P downloads: the real supernode (CDN + scheduler + piece server) and the real upload server."""
import hashlib
import os

import pytest

from dfdaemon.p2p.downloader import Downloader, DownloaderOptions

from .conftest import REPO


def test_two_hosts_download_through_the_supernode(origin, supernode, dfget, work):
    data = os.urandom(9 << 20)                      # 3 pieces of 4 MiB
    (origin.root_path / "big.bin").write_bytes(data)
    url = origin.url("big.bin") + "?token=abc"
    md5 = hashlib.md5(data).hexdigest()
    outs = []
    for i in range(2):
        out = work / f"host{i}" / "big.bin"
        r = dfget("-u", url, "-o", str(out), "-n", supernode, "--notbs", "-f", "token",
                  "--home", str(work / f"home{i}"), "-b")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"connected to node:{supernode}" in r.stdout
        assert "start download by dragonfly..." in r.stdout
        assert r.stdout.strip().splitlines()[-1].endswith(f"length:{len(data)} reason:0")
        outs.append(out)
        # the unwrapped data file stays in the work home for the upload server
        data_dir = work / f"home{i}" / "data"
        assert any(n.startswith("big.bin-") for n in os.listdir(data_dir))
    for out in outs:
        assert hashlib.md5(out.read_bytes()).hexdigest() == md5
    # the supernode fetched the file from the origin once for both hosts
    assert origin.bytes_sent["/big.bin"] == len(data)


def test_stream_in_process(origin, supernode, work, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", REPO)          # the upload server child imports the project
    data = os.urandom(6 << 20)
    (origin.root_path / "s.bin").write_bytes(data)
    dl = Downloader(DownloaderOptions(work_home=str(work / "home"), nodes=[supernode], local_limit=0,
                                      alive_time=30))
    stream = dl.stream(origin.url("s.bin"), notbs=True)
    got = hashlib.md5()
    n = 0
    for block in stream:
        assert len(block) <= 1 << 20
        got.update(block)
        n += len(block)
    res = stream.wait(30)
    assert res.success, res.message
    assert n == len(data) and got.hexdigest() == hashlib.md5(data).hexdigest()
    # every piece passed the fast digest, so neither side computed a whole-file md5 (lazy md5 on the supernode)
    assert res.pieces_checked.get("xxh3-128", 0) > 0 and res.pieces_checked.get("md5", 0) == 0 and res.md5 == ""


def test_stream_falls_back_to_the_source(origin, work):
    from tests.helpers import free_port
    data = os.urandom(3 << 20)
    (origin.root_path / "b.bin").write_bytes(data)
    dl = Downloader(DownloaderOptions(work_home=str(work / "home"), nodes=[f"127.0.0.1:{free_port()}"]))
    stream = dl.stream(origin.url("b.bin"), pattern="cdn")
    assert b"".join(stream) == data
    res = stream.wait(10)
    assert res.success and res.back_source and res.reason == 1
    assert os.listdir(work / "home" / "data") == []


def test_stream_failure_raises(origin, work):
    from dfdaemon.p2p.result import DownloadError
    dl = Downloader(DownloaderOptions(work_home=str(work / "home")))
    stream = dl.stream(origin.url("nope.bin"), pattern="source")
    with pytest.raises(DownloadError, match="HTTP 404"):
        b"".join(stream)
    stream.close()
