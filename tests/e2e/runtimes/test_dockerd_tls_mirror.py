"""dockerd pulls through the dfdaemon's mirror listener over TLS (``registry-mirrors: ["https://..."]``), trusting a
private test CA through ``/etc/docker/certs.d/<host:port>/ca.crt``, the place dockerd reads a registry's or a
mirror's extra CAs from (it has no daemon.json key for them); the fixture writes that file and removes it after.
Without the CA dockerd refuses the mirror (x509) and falls back to Docker Hub, which the loopback-only network
namespace makes unreachable, so the pull fails and the dfdaemon serves nothing. With it, the pulled image is the
pushed one and every layer came through P2P. The mirror listens on a non-loopback address of the namespace
(dockerd never checks certificates of 127.0.0.0/8 registries and mirrors: they are insecure registries by
default), with ``allowed_clients`` naming it."""
from __future__ import annotations

import os
import shutil

import docker
import pytest

from dfcommon.tls import make_test_pki
from .conftest import _stop_all, require_docker_tools, short_tmpdir, start_mirror_stack
from .daemons import DockerdProcess
from .images import build_busybox_image
from .netns import Netns
from .test_containerd_tls_mirror import tls_metric

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CERTS_D = "/etc/docker/certs.d"
# dockerd treats 127.0.0.0/8 as an insecure registry (no certificate check at all, for mirrors too), so a
# mirror on loopback would prove nothing: the dfdaemon listens on a non-loopback address of the namespace
MIRROR_ADDR = "10.213.0.2"


@pytest.fixture(scope="module")
def tls_docker_stack(tmp_path_factory):
    require_docker_tools()
    created = [d for d in ("/etc/docker", CERTS_D) if not os.path.exists(d)]     # removed again after
    pki = make_test_pki(str(tmp_path_factory.mktemp("dk-tls-pki")), names=(MIRROR_ADDR, "127.0.0.1"))
    ns = Netns.create(extra_addrs=[f"{MIRROR_ADDR}/32"])
    parts = []
    try:
        with ns.entered():
            registry, _sn, dfd = start_mirror_stack(
                tmp_path_factory, "dk-tls", parts,
                dfdaemon_extra={"certpem": pki["cert"], "keypem": pki["key"], "host_ip": "0.0.0.0",
                                "allowed_clients": [f"{MIRROR_ADDR}/32"]})
            mirror_host = f"{MIRROR_ADDR}:{dfd.port}"
            dockerd = DockerdProcess(short_tmpdir("dfrt-dktls-"), {"registry-mirrors": [f"https://{mirror_host}"]})
            parts.append(dockerd)
        cert_dir = os.path.join(CERTS_D, mirror_host)
        yield {"ns": ns, "registry": registry, "dfdaemon": dfd, "dockerd": dockerd, "pki": pki,
               "cert_dir": cert_dir}
    finally:
        _stop_all(parts)
        ns.delete()
        if "cert_dir" in locals():
            shutil.rmtree(cert_dir, ignore_errors=True)
        for d in reversed(created):
            try:
                os.rmdir(d)
            except OSError:
                pass


def test_dockerd_pulls_through_a_tls_mirror_trusting_a_private_ca(tls_docker_stack, tmp_path):
    s = tls_docker_stack
    dfd, pki, cert_dir = s["dfdaemon"], s["pki"], s["cert_dir"]
    image = build_busybox_image(str(tmp_path / "bbtls"), name="bbtls", tag="v1")
    with s["ns"].entered():
        s["registry"].push(image, "library/bbtls", tag="v1")
    client = s["dockerd"].client()
    try:
        assert f"https://{MIRROR_ADDR}:{dfd.port}/" in client.info()["RegistryConfig"]["Mirrors"]
        # no CA for the mirror: dockerd refuses its certificate and tries Docker Hub, unreachable here
        assert not os.path.exists(cert_dir)
        with pytest.raises(docker.errors.APIError):
            client.images.pull("library/bbtls", tag="v1")
        assert "certificate signed by unknown authority" in s["dockerd"].log_tail(200000)
        with s["ns"].entered():
            assert tls_metric(dfd.port, pki["ca"], "dragonfly_dfdaemon_blob_downloads_total") == 0

        # the CA in certs.d (read at every pull, no restart): the pull goes through the mirror
        os.makedirs(cert_dir, exist_ok=True)
        shutil.copyfile(pki["ca"], os.path.join(cert_dir, "ca.crt"))
        pulled = client.images.pull("library/bbtls", tag="v1")
        assert pulled.id == image.config.digest
        assert pulled.attrs["RepoDigests"] and all(d.endswith("@" + image.manifest.digest)
                                                   for d in pulled.attrs["RepoDigests"])
        with s["ns"].entered():
            p2p = tls_metric(dfd.port, pki["ca"], "dragonfly_dfdaemon_blob_bytes_total", source="p2p")
            direct = tls_metric(dfd.port, pki["ca"], "dragonfly_dfdaemon_blob_bytes_total", source="direct")
        assert p2p >= sum(b.size for b in image.layers) and direct == 0, (p2p, direct)
        out = client.containers.run("bbtls:v1", ["/bin/cat", "/etc/image-name"], network_mode="none", remove=True)
        assert out.decode().strip() == "bbtls"
        client.images.remove(pulled.id, force=True)
    finally:
        client.close()
