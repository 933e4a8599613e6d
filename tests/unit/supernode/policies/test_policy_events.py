import time

from supernode.policies.events import PolicyEventRouter
from supernode.policies.models import build_policy
from webhooks.events import ImageEvent

DIGEST = "sha256:" + "a" * 64


def event(repo="team/app", tag="v1", registry="reg.example:5000", action="push"):
    return ImageEvent(action=action, registry=registry, repository=repo, tag=tag, digest=DIGEST)


def test_pushes_start_runs_of_matching_event_policies_only(parts):
    add = parts.store.add
    hit = add(build_policy({"name": "hit", "registry": "http://reg.example:5000", "repository": "team/**",
                            "tag": "v*", "triggers": {"event": True}}))
    add(build_policy({"name": "cron-only", "registry": "http://reg.example:5000", "triggers": {"cron": "@daily"}}))
    add(build_policy({"name": "disabled", "registry": "http://reg.example:5000", "enabled": False,
                      "triggers": {"event": True}}))
    add(build_policy({"name": "other-registry", "registry": "other.example", "triggers": {"event": True}}))
    add(build_policy({"name": "other-tag", "registry": "http://reg.example:5000", "tag": "release-*",
                      "triggers": {"event": True}}))
    router = PolicyEventRouter(parts.store, parts.runner)
    runs = router.on_event(event())
    assert [r.policy_id for r in runs] == [hit.id]
    deadline = time.monotonic() + 20
    while parts.store.get_run(runs[0].id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    run = parts.store.get_run(runs[0].id)
    assert run.status == "succeeded" and run.trigger == "event"
    assert parts.preheat.image_urls() == ["http://reg.example:5000/v2/team/app/manifests/v1"]
    assert router.on_event(event(tag="latest")) == []
    assert router.on_event(event(tag=DIGEST)) == []          # pushes by digest are not tags
    assert router.on_event(event(action="delete")) == []
