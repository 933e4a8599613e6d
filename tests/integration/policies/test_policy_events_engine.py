"""Event triggers in-process with the real preheat engine and CDN (no HTTP server needed): a push of a
matching tag starts a run that warms the image's layers; other tags start nothing."""
import time

import pytest

from supernode.config import load_config
from supernode.policies.service import PolicyService
from supernode.preheat.wiring import install as install_preheat
from supernode.services import build_services
from webhooks.events import ImageEvent


@pytest.fixture
def node(tmp_path):
    config = load_config(overrides={"home_dir": str(tmp_path), "storage_driver": "memory",
                                    "policies": {"poll_interval": "100ms"}, "fetch": {"allow": ["127.0.0.0/8", "::1"]}}, environ={})
    services = build_services(config)
    comp = install_preheat(services)
    comp.start()
    svc = PolicyService(config, preheat=lambda: services.extras.get("preheat"))
    svc.start()
    yield svc, services
    svc.stop()
    comp.stop()
    services.close()


def test_push_of_a_matching_tag_runs_the_event_policy(node, tagged_repo):
    svc, services = node
    registry, repo = tagged_repo
    policy = svc.create({"name": "on-push", "registry": registry.url, "repository": "policies/**", "tag": "v*",
                         "triggers": {"event": True}})
    digest = "sha256:" + "0" * 64
    assert svc.on_event(ImageEvent("push", registry.host, repo, "latest", digest)) == []
    (started,) = svc.on_event(ImageEvent("push", registry.host, repo, "v2", digest))
    deadline = time.monotonic() + 90
    while svc.run(started.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    run = svc.run(started.id)
    assert (run.trigger, run.status) == ("event", "succeeded"), run.to_json()
    (img,) = run.images
    assert img["tag"] == "v2" and img["layers"] and run.bytes > 0
    engine = services.extras["preheat"]
    assert engine.get(img["preheat_id"]).status == "SUCCESS"
    warmed = [engine.get(layer["id"]) for layer in img["layers"]]
    assert all(rec.task_id for rec in warmed)            # each layer is a CDN task now
    assert [r.id for r in svc.runs(policy.id)] == [run.id]
