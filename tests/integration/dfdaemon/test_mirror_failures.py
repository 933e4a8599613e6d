"""Failures during a pull: the origin, the supernode or a peer goes away. The pull completes or fails
with an OCI error, never hangs, and no cache keeps a partial or unverified blob."""
from __future__ import annotations

import hashlib
import os

import pytest
import requests

from .mirror_stack import pull_blob, sha256

pytestmark = pytest.mark.slow


def assert_cache_clean(*hosts) -> None:
    for host in hosts:
        assert host.incoming_files() == [], host.incoming_files()
        for path in host.cached_files():
            if os.sep + ".incoming" + os.sep in path:
                continue
            with open(path, "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == os.path.basename(path)


def test_origin_down_mid_pull_fails_with_oci_error(registry_factory, oci_image_factory, supernode,
                                                   dfdaemon_factory):
    reg = registry_factory("plain")
    img = oci_image_factory(layers=2, layer_size=1 << 20, seed=21)
    reg.push(img, "fail/origin")
    host = dfdaemon_factory(nodes=[supernode.node], remote=reg.url)
    r = requests.get(f"{host.url}/v2/fail/origin/manifests/latest", headers={"Accept": img.manifest.media_type},
                     timeout=10)
    assert r.status_code == 200
    first = img.blobs[0]
    assert sha256(pull_blob(host.url, "fail/origin", first.digest)) == first.digest
    reg.stop()                                   # the origin goes away between two layers
    for blob in img.blobs[1:]:
        r = requests.get(f"{host.url}/v2/fail/origin/blobs/{blob.digest}", timeout=60)
        assert r.status_code in (502, 503), r.text
        assert r.json()["errors"][0]["code"] == "UPSTREAM_ERROR"
    # what was verified stays servable; nothing partial is left
    assert sha256(pull_blob(host.url, "fail/origin", first.digest)) == first.digest
    assert_cache_clean(host)


def test_supernode_down_falls_back_to_the_origin(registry_plain, oci_image_factory, supernode, dfdaemon_factory):
    img = oci_image_factory(layers=2, layer_size=1 << 20, seed=22)
    registry_plain.push(img, "fail/supernode")
    host = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url)
    supernode.stop()
    for blob in img.blobs:
        assert sha256(pull_blob(host.url, "fail/supernode", blob.digest)) == blob.digest
    assert host.metric("dragonfly_dfdaemon_blob_bytes_total", source="direct") == sum(b.size for b in img.blobs)
    assert_cache_clean(host)


def test_peer_gone_the_next_host_still_completes(registry_plain, oci_image_factory, supernode, dfdaemon_factory):
    img = oci_image_factory(layers=1, layer_size=3 << 20, seed=23)
    registry_plain.push(img, "fail/peer")
    first = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url)
    second = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url)
    layer = img.layers[0]
    assert sha256(pull_blob(first.url, "fail/peer", layer.digest)) == layer.digest
    first.proc.kill()                             # the peer holding the pieces vanishes without a goodbye
    first.proc.wait()
    assert sha256(pull_blob(second.url, "fail/peer", layer.digest, timeout=120)) == layer.digest
    assert_cache_clean(second)


def test_unknown_blob_is_blob_unknown(registry_plain, supernode, dfdaemon_factory):
    host = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url)
    missing = "sha256:" + "0" * 64
    r = requests.get(f"{host.url}/v2/fail/none/blobs/{missing}", timeout=60)
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] in ("BLOB_UNKNOWN", "NAME_UNKNOWN")
    assert_cache_clean(host)
