"""Webhook-driven preheats on a real supernode process: a real docker-registry notifies the supernode
while skopeo pushes, and Harbor's Default and CloudEvents deliveries (with redeliveries) are replayed;
each image is preheated once, and a later dfget is served from the CDN alone."""
import hashlib
import time

import pytest
import requests

from tests.unit.webhooks.webhook_payloads import harbor_cloudevent, harbor_default

from .conftest import dfget_blob

pytestmark = pytest.mark.e2e
NOTIFY_AUTH = "Bearer registry-notify-s3cr3t"
HARBOR_AUTH = "harbor-hook-s3cr3t"


def wait_served(front, blobs, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(front.bytes_served(b.digest) >= b.size for b in blobs):
            return True
        time.sleep(0.2)
    return False


def wait_records(sn, count, timeout=90.0):
    """Wait until ``count`` records exist and every one of them is finished; returns the list."""
    deadline = time.monotonic() + timeout
    while True:
        recs = sn.get("/api/v1/preheats").json()
        if (len(recs) >= count and all(r["status"] in ("SUCCESS", "FAILED") for r in recs)) \
                or time.monotonic() > deadline:
            return recs
        time.sleep(0.2)


def test_registry_notifications_preheat_every_blob(supernode_factory, registry_factory, counting_front,
                                                   oci_image_factory, tmp_path):
    sn = supernode_factory(webhooks={"registry_auth": [NOTIFY_AUTH]}, start=False)
    endpoint = {"name": "supernode", "url": f"{sn.url}/api/v1/webhooks/registry",
                "headers": {"Authorization": NOTIFY_AUTH}, "timeout": "3s", "ignore": {"actions": ["pull"]}}
    reg = registry_factory(mode="plain", notifications=[endpoint])
    front = counting_front(reg)
    # events name the registry as pushed to; the supernode fetches through the counting front (plain http)
    sn.webhooks["registry_hosts"] = {reg.host: front.host}
    sn.preheat["registries"] = [{"host": front.host, "scheme": "http"}]
    sn.start()

    image = oci_image_factory(layers=2, layer_size=200 << 10, tag="v1", seed=301)
    reg.push(image, "hooks/app", tag="v1")
    assert wait_served(front, image.blobs), sn.log_tail()
    recs = wait_records(sn, 1 + len(image.blobs))
    assert all(r["status"] == "SUCCESS" for r in recs), recs
    for blob in image.blobs:
        assert front.bytes_served(blob.digest) <= blob.size + 1      # once (plus a 1-byte range probe)
    before = {b.digest: front.bytes_served(b.digest) for b in image.blobs}
    layer = image.layers[1]
    res, out = dfget_blob(tmp_path, sn.node, f"{front.url}/v2/hooks/app/blobs/{layer.digest}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest() == layer.digest
    assert {b.digest: front.bytes_served(b.digest) for b in image.blobs} == before


def test_harbor_deliveries_preheat_each_image_once(supernode_factory, registry_token, token_server,
                                                    counting_front, oci_image_factory):
    front = counting_front(registry_token)
    user, pw = registry_token.credentials
    sn = supernode_factory(webhooks={"harbor_auth": [HARBOR_AUTH]},
                           preheat={"registries": [{"host": front.host, "scheme": "http",
                                                    "username": user, "password": pw}]})
    token_server.permissions[""] = {}                  # private: anonymous pulls are refused
    image = oci_image_factory(layers=2, layer_size=128 << 10, tag="v1", seed=302)
    registry_token.push(image, "proj/private/app", tag="v1")
    index = oci_image_factory(layers=1, layer_size=64 << 10, tag="multi", seed=303,
                              platforms=["linux/amd64", "linux/arm64"])
    registry_token.push(index, "proj/multi", tag="multi")

    hook = {"Authorization": HARBOR_AUTH}
    deliveries = [
        (harbor_default("proj/private/app", image.manifest.digest, "v1", host=front.host), "application/json"),
        (harbor_default("proj/private/app", image.manifest.digest, "v1", host=front.host), "application/json"),
        (harbor_cloudevent("proj/private/app", image.manifest.digest, "v1", host=front.host),
         "application/cloudevents+json"),
    ]
    # a multi-arch push: one event per child (by digest) and one for the index (by tag), the index twice
    for img in index.images.values():
        deliveries.append((harbor_default("proj/multi", img.manifest.digest, None, host=front.host),
                           "application/json"))
    deliveries += [(harbor_default("proj/multi", index.index.digest, "multi", host=front.host),
                    "application/json")] * 2
    for body, ctype in deliveries:
        r = requests.post(f"{sn.url}/api/v1/webhooks/harbor", json=body,
                          headers={**hook, "Content-Type": ctype}, timeout=(3, 3))
        assert r.status_code == 202, r.text
    bad = requests.post(f"{sn.url}/api/v1/webhooks/harbor", json=deliveries[0][0], timeout=(3, 3))
    assert bad.status_code == 401

    blobs = list(image.blobs) + [b for img in index.images.values() for b in img.blobs]
    assert wait_served(front, blobs), sn.log_tail()
    images = 1 + len(index.images) + 1
    recs = wait_records(sn, images + len({b.digest for b in blobs}))
    assert all(r["status"] == "SUCCESS" for r in recs), recs
    assert len([r for r in recs if "/manifests/" in r["url"]]) == images
    for blob in blobs:
        assert front.bytes_served(blob.digest) <= blob.size + 1, blob
