"""A real docker-registry (Distribution 2.8) notifying the receiver while skopeo pushes images."""
import time

import pytest
import requests

REGISTRY_AUTH = "Bearer registry-notify-s3cr3t"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receiver(webhook_server_factory):
    return webhook_server_factory({"registry_auth": [REGISTRY_AUTH]})


def recorded_until(receiver, done, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        events = requests.get(f"{receiver.url}/_test/recorded", timeout=(3, 10)).json()["events"]
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_pushes_to_a_real_registry_arrive_as_image_events(receiver, registry_factory, oci_image_factory):
    endpoint = {"name": "supernode", "url": f"{receiver.url}/api/v1/webhooks/registry",
                "headers": {"Authorization": REGISTRY_AUTH}, "timeout": "3s",
                "ignore": {"actions": ["pull"]}}       # as docs/webhooks.md recommends
    reg = registry_factory(mode="plain", notifications=[endpoint])

    image = oci_image_factory(layers=2, layer_size=64 << 10, tag="v1", seed=11)
    reg.push(image, "notify/app", tag="v1")
    index = oci_image_factory(layers=1, layer_size=32 << 10, tag="multi", seed=12,
                              platforms=["linux/amd64", "linux/arm64"])
    reg.push(index, "notify/multi", tag="multi")

    children = {img.manifest.digest for img in index.images.values()}
    expected = {("notify/app", "v1", image.manifest.digest), ("notify/multi", "multi", index.index.digest)}

    def arrived(events):
        got = {(e["repository"], e["tag"], e["digest"]) for e in events}
        return expected <= got and children <= {e["digest"] for e in events if e["repository"] == "notify/multi"}

    events = recorded_until(receiver, arrived)
    assert arrived(events), f"events seen: {events}\nregistry log: {reg.log_tail()}"
    mine = [e for e in events if e["repository"].startswith("notify/")]
    assert all(e["registry"] == reg.host and e["source"] == "registry" for e in mine)
    assert all(e["media_type"].startswith("application/vnd.oci.image.") for e in mine)
    # blobs (layers, configs) are never handed to the preheat seam, and nothing twice
    layer_digests = {b.digest for b in image.blobs}
    assert not layer_digests & {e["digest"] for e in mine}
    keys = [(e["repository"], e["tag"], e["digest"]) for e in mine]
    assert len(keys) == len(set(keys))
    child_events = [e for e in mine if e["digest"] in children]
    assert child_events and all(e["tag"] == "" for e in child_events)
