"""Proxy rules sending blob GETs through the real P2P downloader and a real supernode process."""
from __future__ import annotations

import hashlib
import os

import pytest

from dfdaemon.p2p.downloader import Downloader, DownloaderOptions
from dfdaemon.proxy import downloader_fetch
from tests.e2e.p2p_stack import SupernodeProcess, stop_upload_servers
from tests.fixtures.origin import OriginServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
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
def downloader(tmp_path, supernode, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", REPO)          # the upload server child imports the project
    home = tmp_path / "home"
    dl = Downloader(DownloaderOptions(work_home=str(home), nodes=[supernode.node], local_limit=0, alive_time=20))
    yield dl
    dl.close()
    stop_upload_servers(str(home))


def test_blob_get_goes_through_the_supernode(start_proxy, origin, downloader, client):
    data = os.urandom((5 << 20) + 123)
    (origin.root_path / "layer.bin").write_bytes(data)
    streams = []
    fetch = downloader_fetch(downloader, notbs=True)

    def recording(url, headers, **kw):
        streams.append(fetch(url, headers, **kw))
        return streams[-1]

    srv = start_proxy(proxies=[{"regx": r"layer\.bin"}], p2p_fetch=recording)
    r = client.get(origin.url("layer.bin"), proxies={"http": srv.url}, stream=True, timeout=60)
    got = hashlib.sha256()
    for block in r.iter_content(1 << 20):
        got.update(block)
    assert r.status_code == 200 and got.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(streams) == 1
    result = streams[0].wait(30)
    assert result is not None and result.success and not result.back_source
    assert origin.bytes_sent["/layer.bin"] == len(data)       # fetched once, by the supernode's CDN
