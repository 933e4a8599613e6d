"""Point 5 of the interoperability checks: the Go dfdaemon 1.0.6 as a registry mirror in front of our
supernode; skopeo pulls one image from the test registry through it and gets it byte-identical."""
from __future__ import annotations

import filecmp
import os
import subprocess

import pytest

from tests.fixtures.dragonfly_go import GoDfdaemon
from tests.fixtures.registry import missing_tools
from tests.interop.helpers import sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
BLOB_INFO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"


@pytest.fixture(autouse=True)
def _skopeo_blob_info_cache():
    """skopeo run as root writes a blob-info cache outside the test's directories: remove it if this test made it."""
    existed = os.path.exists(BLOB_INFO_CACHE)
    yield
    if not existed and os.path.exists(BLOB_INFO_CACHE):
        os.remove(BLOB_INFO_CACHE)


def skopeo_copy(home: str, ref: str, dest: str) -> None:
    os.makedirs(home, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(HOME=home, XDG_RUNTIME_DIR=home)
    argv = ["skopeo", "copy", "--retry-times", "0", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, f"{' '.join(argv)}: {res.stderr.strip()}"


@pytest.fixture
def go_dfdaemon_factory(dragonfly_go, tmp_path_factory):
    started = []

    def make(remote: str, nodes) -> GoDfdaemon:
        d = GoDfdaemon(dragonfly_go.dfdaemon, dragonfly_go.dfget, str(tmp_path_factory.mktemp("go-dfdaemon")),
                       remote, nodes)
        started.append(d)
        return d.start()

    yield make
    for d in started:
        d.stop()


def test_skopeo_pulls_through_the_go_dfdaemon_in_front_of_our_supernode(registry_factory, oci_image_factory,
                                                                        our_supernode, go_dfdaemon_factory,
                                                                        tmp_path):
    missing = missing_tools("skopeo", "docker-registry")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    reg = registry_factory("plain")
    img = oci_image_factory(layers=2, layer_size=3 << 20, tag="v1", seed=20)
    reg.push(img, "library/go-mirror", tag="v1")
    mirror = go_dfdaemon_factory(reg.url, [our_supernode.node])

    via = str(tmp_path / "via-go-dfdaemon")
    skopeo_copy(str(tmp_path / "home-mirror"), f"{mirror.host}/library/go-mirror:v1", via)
    direct = str(tmp_path / "direct")
    skopeo_copy(str(tmp_path / "home-direct"), f"{reg.host}/library/go-mirror:v1", direct)

    names = sorted(os.listdir(direct))
    assert sorted(os.listdir(via)) == names
    _, mismatch, errors = filecmp.cmpfiles(via, direct, names, shallow=False)
    assert not mismatch and not errors, (mismatch, errors, mirror.log_tail())
    for blob in img.layers:                     # each layer file is named by its digest and matches it
        assert sha256_file(os.path.join(via, blob.digest.split(":", 1)[1])) == blob.digest.split(":", 1)[1]
    registered = our_supernode.metric("dragonfly_supernode_dfgettasks_registered_total")
    print(f"blobs through our supernode: {registered:.0f} of {len(img.blobs)}")
    assert registered >= len(img.layers), mirror.log_tail()     # the layers went through P2P, not around it
