"""The REST API over a real socket (the policy blueprint and the supernode error handler), and the
``supernode policy`` command line against it."""
import contextlib
import io
import json
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from supernode.api.errors import install_error_handlers
from supernode.api.policies import create_policies_blueprint
from supernode.policies.config import PolicyConfig
from supernode.policies.service import policy_service_of
from supernode.policy_cli import main as cli_main
from tests.helpers import free_port

from .recording_preheat import RecordingPreheat

UNREACHABLE = "http://127.0.0.1:1"


class Api:
    def __init__(self, tmp_path):
        conf = SimpleNamespace(home_dir=str(tmp_path), policies=PolicyConfig(
            poll_interval=0.02, credentials={"robot": {"username": "u", "password": "s3cret"}}))
        self.services = SimpleNamespace(config=conf, extras={"preheat": RecordingPreheat()})
        app = Flask("policy-test")
        install_error_handlers(app)
        app.register_blueprint(create_policies_blueprint(self.services))
        self.svc = policy_service_of(self.services)
        self.svc.start()
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()

    def req(self, method, path, **kw):
        kw.setdefault("timeout", (5, 30))
        return self.http.request(method, self.base + "/api/v1" + path, **kw)

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)
        self.svc.stop()


@pytest.fixture
def api(tmp_path):
    a = Api(tmp_path)
    yield a
    a.stop()


def body(**kw):
    return {"name": "nightly", "registry": UNREACHABLE, "repository": "team/**", "tag": "v*",
            "triggers": {"event": True, "cron": "0 0 2 * * *"}, **kw}


def test_crud(api):
    r = api.req("POST", "/policies", json=body(credentials="robot", platforms=["linux/amd64"]))
    assert r.status_code == 201, r.text
    p = r.json()
    assert r.headers["Location"].endswith(f"/api/v1/policies/{p['id']}")
    assert p["triggers"] == {"event": True, "cron": "0 0 2 * * *", "manual": True}
    assert p["next_run_time"].endswith("T02:00:00Z") and p["credentials"] == "robot"
    assert "s3cret" not in r.text
    assert [x["id"] for x in api.req("GET", "/policies").json()] == [p["id"]]
    assert api.req("GET", f"/policies/{p['id']}").json() == p

    r = api.req("PATCH", f"/policies/{p['id']}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["tag"] == "v*"
    assert r.json()["next_run_time"] is None
    r = api.req("PUT", f"/policies/{p['id']}", json={"name": "renamed", "registry": "reg.example"})
    q = r.json()
    assert r.status_code == 200 and (q["name"], q["tag"], q["triggers"]["cron"], q["enabled"]) == \
        ("renamed", "**", "", True)
    assert q["created_at"] == p["created_at"]
    assert api.req("DELETE", f"/policies/{p['id']}").status_code == 204
    assert api.req("GET", f"/policies/{p['id']}").status_code == 404
    assert api.req("DELETE", f"/policies/{p['id']}").status_code == 404


@pytest.mark.parametrize("data,needle", [
    ({"tag": "a**"}, "tag"), ({"repository": "lib/{a,b"}, "repository"),
    ({"triggers": {"cron": "61 * * * * *"}}, "cron"), ({"triggers": {"cron": "* * *"}}, "5 fields"),
    ({"registry": "ftp://x"}, "registry"), ({"credentials": "nope"}, "credentials"), ({"bogus": 1}, "unknown"),
    ({"platforms": ["x"]}, "platforms"),
])
def test_bad_input_is_a_400_problem(api, data, needle):
    r = api.req("POST", "/policies", json=body(**data))
    assert r.status_code == 400
    problem = r.json()
    assert problem["code"] == "INVALID_PARAM" and needle in problem["message"] and problem["status"] == 400


def test_other_errors(api):
    assert api.req("POST", "/policies", data="not json", headers={"Content-Type": "application/json"}
                   ).status_code == 400
    assert api.req("POST", "/policies", json=[1]).status_code == 400
    assert api.req("POST", "/policies", json=body()).status_code == 201
    r = api.req("POST", "/policies", json=body())
    assert r.status_code == 409 and r.json()["code"] == "POLICY_CONFLICT"
    for path in ("/policies/0123abcd", "/policies/NOT-AN-ID", "/policies/0123abcd/runs", "/runs/0123abcd"):
        assert api.req("GET", path).status_code == 404, path
    assert api.req("POST", "/policies/0123abcd/run").status_code == 404
    pid = api.req("GET", "/policies").json()[0]["id"]
    assert api.req("GET", f"/policies/{pid}/runs?limit=0").status_code == 400
    assert api.req("PATCH", f"/policies/{pid}", json={"id": "ffff"}).status_code == 400


def wait_run(api, run_id):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = api.req("GET", f"/runs/{run_id}").json()
        if run["status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def test_manual_runs_are_recorded_and_listed(api):
    pid = api.req("POST", "/policies", json=body()).json()["id"]
    r = api.req("POST", f"/policies/{pid}/run")
    assert r.status_code == 202 and r.json()["trigger"] == "manual" and r.json()["status"] == "running"
    run = wait_run(api, r.json()["id"])
    assert run["status"] == "failed" and "unreachable" in run["error"] and run["duration"] is not None
    runs = api.req("GET", f"/policies/{pid}/runs").json()
    assert [x["id"] for x in runs] == [run["id"]]


def cli(api, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["--server", api.base, *args])
    return code, out.getvalue(), err.getvalue()


def test_cli_over_the_api(api):
    code, out, _ = cli(api, "create", "--name", "cli", "--registry", UNREACHABLE, "--repository", "team/*",
                       "--tag", "v*", "--cron", "0 0 2 * * *", "--event", "--platform", "linux/amd64")
    assert code == 0 and "cli" in out and "cron(0 0 2 * * *)" in out and "event" in out
    pid = api.req("GET", "/policies").json()[0]["id"]
    code, out, _ = cli(api, "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["ID", "NAME", "REGISTRY"] and pid in out
    code, out, _ = cli(api, "--json", "get", pid)
    assert code == 0 and json.loads(out)["platforms"] == ["linux/amd64"]
    code, out, _ = cli(api, "--json", "update", pid, "--no-enabled", "--cron", "")
    assert code == 0 and json.loads(out)["enabled"] is False and json.loads(out)["triggers"]["cron"] == ""
    code, out, _ = cli(api, "run", pid, "--wait", "--interval", "0.05")
    assert code == 3 and "failed" in out and "unreachable" in out
    code, out, _ = cli(api, "runs", pid)
    assert code == 0 and "manual" in out and "failed" in out
    run_id = api.req("GET", f"/policies/{pid}/runs").json()[0]["id"]
    code, out, _ = cli(api, "--json", "runs", "--run", run_id)
    assert code == 0 and json.loads(out)["id"] == run_id
    code, _, err = cli(api, "create", "--name", "bad", "--registry", "r", "--tag", "a**")
    assert code == 1 and "400" in err and "tag" in err
    code, out, _ = cli(api, "delete", pid)
    assert code == 0 and "deleted" in out
    code, _, err = cli(api, "get", pid)
    assert code == 1 and "404" in err


def test_cli_reports_an_unreachable_server():
    code = cli_main(["--server", "http://127.0.0.1:1", "list"])
    assert code == 1
