"""Fixtures for real container runtimes pulling through the dfdaemon mirror.

Everything runs in throw-away directories and is always stopped: containerd (root namespace; its
images are named by 127.0.0.1 registries, so a mirror miss can only fall back to those), and for
dockerd a whole stack in a loopback-only network namespace (registry, supernode, dfdaemon, dockerd),
because dockerd's ``registry-mirrors`` only serve Docker Hub names and a mirror miss falls back to
Docker Hub. Tests skip with the reason when not root or when a runtime is not installed.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.e2e.p2p_stack import SupernodeProcess
from tests.fixtures.registry import Registry
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess

from .daemons import ContainerdProcess, DockerdProcess
from .images import BUSYBOX
from .netns import Netns

BLOB_INFO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"
PROXY_ADDR = "10.213.0.1"     # a non-loopback address on the namespace's lo: Go clients use HTTP_PROXY for it


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, containerd and dockerd)")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (make test installs them: scripts/install-system-deps.sh)")


def short_tmpdir(prefix: str) -> str:
    """A short directory under /tmp: unix socket paths must stay under 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


@pytest.fixture(scope="session", autouse=True)
def _skopeo_blob_info_cache():
    """skopeo run as root writes a blob-info cache outside any test dir: remove it if the tests made it."""
    existed = os.path.exists(BLOB_INFO_CACHE)
    yield
    if not existed and os.path.exists(BLOB_INFO_CACHE):
        os.remove(BLOB_INFO_CACHE)




@pytest.fixture
def containerd():
    require_root()
    require_tools("containerd", "ctr")
    ctd = ContainerdProcess(short_tmpdir("dfrt-ctd-"))
    yield ctd
    ctd.stop()


class AnyAddrRegistry(Registry):
    """A registry listening on every address of its network namespace (127.0.0.1 and PROXY_ADDR)."""

    def config(self) -> dict:
        cfg = super().config()
        cfg["http"]["addr"] = f"0.0.0.0:{self.port}"
        return cfg


class DockerStack:
    """Registry + supernode + dfdaemon (mirror and proxy mode) + dockerd, all in one netns."""

    def __init__(self, ns: Netns, registry, supernode, dfdaemon, dockerd):
        self.ns, self.registry, self.supernode, self.dfdaemon, self.dockerd = \
            ns, registry, supernode, dfdaemon, dockerd

    @property
    def proxied_host(self) -> str:
        """The registry under a name dockerd reaches through HTTP_PROXY (not a loopback address)."""
        return f"{PROXY_ADDR}:{self.registry.port}"


def _stop_all(parts) -> None:
    for part in reversed(parts):
        try:
            part.stop()
        except Exception:   # noqa: BLE001 - keep stopping the rest
            pass


def require_docker_tools() -> None:
    """Skip unless root and dockerd, docker-registry, skopeo, ip and the busybox the test images carry are here."""
    require_root()
    require_tools("dockerd", "docker-registry", "skopeo", "ip")
    if not os.path.exists(BUSYBOX):
        pytest.skip(f"{BUSYBOX} not installed (Debian busybox-static; make test installs it)")


def start_mirror_stack(tmp_path_factory, prefix: str, parts: list, *, registry_class=Registry,
                       dfdaemon_extra: dict | None = None):
    """Start a registry, a supernode and a dfdaemon mirroring that registry (inside the caller's namespace),
    appending each to ``parts`` as it starts so the caller stops whatever did start. Returns the three."""
    registry = registry_class(str(tmp_path_factory.mktemp(f"{prefix}-registry")), "plain").start()
    parts.append(registry)
    sn = SupernodeProcess(str(tmp_path_factory.mktemp(f"{prefix}-supernode")))
    parts.append(sn)
    dfd = DfdaemonProcess(str(tmp_path_factory.mktemp(f"{prefix}-dfdaemon")), nodes=[sn.node],
                          remote=registry.url, extra=dfdaemon_extra or {})
    parts.append(dfd)
    return registry, sn, dfd


@pytest.fixture(scope="module")
def docker_stack(tmp_path_factory):
    require_docker_tools()
    ns = Netns.create(extra_addrs=[f"{PROXY_ADDR}/32"])
    parts = []
    try:
        with ns.entered():
            registry, sn, dfd = start_mirror_stack(tmp_path_factory, "dk", parts, registry_class=AnyAddrRegistry,
                                                   dfdaemon_extra={"proxies": [{"regx": "blobs/sha256.*"}]})
            daemon_json = {"registry-mirrors": [dfd.url],
                           "insecure-registries": [f"{PROXY_ADDR}:{registry.port}"]}
            proxy = dfd.url
            dockerd = DockerdProcess(short_tmpdir("dfrt-dk-"), daemon_json,
                                     env={"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": ""})
            parts.append(dockerd)
        yield DockerStack(ns, registry, sn, dfd, dockerd)
    finally:
        _stop_all(parts)
        ns.delete()
