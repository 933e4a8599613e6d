import time

from supernode.policies.models import build_policy
from supernode.policies.runner import PolicyRunner

UNREACHABLE = "http://127.0.0.1:1"


def add(parts, **kw):
    data = {"name": "p", "registry": "http://reg.example:5000", **kw}
    return parts.store.add(build_policy(data, credentials={"robot": 1}))


def wait_done(store, run_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        if run.status != "running":
            return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} still running")


def test_images_are_preheated_and_each_layer_recorded(parts):
    p = add(parts, platforms=["linux/arm64"], credentials="robot")
    parts.preheat.polls = 3
    run = parts.runner.run(p.id, "event", images=[("team/app", "v1"), ("team/app", "v2")])
    assert run.status == "succeeded" and run.trigger == "event" and run.error == ""
    assert [c["url"] for c in parts.preheat.calls] == ["http://reg.example:5000/v2/team/app/manifests/v1",
                                                       "http://reg.example:5000/v2/team/app/manifests/v2"]
    call = parts.preheat.calls[0]
    assert call["type"] == "image" and call["platforms"] == ["linux/arm64"]
    assert call["credentials"] == ("u", "s3cret") and call["headers"] == {}
    assert [img["image"] for img in run.images] == ["reg.example:5000/team/app:v1", "reg.example:5000/team/app:v2"]
    for img in run.images:
        assert img["status"] == "succeeded" and img["bytes"] == 2000 and img["preheat_id"]
        assert [(layer["status"], layer["bytes"]) for layer in img["layers"]] == [("succeeded", 1000)] * 2
    assert run.bytes == 4000 and run.duration is not None and run.duration >= 0
    stored = parts.store.get_run(run.id)
    assert stored.to_json() == run.to_json()
    assert "s3cret" not in str(stored.to_json())


def test_mixed_outcomes_make_a_partial_run(parts):
    p = add(parts)
    parts.preheat.fail = {"http://reg.example:5000/v2/app/manifests/bad"}
    run = parts.runner.run(p.id, "event", images=[("app", "good"), ("app", "bad")])
    assert run.status == "partial"
    good, bad = run.images
    assert good["status"] == "succeeded" and bad["status"] == "failed" and bad["error"] == "origin refused"
    assert [layer["status"] for layer in bad["layers"]] == ["failed", "failed"] and bad["bytes"] == 0
    parts.preheat.fail = {"http://reg.example:5000/v2/app/manifests/worse"}
    assert parts.runner.run(p.id, "event", images=[("app", "worse")]).status == "failed"


def test_an_unreachable_registry_fails_the_run_with_a_message(parts):
    p = parts.store.add(build_policy({"name": "p", "registry": UNREACHABLE}))
    run = parts.runner.run(p.id, "manual")
    assert run.status == "failed" and "unreachable" in run.error and run.finished_at


def test_a_missing_engine_fails_clearly(parts):
    p = add(parts)
    runner = PolicyRunner(parts.store, lambda: None)
    run = runner.run(p.id, "event", images=[("app", "v1")])
    assert run.status == "failed" and "preheat engine" in run.error


def test_images_stuck_past_the_timeout_fail(parts):
    p = add(parts)
    parts.preheat.polls = 10 ** 6
    runner = PolicyRunner(parts.store, parts.preheat, poll_interval=0.01, image_timeout=0.05)
    run = runner.run(p.id, "event", images=[("app", "v1")])
    assert run.status == "failed" and "not finished" in run.images[0]["error"]


def test_background_runs_and_deleted_policies(parts):
    p = add(parts)
    started = parts.runner.start(p.id, "manual")        # discovery against reg.example fails, recorded anyway
    assert started.status == "running"
    assert wait_done(parts.store, started.id).status == "failed"
    parts.store.delete(p.id)
    assert parts.runner.run(p.id, "cron") is None


def test_missed_runs_are_recorded(parts):
    p = add(parts)
    run = parts.runner.record_missed(p.id, 1000.0, "missed")
    assert (run.status, run.trigger, run.scheduled_at) == ("missed", "cron", 1000.0)


def test_a_credentials_reference_gone_from_the_config_fails_the_run(parts):
    p = add(parts, credentials="robot")
    runner = PolicyRunner(parts.store, parts.preheat, credentials={})
    run = runner.run(p.id, "event", images=[("app", "v1")])
    assert run.status == "failed" and "'robot' are not configured" in run.error and parts.preheat.calls == []
