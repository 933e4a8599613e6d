"""Issue 4, proof 1: a real docker-registry notifies the supernode while ``skopeo copy`` pushes an image;
the supernode preheats every blob of it; then three hosts pull the image with skopeo through their own
dfdaemon (a ``registries.conf`` mirror) and the registry serves none of the blobs again.

The registry is reached only through a counting front (the supernode fetches through it, the dfdaemons'
upstream is it, and skopeo names it as the registry, so even a mirror miss would be counted there).
"""
from __future__ import annotations

import hashlib
import os

import pytest

from .stack import full_gets, skopeo_pull_via_mirror

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOTIFY_AUTH = "Bearer registry-notify-e2e"
REPO = "e2e/pushed-app"


def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def test_pushed_image_is_preheated_and_three_hosts_pull_it_without_the_registry(
        webhook_supernode, registry_factory, counting_front, oci_image_factory, dfdaemon_factory, tmp_path):
    sn = webhook_supernode(webhooks={"registry_auth": [NOTIFY_AUTH]})
    endpoint = {"name": "supernode", "url": f"{sn.url}/api/v1/webhooks/registry",
                "headers": {"Authorization": NOTIFY_AUTH}, "timeout": "3s", "ignore": {"actions": ["pull"]}}
    reg = registry_factory(mode="plain", notifications=[endpoint])
    front = counting_front(reg)
    # the registry's events name the host skopeo pushed to; the supernode reaches it through the front
    sn.webhooks["registry_hosts"] = {reg.host: front.host}
    sn.preheat["registries"] = [{"host": front.host, "scheme": "http"}]
    sn.start()

    image = oci_image_factory(layers=3, layer_size=1 << 20, tag="v1", seed=4101)
    reg.push(image, REPO, tag="v1")                                   # skopeo copy oci: -> docker://

    url = f"http://{front.host}/v2/{REPO}/manifests/v1"
    rec = sn.wait_images([url])[url]
    assert rec["status"] == "SUCCESS", rec
    by_id = {r["ID"]: r for r in sn.records()}
    children = [by_id[c] for c in rec["children"]]
    assert sorted(c["url"] for c in children) == sorted(
        f"http://{front.host}/v2/{REPO}/blobs/{b.digest}" for b in image.blobs)
    assert all(c["status"] == "SUCCESS" for c in children), children
    assert rec["bytes"] == sum(b.size for b in image.blobs)
    for blob in image.blobs:
        assert full_gets(front, blob.digest) == 1, blob
    served = {b.digest: front.bytes_served(b.digest) for b in image.blobs}
    assert all(served[b.digest] <= b.size + 1 for b in image.blobs), served     # once (+ a 1-byte probe)

    hosts = [dfdaemon_factory(nodes=[sn.node], remote=front.url) for _ in range(3)]
    for i, host in enumerate(hosts):
        dest = str(tmp_path / f"pulled-{i}")
        skopeo_pull_via_mirror(str(tmp_path / f"home-{i}"), front.host, f"127.0.0.1:{host.port}",
                               f"{REPO}:v1", dest)
        with open(os.path.join(dest, "manifest.json"), "rb") as f:
            assert f.read() == image.manifest_bytes
        for blob in image.blobs:
            assert file_digest(os.path.join(dest, blob.digest.split(":", 1)[1])) == blob.digest

    # the registry served no blob body after the preheat: every byte came from the CDN or the peers
    assert {b.digest: front.bytes_served(b.digest) for b in image.blobs} == served
    for blob in image.blobs:
        assert full_gets(front, blob.digest) == 1, blob
    for host in hosts:
        assert host.metric("dragonfly_dfdaemon_blob_downloads_total") == len(image.blobs), host.log_tail()
        assert host.metric("dragonfly_dfdaemon_blob_bytes_total", source="direct") == 0, host.log_tail()
        assert host.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") == sum(b.size for b in image.blobs)
