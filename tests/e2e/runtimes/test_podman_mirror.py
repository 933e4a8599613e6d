"""podman (Debian's, rootful) pulls through the dfdaemon configured as a ``registries.conf`` mirror.

Each pull gets its own storage (``--root``/``--runroot``, vfs driver) and its own registries.conf through
``CONTAINERS_REGISTRIES_CONF``, so nothing of the host's podman set-up is read or changed. The multi-registry
form of docs/runtimes.md is used: the mirror location carries the dfdaemon's port-less name of the registry as a
path prefix. podman falls back to the registry when the mirror fails, so the dfdaemon's log and metrics prove
the mirror served the pull; the image podman stored is compared with a pull straight from the registry.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import require_root, require_tools, short_tmpdir
from .test_skopeo_mirror import read_log, registries_conf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


@pytest.fixture(autouse=True)
def _needs_podman():
    require_root()
    require_tools("podman", "docker-registry")


class Podman:
    """``podman`` with throw-away storage and configuration under one directory."""

    def __init__(self, workdir: str, conf: str | None = None):
        self.workdir = workdir
        for d in ("root", "runroot", "tmp"):
            os.makedirs(os.path.join(workdir, d), exist_ok=True)
        self.policy = os.path.join(workdir, "policy.json")
        with open(self.policy, "w") as f:
            json.dump(POLICY, f)
        self.registries = os.path.join(workdir, "registries.conf")
        with open(self.registries, "w") as f:
            f.write(conf if conf is not None else 'unqualified-search-registries = []\n')

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
        env.update(CONTAINERS_REGISTRIES_CONF=self.registries, HOME=self.workdir)
        argv = ["podman", "--root", os.path.join(self.workdir, "root"),
                "--runroot", os.path.join(self.workdir, "runroot"), "--tmpdir", os.path.join(self.workdir, "tmp"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        assert res.returncode == 0, f"{' '.join(argv)}: {res.stderr.strip()[-3000:]}"
        return res

    def pull(self, ref: str, tls_verify: bool = True) -> dict:
        extra = [] if tls_verify else ["--tls-verify=false"]
        self.run("pull", "--signature-policy", self.policy, *extra, ref)
        (info,) = json.loads(self.run("image", "inspect", ref).stdout)
        return info

    def stop(self) -> None:
        subprocess.run(["podman", "--root", os.path.join(self.workdir, "root"),
                        "--runroot", os.path.join(self.workdir, "runroot"), "--storage-driver", "vfs",
                        "system", "reset", "--force"], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", self.workdir], check=False)


@pytest.fixture
def podman_factory():
    made = []

    def make(conf: str | None = None) -> Podman:
        p = Podman(short_tmpdir("dfrt-pm-"), conf)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_podman_pull_through_path_prefix_mirror_is_identical_to_direct(
        registry_factory, oci_image_factory, supernode, dfdaemon_factory, podman_factory):
    reg = registry_factory("plain")
    img = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=61)
    reg.push(img, "team/podman-app", tag="v1")
    name = "registry.lab"                        # the dfdaemon's port-less name of the registry
    dfd = dfdaemon_factory(nodes=[supernode.node], remote=reg.url, registries=[{"name": name, "url": reg.url}])
    conf = registries_conf([(name, reg.host, f"127.0.0.1:{dfd.port}/{name}")])

    via_mirror = podman_factory(conf).pull(f"{name}/team/podman-app:v1")
    direct = podman_factory().pull(f"{reg.host}/team/podman-app:v1", tls_verify=False)

    assert via_mirror["Id"] == direct["Id"]
    assert via_mirror["Digest"] == direct["Digest"] == img.manifest.digest
    assert via_mirror["RootFS"]["Layers"] == direct["RootFS"]["Layers"] and len(direct["RootFS"]["Layers"]) == 2
    log = read_log(dfd)
    assert f'"GET /v2/{name}/team/podman-app/manifests/v1 HTTP/1.1" 200' in log, log[-3000:]
    assert f"passthrough upstream={name} method=GET path=/v2/team/podman-app/manifests/v1" in log, log[-3000:]
    assert dfd.metric("dragonfly_dfdaemon_blob_downloads_total") == len(img.blobs)
    assert dfd.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") >= sum(b.size for b in img.layers)
    assert dfd.metric("dragonfly_dfdaemon_registry_requests_total", registry=name, kind="blobs") >= len(img.blobs)
