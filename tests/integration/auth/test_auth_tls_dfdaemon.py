"""dfdaemon -> supernode over TLS (with auth): the mirror's P2P downloads register and fetch pieces over https,
trusting the private CA in ``supernode_ca``; without the CA the supernode cannot be trusted and the mirror reads
the origin directly. Real supernode, real dfdaemon processes, real registry."""
from __future__ import annotations

import pytest
import requests

from tests.integration.auth.conftest import Supernode
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess, sha256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_supernode(tmp_path_factory, keys, pki):
    sn = Supernode(tmp_path_factory.mktemp("sn-tls-dfdaemon"), {"enabled": True, "signing_key": keys["private"],
                                                                 "tls_cert": pki["cert"], "tls_key": pki["key"]})
    yield sn
    sn.stop()


def _pull(host, repo, blob):
    r = requests.get(f"{host.url}/v2/{repo}/blobs/{blob.digest}", timeout=120)
    assert r.status_code == 200, r.text[:300]
    return r.content


def test_the_mirror_pulls_through_a_tls_supernode(tls_supernode, registry_plain, oci_image_factory, pki, mint,
                                                  tmp_path_factory):
    img = oci_image_factory(layers=1, layer_size=6 << 20, seed=61)
    registry_plain.push(img, "tls/app")
    layer = img.layers[0]
    token = mint("peer")
    trusted = DfdaemonProcess(str(tmp_path_factory.mktemp("trusted")), nodes=[tls_supernode.node],
                              remote=registry_plain.url,
                              extra={"supernode_ca": [pki["ca"]], "supernode_token": token,
                                     "upload": {"tls_cert": pki["cert"], "tls_key": pki["key"]}})
    untrusted = DfdaemonProcess(str(tmp_path_factory.mktemp("untrusted")), nodes=[tls_supernode.node],
                                remote=registry_plain.url, extra={"supernode_tls": True, "supernode_token": token})
    try:
        assert sha256(_pull(trusted, "tls/app", layer)) == layer.digest
        assert trusted.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") == layer.size
        assert trusted.metric("dragonfly_dfdaemon_blob_bytes_total", source="direct") == 0
        trace = requests.get(f"{trusted.url}/debug/pulls", timeout=10).json()["pulls"][0]
        assert trace["source"] == "p2p" and trace["bytes_from"].get("supernode", 0) > 0
        # the system roots do not know the private CA: no P2P, the origin serves the blob directly
        assert sha256(_pull(untrusted, "tls/app", layer)) == layer.digest
        assert untrusted.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") == 0
        assert "SSL" in untrusted.log_tail(200000) or "certificate" in untrusted.log_tail(200000)
    finally:
        trusted.stop()
        untrusted.stop()
