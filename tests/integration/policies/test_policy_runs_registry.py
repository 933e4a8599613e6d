"""Policies on a real supernode process against a real registry, with the real preheat engine."""
import time
from datetime import datetime, timezone


def cron_at(ts: float) -> str:
    d = datetime.fromtimestamp(ts, timezone.utc)
    return f"{d.second} {d.minute} {d.hour} {d.day} {d.month} *"


def test_tag_filter_v_star_preheats_v1_and_v2_but_not_latest(supernode_proc, tagged_repo):
    registry, repo = tagged_repo
    sn = supernode_proc().start()
    r = sn.api("POST", "/policies", json={"name": "v-tags", "registry": registry.url, "repository": "policies/*",
                                          "tag": "v*"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = sn.api("POST", f"/policies/{pid}/run")
    assert r.status_code == 202
    (run,) = sn.wait_runs(pid)
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "manual" and run["duration"] is not None
    assert sorted(img["tag"] for img in run["images"]) == ["v1", "v2"]
    for img in run["images"]:
        assert img["status"] == "succeeded" and img["url"] == f"{registry.url}/v2/{repo}/manifests/{img['tag']}"
        assert img["layers"] and all(layer["status"] == "succeeded" and layer["bytes"] > 0
                                     for layer in img["layers"])
        assert img["bytes"] == sum(layer["bytes"] for layer in img["layers"])
        record = sn.http.get(f"{sn.url}/preheats/{img['preheat_id']}", timeout=(3, 30)).json()
        assert record["status"] == "SUCCESS"
    assert run["bytes"] == sum(img["bytes"] for img in run["images"]) > 0
    assert [x["id"] for x in sn.api("GET", f"/policies/{pid}/runs").json()] == [run["id"]]
    assert sn.api("GET", f"/runs/{run['id']}").json() == run


def test_bad_input_400s_on_the_real_server(supernode_proc):
    sn = supernode_proc().start()
    for body in ({"name": "x", "registry": "r", "tag": "v**"}, {"name": "x", "registry": "r",
                                                                "triggers": {"cron": "every day"}}):
        r = sn.api("POST", "/policies", json=body)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAM"
    assert sn.api("GET", "/policies/abc123").status_code == 404


def _cron_policy_across_a_restart(supernode_proc, tagged_repo, grace: str):
    registry, repo = tagged_repo
    sn = supernode_proc(misfire_grace_time=grace).start()
    due = time.time() + 4
    r = sn.api("POST", "/policies", json={"name": "cron", "registry": registry.url, "repository": repo,
                                          "tag": "v1", "triggers": {"cron": cron_at(due)}})
    assert r.status_code == 201, r.text
    policy = r.json()
    assert policy["next_run_time"] is not None
    sn.stop()                                       # the supernode is down when the run is due
    while time.time() < due + 3:
        time.sleep(0.1)
    sn.start()                                      # same home: same policy database and job store
    listed = sn.api("GET", f"/policies/{policy['id']}").json()
    assert listed["triggers"]["cron"] == policy["triggers"]["cron"]
    return sn, policy


def test_a_cron_run_due_while_down_runs_after_restart(supernode_proc, tagged_repo):
    sn, policy = _cron_policy_across_a_restart(supernode_proc, tagged_repo, "5m")
    (run,) = sn.wait_runs(policy["id"])
    assert (run["trigger"], run["status"]) == ("cron", "succeeded"), run
    assert [img["tag"] for img in run["images"]] == ["v1"]


def test_a_cron_run_later_than_the_grace_time_is_missed(supernode_proc, tagged_repo):
    sn, policy = _cron_policy_across_a_restart(supernode_proc, tagged_repo, "1s")
    (run,) = sn.wait_runs(policy["id"])
    assert (run["trigger"], run["status"], run["images"]) == ("cron", "missed", [])


def test_runs_of_unknown_or_unmatched_repositories(supernode_proc, tagged_repo):
    registry, _ = tagged_repo
    sn = supernode_proc().start()
    missing = sn.api("POST", "/policies", json={"name": "missing", "registry": registry.url,
                                                "repository": "policies/none"}).json()
    nothing = sn.api("POST", "/policies", json={"name": "nothing", "registry": registry.url,
                                                "repository": "nomatch/**"}).json()
    for p in (missing, nothing):
        assert sn.api("POST", f"/policies/{p['id']}/run").status_code == 202
    (run,) = sn.wait_runs(missing["id"])
    assert run["status"] == "failed" and "policies/none" in run["error"]
    (run,) = sn.wait_runs(nothing["id"])
    assert (run["status"], run["images"], run["bytes"]) == ("succeeded", [], 0)
