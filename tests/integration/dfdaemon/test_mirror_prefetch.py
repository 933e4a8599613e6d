"""Layer prefetch: once a client got an image manifest through the mirror, the supernode fetches every blob
of it from the origin (once, one after another) before the client asks; later pulls join those tasks."""
from __future__ import annotations

import time

import pytest
import requests

from .mirror_stack import get_token, pull_blob, sha256

pytestmark = pytest.mark.slow


def full_gets(front, digest: str) -> int:
    return sum(1 for q in front.requests
               if q.method == "GET" and q.path.endswith("/blobs/" + digest) and q.status == 200)


def image_preheats(supernode) -> list[dict]:
    return [r for r in requests.get(f"http://{supernode.node}/preheats", timeout=5).json() if "/manifests/" in r["url"]]


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_a_served_manifest_warms_every_blob_once_before_the_client_asks(registry_token, token_server,
                                                                       oci_image_factory, counting_front,
                                                                       supernode, dfdaemon_factory):
    token_server.permissions = {"": {}, "testuser": {"*": ["pull", "push"]}}
    img = oci_image_factory(layers=3, layer_size=1 << 20, seed=31)
    registry_token.push(img, "prefetch/private")
    front = counting_front(registry_token)
    host = dfdaemon_factory(nodes=[supernode.node], remote=front.url)
    auth = {"Authorization": "Bearer " + get_token(token_server, "prefetch/private", creds=("testuser", "testpass"))}

    r = requests.get(f"{host.url}/v2/prefetch/private/manifests/latest",
                     headers={**auth, "Accept": img.manifest.media_type}, timeout=10)
    assert r.status_code == 200 and r.content == img.manifest_bytes
    done = wait_for(lambda: [p for p in image_preheats(supernode) if p["status"] == "SUCCESS"])
    assert done, image_preheats(supernode)
    assert done[0]["url"].endswith(f"/v2/prefetch/private/manifests/{img.manifest.digest}")
    for blob in img.blobs:                                  # fetched by the CDN, no client asked yet
        assert full_gets(front, blob.digest) == 1, blob

    for blob in img.blobs:
        data = pull_blob(host.url, "prefetch/private", blob.digest, headers=auth)
        assert sha256(data) == blob.digest
        assert full_gets(front, blob.digest) == 1, blob     # the pull joined the warm task
    # a second manifest GET within the remember window asks for nothing more
    requests.get(f"{host.url}/v2/prefetch/private/manifests/latest",
                 headers={**auth, "Accept": img.manifest.media_type}, timeout=10)
    time.sleep(0.5)
    assert len(image_preheats(supernode)) == 1
    # prefetching changed nothing for clients without access
    r = requests.get(f"{host.url}/v2/prefetch/private/blobs/{img.layers[0].digest}", timeout=10)
    assert r.status_code == 401


def test_prefetch_off_leaves_blobs_until_a_client_asks(registry_plain, oci_image_factory, counting_front,
                                                       supernode, dfdaemon_factory):
    img = oci_image_factory(layers=3, layer_size=1 << 20, seed=32)
    registry_plain.push(img, "prefetch/off")
    front = counting_front(registry_plain)
    host = dfdaemon_factory(nodes=[supernode.node], remote=front.url, extra={"prefetch": False})
    r = requests.get(f"{host.url}/v2/prefetch/off/manifests/latest", headers={"Accept": img.manifest.media_type},
                     timeout=10)
    assert r.status_code == 200
    time.sleep(1.5)
    assert not [p for p in image_preheats(supernode) if "/prefetch/off/" in p["url"]]
    assert all(full_gets(front, b.digest) == 0 for b in img.blobs)


def test_a_supernode_that_refuses_preheat_leaves_the_pull_working(registry_plain, oci_image_factory,
                                                                 counting_front, dfdaemon_factory, tmp_path):
    from tests.fixtures.supernode_config import ConfiguredSupernode
    sn = ConfiguredSupernode(tmp_path / "sn", base={"preheat": {"auth_mode": "bearer", "auth_token": "secret"}})
    sn.start()
    try:
        img = oci_image_factory(layers=2, layer_size=1 << 20, seed=33)
        registry_plain.push(img, "prefetch/refused")
        front = counting_front(registry_plain)
        host = dfdaemon_factory(nodes=[sn.node], remote=front.url)
        r = requests.get(f"{host.url}/v2/prefetch/refused/manifests/latest",
                         headers={"Accept": img.manifest.media_type}, timeout=10)
        assert r.status_code == 200
        assert wait_for(lambda: "layer prefetch refused by supernode" in host.log_tail(20000), timeout=10)
        for blob in img.blobs:
            assert sha256(pull_blob(host.url, "prefetch/refused", blob.digest)) == blob.digest
    finally:
        sn.stop()
