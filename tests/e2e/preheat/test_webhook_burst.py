"""Issue 4, proof 5 (the burst): 1,000 webhook deliveries with duplicates, in Harbor's Default and
CloudEvents formats and as registry:2 envelopes, sent from several threads to a real supernode process
whose real preheat engine warms a real registry's images into its CDN: every distinct image is queued
once and preheated once (one image record, SUCCESS), every blob body leaves the registry once, and the
durable queue ends with every item done and none dead."""
from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.unit.webhooks.webhook_payloads import envelope, harbor_cloudevent, harbor_default, registry_event

from .stack import full_gets, push_image_http, wait_queue_drained

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IMAGES = 50
DELIVERIES = 1000
THREADS = 8
HARBOR_AUTH = "harbor-burst-s3cr3t"
REGISTRY_AUTH = "Bearer registry-burst-s3cr3t"


def build_deliveries(images: dict, host: str, seed: int = 7) -> list[tuple[str, dict, dict]]:
    """(receiver, headers, body) for DELIVERIES deliveries spread over every image, in the three formats."""
    rng = random.Random(seed)
    repos = sorted(images)
    out = []
    for n in range(DELIVERIES):
        repo = repos[n % len(repos)]                # every image at least DELIVERIES // IMAGES times
        digest = images[repo].manifest.digest
        kind = rng.choice(("default", "cloudevents", "registry"))
        if kind == "default":
            out.append(("harbor", {"Authorization": HARBOR_AUTH, "Content-Type": "application/json"},
                        harbor_default(repo, digest, "v1", host=host)))
        elif kind == "cloudevents":
            out.append(("harbor", {"Authorization": HARBOR_AUTH, "Content-Type": "application/cloudevents+json"},
                        harbor_cloudevent(repo, digest, "v1", host=host)))
        else:
            out.append(("registry", {"Authorization": REGISTRY_AUTH,
                                     "Content-Type": "application/vnd.docker.distribution.events.v2+json"},
                        envelope(registry_event(repo, digest, "v1", media_type=images[repo].manifest.media_type,
                                                host=host))))
    rng.shuffle(out)
    return out


def send_all(base_url: str, deliveries) -> list[tuple[int, dict]]:
    local = threading.local()

    def send(item):
        receiver, headers, body = item
        if not hasattr(local, "http"):
            local.http = requests.Session()
        r = local.http.post(f"{base_url}/api/v1/webhooks/{receiver}", json=body, headers=headers, timeout=(3, 10))
        return r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {})

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(send, deliveries))


def test_burst_of_deliveries_preheats_each_image_once(webhook_supernode, registry_plain, counting_front,
                                                       oci_image_factory):
    front = counting_front(registry_plain)
    sn = webhook_supernode(webhooks={"harbor_auth": [HARBOR_AUTH], "registry_auth": [REGISTRY_AUTH],
                                     "workers": 4},
                           preheat={"registries": [{"host": front.host, "scheme": "http"}]}).start()
    images = {}
    http = requests.Session()
    for i in range(IMAGES):
        image = oci_image_factory(layers=2, layer_size=24 << 10, tag="v1", seed=5200 + i)
        repo = f"burst/team{i % 5}/app{i:02d}"                     # nested repositories
        push_image_http(registry_plain.url, repo, image, "v1", http)
        images[repo] = image
    front.reset()

    results = send_all(sn.url, build_deliveries(images, front.host))
    assert [s for s, _ in results] == [202] * DELIVERIES, {s for s, _ in results}
    assert sum(b["queued"] for _, b in results) == IMAGES                 # each distinct push queued once
    assert sum(b["duplicates"] for _, b in results) == DELIVERIES - IMAGES
    assert sum(b["accepted"] for _, b in results) == DELIVERIES

    urls = {f"http://{front.host}/v2/{repo}/manifests/v1": repo for repo in images}
    recs = sn.wait_images(urls, timeout=400)
    assert all(r["status"] == "SUCCESS" for r in recs.values()), [r for r in recs.values()
                                                                    if r["status"] != "SUCCESS"][:3]
    assert len(sn.image_records()) == IMAGES                               # nothing preheated twice
    by_id = {r["ID"]: r for r in sn.records()}
    for url, rec in recs.items():
        image = images[urls[url]]
        assert len(rec["children"]) == len(image.blobs)
        assert all(by_id[c]["status"] == "SUCCESS" for c in rec["children"])
        for blob in image.blobs:
            assert full_gets(front, blob.digest) == 1, (urls[url], blob)
            assert front.bytes_served(blob.digest) <= blob.size + 1, (urls[url], blob)

    counts = wait_queue_drained(sn.queue_path, IMAGES)
    assert counts == {"ready": 0, "claimed": 0, "done": IMAGES, "dead": 0}, counts
