"""skopeo pulls through the dfdaemon configured as a ``registries.conf`` (v2) ``[[registry.mirror]]``.

skopeo reads only ``$HOME/.config/containers/registries.conf`` (it ignores CONTAINERS_REGISTRIES_CONF),
so each pull runs with its own HOME. Two set-ups: the mirror as the registry's host (requests carry no
hint: the dfdaemon's default upstream), and the multi-registry form where the mirror location carries
the registry's name as a path prefix (``127.0.0.1:65001/<name>``). The copied image directory is
byte-identical to a copy straight from the registry.
"""
from __future__ import annotations

import filecmp
import os
import subprocess

import pytest

from .conftest import require_tools

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEAD_UPSTREAM = "http://127.0.0.1:1"


@pytest.fixture(autouse=True)
def _needs_skopeo():
    require_tools("skopeo", "docker-registry")


def registries_conf(entries) -> str:
    """registries.conf v2 text for ``entries`` = [(prefix, location, mirror_location), ...]."""
    out = ["unqualified-search-registries = []", ""]
    for prefix, location, mirror in entries:
        out += ["[[registry]]", f'prefix = "{prefix}"', f'location = "{location}"', "insecure = true",
                "", "[[registry.mirror]]", f'location = "{mirror}"', "insecure = true", ""]
    return "\n".join(out)


def skopeo_copy(home: str, src: str, dest_dir: str, conf: str | None = None) -> None:
    os.makedirs(os.path.join(home, ".config", "containers"), exist_ok=True)
    if conf is not None:
        with open(os.path.join(home, ".config", "containers", "registries.conf"), "w") as f:
            f.write(conf)
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(HOME=home, XDG_RUNTIME_DIR=home)
    argv = ["skopeo", "copy", "--retry-times", "0", "--src-tls-verify=false", f"docker://{src}", f"dir:{dest_dir}"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, f"{' '.join(argv)}: {res.stderr.strip()}"


def assert_same_dir(a: str, b: str) -> None:
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b))
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def read_log(dfd) -> str:
    with open(dfd.log_path, errors="replace") as f:
        return f.read()


def test_skopeo_pull_through_mirror_is_identical_to_direct(registry_factory, oci_image_factory, supernode,
                                                          dfdaemon_factory, tmp_path):
    reg = registry_factory("plain")
    img = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=41)
    reg.push(img, "library/skopeo-one", tag="v1")
    dfd = dfdaemon_factory(nodes=[supernode.node], remote=reg.url)
    conf = registries_conf([(reg.host, reg.host, f"127.0.0.1:{dfd.port}")])

    ref = f"{reg.host}/library/skopeo-one:v1"
    skopeo_copy(str(tmp_path / "home-mirror"), ref, str(tmp_path / "via-mirror"), conf)
    skopeo_copy(str(tmp_path / "home-direct"), ref, str(tmp_path / "direct"))

    assert_same_dir(str(tmp_path / "via-mirror"), str(tmp_path / "direct"))
    log = read_log(dfd)
    assert '"GET /v2/library/skopeo-one/manifests/v1 HTTP/1.1" 200' in log, log[-3000:]
    assert dfd.metric("dragonfly_dfdaemon_blob_downloads_total") == len(img.blobs)
    assert dfd.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") >= sum(b.size for b in img.layers)


def _two_registries_through_path_prefixes(registry_factory, oci_image_factory, supernode, dfdaemon_factory,
                                         tmp_path, default_upstream: str) -> None:
    reg_a, reg_b = registry_factory("plain"), registry_factory("plain")
    img_a = oci_image_factory(layers=1, layer_size=1 << 20, tag="v1", seed=42)
    img_b = oci_image_factory(layers=1, layer_size=1 << 20, tag="v1", seed=43)
    reg_a.push(img_a, "proj/alpha", tag="v1")
    reg_b.push(img_b, "proj/beta", tag="v1")
    # registry names in a mirror path cannot carry a port: the dfdaemon maps a name to each registry URL
    names = {"registry-a.test": reg_a, "registry-b.test": reg_b}
    dfd = dfdaemon_factory(nodes=[supernode.node], remote=default_upstream,
                           registries=[{"name": n, "url": r.url} for n, r in names.items()])
    mirror = f"127.0.0.1:{dfd.port}"
    conf = registries_conf([(n, r.host, f"{mirror}/{n}") for n, r in names.items()])

    pulls = (("registry-a.test", "proj/alpha"), ("registry-b.test", "proj/beta"))
    for name, repo in pulls:
        local = repo.replace("/", "-")
        skopeo_copy(str(tmp_path / "home-mirror"), f"{name}/{repo}:v1", str(tmp_path / f"{local}-mirror"), conf)
        skopeo_copy(str(tmp_path / "home-direct"), f"{names[name].host}/{repo}:v1", str(tmp_path / f"{local}-direct"))
        assert_same_dir(str(tmp_path / f"{local}-mirror"), str(tmp_path / f"{local}-direct"))

    # skopeo falls back to the registry itself when the mirror fails: prove the mirror served both
    log = read_log(dfd)
    for name, repo in pulls:
        assert f'"GET /v2/{name}/{repo}/manifests/v1 HTTP/1.1" 200' in log, log[-3000:]
        assert f"passthrough upstream={name} method=GET path=/v2/{repo}/manifests/v1" in log, log[-3000:]
    assert dfd.metric("dragonfly_dfdaemon_blob_downloads_total") == len(img_a.blobs) + len(img_b.blobs)


def test_skopeo_path_prefix_mirror_for_two_registries(registry_plain, registry_factory, oci_image_factory,
                                                     supernode, dfdaemon_factory, tmp_path):
    """The default upstream (here an empty third registry) answers skopeo's ``GET /v2/`` ping."""
    _two_registries_through_path_prefixes(registry_factory, oci_image_factory, supernode, dfdaemon_factory,
                                          tmp_path, default_upstream=registry_plain.url)


def test_skopeo_path_prefix_mirror_with_unreachable_default(registry_factory, oci_image_factory, supernode,
                                                           dfdaemon_factory, tmp_path):
    _two_registries_through_path_prefixes(registry_factory, oci_image_factory, supernode, dfdaemon_factory,
                                          tmp_path, default_upstream=DEAD_UPSTREAM)
