"""Issue 14 point 5 with real parts: two supernode members on one real redis-server, a real registry behind a
counting front, the same Harbor delivery POSTed to both members (and the registry:2 notification of the same
push to one of them): exactly one preheat job for the whole cluster, and each blob fetched from the registry
once. A Redis outage makes the webhook receivers answer 503 (nothing queued), and they take deliveries again
when Redis is back."""
from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.preheat.stack import full_gets, push_image_http
from tests.unit.webhooks.webhook_payloads import envelope, harbor_default, registry_event

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HARBOR_AUTH = "harbor-cluster-s3cr3t"
REGISTRY_AUTH = "Bearer registry-cluster-s3cr3t"


def _sections(front) -> dict:
    return {"webhooks": {"harbor_auth": [HARBOR_AUTH], "registry_auth": [REGISTRY_AUTH], "retry_backoff": "1s"},
            "preheat": {"registries": [{"host": front.host, "scheme": "http"}]}, "log_level": "INFO"}


def _harbor(member, repo, image, host) -> requests.Response:
    return requests.post(member.api + "/api/v1/webhooks/harbor",
                         json=harbor_default(repo, image.manifest.digest, "v1", host=host),
                         headers={"Authorization": HARBOR_AUTH}, timeout=(3, 10))


def _registry(member, repo, image, host) -> requests.Response:
    return requests.post(member.api + "/api/v1/webhooks/registry",
                         json=envelope(registry_event(repo, image.manifest.digest, "v1",
                                                      media_type=image.manifest.media_type, host=host)),
                         headers={"Authorization": REGISTRY_AUTH}, timeout=(3, 10))


def _image_records(members, url) -> dict[str, dict]:
    """Image records for ``url`` seen on any member, by id (a record shared by several members counts once)."""
    out = {}
    for m in members:
        r = requests.get(m.api + "/api/v1/preheats", timeout=(3, 30))
        r.raise_for_status()
        out.update({rec["ID"]: rec for rec in r.json() if rec["type"] == "image" and rec["url"] == url})
    return out


def _wait_success(members, url, timeout=120.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        recs = _image_records(members, url)
        if recs and all(r["status"] in ("SUCCESS", "FAILED") for r in recs.values()):
            return recs
        if time.monotonic() > deadline:
            raise AssertionError(f"no finished preheat of {url}: {recs}\n{members[0].log_tail()}")
        time.sleep(0.3)


def test_one_delivery_to_two_members_is_one_preheat(cluster_factory, registry_plain, counting_front,
                                                    oci_image_factory):
    front = counting_front(registry_plain)
    a = cluster_factory("wh-a", base=_sections(front))
    b = cluster_factory("wh-b", base=_sections(front))
    image = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=1414)
    repo = "cluster/hooked"
    push_image_http(registry_plain.url, repo, image, "v1")

    first = _harbor(a, repo, image, front.host)
    again = _harbor(b, repo, image, front.host)                 # Harbor's retry reaching the other member
    notified = _registry(b, repo, image, front.host)            # the registry's own notification of that push
    assert first.status_code == 202 and first.json() == {"accepted": 1, "queued": 1, "duplicates": 0,
                                                         "ignored": 0}, first.text
    assert again.status_code == 202 and again.json() == {"accepted": 1, "queued": 0, "duplicates": 1,
                                                         "ignored": 0}, again.text
    assert notified.status_code == 202 and notified.json()["duplicates"] == 1, notified.text

    url = f"http://{front.host}/v2/{repo}/manifests/v1"
    recs = _wait_success([a, b], url)
    time.sleep(1.5)                     # B's dispatcher had time to act, had it queued anything
    recs = _image_records([a, b], url)
    assert len(recs) == 1, recs
    (rec,) = recs.values()
    assert rec["status"] == "SUCCESS" and rec["bytes"] == sum(bl.size for bl in image.blobs), rec
    for blob in image.blobs:
        if blob.digest != image.manifest.digest:
            assert full_gets(front, blob.digest) == 1, (blob.digest, front.blob_gets)
    assert "webhook preheat image=" in a.log_tail(20000)
    assert "webhook preheat image=" not in b.log_tail(20000)


def test_redis_down_webhook_is_503_then_taken(redis_factory, tmp_path_factory, registry_plain, counting_front,
                                             oci_image_factory):
    from tests.fixtures.cluster_members import ClusterMember
    front = counting_front(registry_plain)
    redis = redis_factory()
    m = ClusterMember(str(tmp_path_factory.mktemp("wh-down")), redis.url, "wh-down", base=_sections(front))
    try:
        image = oci_image_factory(layers=1, layer_size=1 << 19, tag="v1", seed=1415)
        repo = "cluster/down"
        push_image_http(registry_plain.url, repo, image, "v1")
        redis.stop()
        for _ in range(3):
            r = _harbor(m, repo, image, front.host)
            assert r.status_code == 503, r.text
            assert "Redis" in r.text and "Traceback" not in r.text, r.text
        assert m.log_tail(20000).count("redis unreachable during") == 1, m.log_tail(40)     # once per interval
        redis.start()
        deadline = time.monotonic() + 20
        while True:
            r = _harbor(m, repo, image, front.host)
            if r.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert r.status_code == 202 and r.json()["queued"] == 1, r.text     # nothing was taken while down
        url = f"http://{front.host}/v2/{repo}/manifests/v1"
        recs = _wait_success([m], url)
        assert [x["status"] for x in recs.values()] == ["SUCCESS"], recs
    finally:
        m.stop()
