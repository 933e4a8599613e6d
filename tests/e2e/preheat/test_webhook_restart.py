"""Issue 4, webhooks' durability: deliveries answered 202 just before the supernode stops (a clean SIGTERM)
or dies (SIGKILL) are still preheated once it runs again, from its durable queue; nothing is lost, nothing
is dead-lettered, and a redelivery after the restarts is still recognised as a duplicate.

Back-to-source is throttled to 1 MiB/s (layers of 1.5 MiB) while the deliveries arrive, so that work is
still queued when the process goes away (checked in the queue's file before each restart)."""
from __future__ import annotations

import pytest
import requests

from tests.unit.webhooks.webhook_payloads import envelope, harbor_default, registry_event

from .stack import push_image_http, queue_counts, queue_errors, wait_queue_drained

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HARBOR_AUTH = "harbor-restart-s3cr3t"
REGISTRY_AUTH = "Bearer registry-restart-s3cr3t"
THROTTLED = {"max_bandwidth": "21MB", "system_bandwidth": "20MB"}      # back-to-source: 1 MiB/s
UNTHROTTLED = {"max_bandwidth": "200MB", "system_bandwidth": "20MB"}
PER_PHASE = 5


def deliver(sn, repo: str, image, host: str, registry_format: bool) -> dict:
    if registry_format:
        r = requests.post(f"{sn.url}/api/v1/webhooks/registry",
                          json=envelope(registry_event(repo, image.manifest.digest, "v1",
                                                       media_type=image.manifest.media_type, host=host)),
                          headers={"Authorization": REGISTRY_AUTH}, timeout=(3, 5))
    else:
        r = requests.post(f"{sn.url}/api/v1/webhooks/harbor",
                          json=harbor_default(repo, image.manifest.digest, "v1", host=host),
                          headers={"Authorization": HARBOR_AUTH}, timeout=(3, 5))
    assert r.status_code == 202, r.text
    return r.json()


def test_accepted_deliveries_survive_stop_and_crash(webhook_supernode, registry_plain, counting_front,
                                                    oci_image_factory):
    front = counting_front(registry_plain)
    sn = webhook_supernode(webhooks={"harbor_auth": [HARBOR_AUTH], "registry_auth": [REGISTRY_AUTH]},
                           preheat={"registries": [{"host": front.host, "scheme": "http"}]}, base=THROTTLED)
    images = {}
    for i in range(2 * PER_PHASE):
        image = oci_image_factory(layers=1, layer_size=3 << 19, tag="v1", seed=6300 + i)
        repo = f"restart/app{i}"
        push_image_http(registry_plain.url, repo, image, "v1")
        images[repo] = image
    repos = sorted(images)

    # phase 1: deliveries accepted, then a clean stop right away
    sn.start()
    for n, repo in enumerate(repos[:PER_PHASE]):
        assert deliver(sn, repo, images[repo], front.host, registry_format=n % 2 == 0)["queued"] == 1
    sn.stop()
    assert sn.exit_code == 0 and "supernode stopped" in sn.log_tail(), sn.log_tail()   # a clean stop
    counts = queue_counts(sn.queue_path)
    assert counts["ready"] + counts["claimed"] >= 1, counts            # work was still pending at the stop
    assert sum(counts.values()) == PER_PHASE and counts["dead"] == 0, counts
    assert queue_errors(sn.queue_path) == []        # the preheat cut short by the stop was handed back as is

    # phase 2: the restarted supernode accepts more, then is killed
    sn.start()
    for n, repo in enumerate(repos[PER_PHASE:]):
        assert deliver(sn, repo, images[repo], front.host, registry_format=n % 2 == 1)["queued"] == 1
    sn.kill()
    counts = queue_counts(sn.queue_path)
    assert counts["ready"] + counts["claimed"] >= 1, counts
    assert sum(counts.values()) == 2 * PER_PHASE and counts["dead"] == 0, counts

    # phase 3: after one more restart every accepted push is preheated
    sn.base = UNTHROTTLED
    sn.start()
    # drained first: records interrupted by the stops stay FAILED until their event runs again
    counts = wait_queue_drained(sn.queue_path, len(repos), timeout=240)
    assert counts == {"ready": 0, "claimed": 0, "done": len(repos), "dead": 0}, counts
    urls = {f"http://{front.host}/v2/{repo}/manifests/v1": repo for repo in repos}
    recs = sn.wait_images(urls, timeout=60)
    assert all(r["status"] == "SUCCESS" for r in recs.values()), [r for r in recs.values()
                                                                    if r["status"] != "SUCCESS"]
    by_id = {r["ID"]: r for r in sn.records()}
    for url, rec in recs.items():
        image = images[urls[url]]
        assert rec["bytes"] == sum(b.size for b in image.blobs)
        assert all(by_id[c]["status"] == "SUCCESS" for c in rec["children"]), rec
    assert len(sn.image_records()) == len(repos)

    # the dedup window outlives the restarts: Harbor's redelivery of an old push is absorbed
    again = deliver(sn, repos[0], images[repos[0]], front.host, registry_format=False)
    assert again == {"accepted": 1, "queued": 0, "duplicates": 1, "ignored": 0}
