"""Lazy pulling through the mirror: a Range for the tail of a cold blob is answered while the download of the
whole blob is held back at the origin, then the blob completes once through the single flight. Real registry,
real supernode, real dfdaemon; the counting front plays an origin that is slow for whole blobs."""
from __future__ import annotations

import os

import pytest
import requests

from .mirror_stack import pull_blob, sha256

pytestmark = pytest.mark.slow

TAIL = 64 << 10


def _blob_bytes(img, blob) -> bytes:
    with open(os.path.join(img.path, "blobs", *blob.digest.split(":")), "rb") as f:
        return f.read()


@pytest.mark.parametrize("mode", ["p2p", "direct"])
def test_a_cold_tail_range_is_answered_before_the_blob_arrives(registry_plain, oci_image_factory, counting_front,
                                                               supernode, dfdaemon_factory, mode):
    img = oci_image_factory(layers=1, layer_size=40 << 20, seed=51 if mode == "p2p" else 52)
    repo = f"lazy/{mode}"
    registry_plain.push(img, repo)
    layer = img.layers[0]
    data = _blob_bytes(img, layer)
    front = counting_front(registry_plain)
    host = dfdaemon_factory(nodes=[supernode.node], remote=front.url,
                            extra={"registry_mirror": {"remote": front.url, "direct": mode == "direct"}})
    front.hold(ungated_from=layer.size - 2 * TAIL)        # whole-blob downloads stall after their first block
    try:
        r = requests.get(f"{host.url}/v2/{repo}/blobs/{layer.digest}", headers={"Range": f"bytes=-{TAIL}"},
                         timeout=60)
        # answered while the download was held: it can only have come from the lazy range read
        assert r.status_code == 206, r.text[:300]
        assert r.content == data[-TAIL:]
        assert r.headers["Content-Range"] == f"bytes {layer.size - TAIL}-{layer.size - 1}/{layer.size}"
        assert host.cached_files() == [] or all(".incoming" in p for p in host.cached_files())
        trace = requests.get(f"{host.url}/debug/pulls", timeout=10).json()["pulls"][0]
        assert trace["source"] == "range" and trace["bytes_from"] == {"origin": TAIL}
        assert host.metric("dragonfly_dfdaemon_lazy_ranges_total") == 1
    finally:
        front.release()
    # the background download goes on: the whole blob arrives once, verified, and is served from the cache
    assert sha256(pull_blob(host.url, repo, layer.digest, timeout=120)) == layer.digest
    # the origin sent the blob once (in one or several ranges of the CDN) plus the tail range (+ a 1-byte probe)
    assert layer.size + TAIL <= front.bytes_served(layer.digest) <= layer.size + TAIL + 1


def test_a_range_near_the_download_waits_for_it(registry_plain, oci_image_factory, supernode, dfdaemon_factory):
    img = oci_image_factory(layers=1, layer_size=4 << 20, seed=53)
    registry_plain.push(img, "lazy/near")
    layer = img.layers[0]
    data = _blob_bytes(img, layer)
    host = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url)
    r = requests.get(f"{host.url}/v2/lazy/near/blobs/{layer.digest}", headers={"Range": "bytes=100-4195"},
                     timeout=60)
    assert r.status_code == 206 and r.content == data[100:4196]
    trace = requests.get(f"{host.url}/debug/pulls", timeout=10).json()["pulls"][0]
    assert trace["source"] == "p2p"                        # within the gap: served from the download
    assert host.metric("dragonfly_dfdaemon_lazy_ranges_total") == 0
