import hashlib
import os

import pytest
import requests

from dfdaemon.p2p.back_source import BackSource
from dfdaemon.p2p.result import DownloadError
from dfdaemon.p2p.stream import Progress
from tests.fixtures.origin import OriginServer


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "root"
    (root / "private").mkdir(parents=True)
    (root / "f.bin").write_bytes(os.urandom(3 << 20))
    (root / "private" / "p.bin").write_bytes(b"secret" * 1000)
    srv = OriginServer(str(root)).start()
    yield srv, root
    srv.stop()


def test_download_into_temp_with_md5(origin, tmp_path):
    srv, root = origin
    data = (root / "f.bin").read_bytes()
    out = tmp_path / "out"
    progress = Progress()
    path, length, digest = BackSource(requests.Session()).fetch(
        srv.url("f.bin"), [], str(out), ".backsource.s.", md5=hashlib.md5(data).hexdigest(), progress=progress)
    assert open(path, "rb").read() == data and length == len(data)
    assert os.path.basename(path).startswith(".backsource.s.") and os.path.dirname(path) == str(out)
    assert progress.path == path and progress.ready == len(data)


def test_md5_mismatch_removes_the_temp_file(origin, tmp_path):
    srv, _ = origin
    with pytest.raises(DownloadError, match="md5"):
        BackSource(requests.Session()).fetch(srv.url("f.bin"), [], str(tmp_path), ".bs.", md5="0" * 32)
    assert os.listdir(tmp_path) == ["root"]


def test_404_and_401_carry_the_status(origin, tmp_path):
    srv, _ = origin
    for path, status in (("missing", 404), ("private/p.bin", 401)):
        with pytest.raises(DownloadError) as ei:
            BackSource(requests.Session()).fetch(srv.url(path), [], str(tmp_path), ".bs.")
        assert ei.value.status == status and f"HTTP {status}" in ei.value.message
    assert os.listdir(tmp_path) == ["root"]


def test_user_headers_reach_the_source(origin, tmp_path):
    srv, _ = origin
    path, length, _ = BackSource(requests.Session()).fetch(
        srv.url("private/p.bin"), [("Authorization", srv.auth)], str(tmp_path), ".bs.")
    assert length == 6000
