"""The legacy preheat API, the Dragonfly 2 job API and provider-instance auth on a real socket
(create_app under gevent.pywsgi), against a real origin."""
import base64
import time

import pytest

from tests.fixtures.origin import OriginServer, make_file
from tests.unit.supernode.api.conftest import Supernode


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    root = tmp_path_factory.mktemp("origin")
    make_file(str(root / "f.bin"), 100 << 10, seed=7)
    srv = OriginServer(str(root)).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_sn(tmp_path_factory):
    started = []

    def make(**preheat):
        sn = Supernode(tmp_path_factory.mktemp("sn"), preheat=preheat)
        started.append(sn)
        return sn

    yield make
    for sn in started:
        sn.stop()
        sn.services.extras["preheat_components"].stop()


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def poll(sn, path, headers, key, pending, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        body = sn.get(path, headers=headers).json()
        if body[key] not in pending or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


@pytest.mark.parametrize("preheat, good, bad", [
    ({}, [{}], []),
    ({"auth_mode": "basic", "auth_username": "u1", "auth_password": "p1"},
     [basic("u1", "p1"), basic("username", "u1"), basic("password", "p1")],
     [{}, basic("u1", "p2"), basic("username", "p1"), {"Authorization": "Basic !!"}, {"Authorization": "Bearer p1"}]),
    ({"auth_mode": "oauth", "auth_token": "tok"}, [{"Authorization": "Bearer tok"}, {"Authorization": "bearer tok"}],
     [{}, {"Authorization": "Bearer tok2"}, {"Authorization": "tok"}]),
    ({"auth_mode": "custom", "auth_header": "api-key", "auth_token": "k3y"}, [{"api-key": "k3y"}, {"API-KEY": "k3y"}],
     [{}, {"api-key": "k3"}, {"Authorization": "k3y"}]),
])
def test_instance_auth_modes(make_sn, preheat, good, bad):
    sn = make_sn(**preheat)
    for h in good:
        assert sn.get("/preheats", headers=h).status_code == 200, h
        assert sn.get("/oapi/v1/jobs", headers=h).status_code == 200, h
    for h in bad:
        for path in ("/preheats", "/api/v1/preheats", "/oapi/v1/jobs"):
            r = sn.get(path, headers=h)
            assert r.status_code == 401 and r.json()["code"] == 401, (path, h)
        if preheat.get("auth_mode") in ("basic", "oauth"):
            assert sn.get("/preheats", headers=h).headers["WWW-Authenticate"]
    assert sn.get("/_ping").status_code == 200 and sn.get("/healthy").status_code == 200


def test_legacy_api_round_trip(make_sn, origin):
    sn = make_sn()
    body = {"type": "file", "url": origin.url("f.bin"), "headers": {}, "image": "x", "tag": "y"}
    r = sn.post("/preheats", json=body)
    assert r.status_code == 201
    rec_id = r.json()["ID"]
    info = poll(sn, f"/api/v1/preheats/{rec_id}", {}, "status", ("WAITING", "RUNNING"))
    assert info["status"] == "SUCCESS" and info["errorMsg"] == ""
    again = sn.post("/v1.0/preheats", json=body)
    assert again.status_code == 208
    assert again.json()["code"] == 208 and again.json()["message"] == f"preheat task already exists, id:{rec_id}"
    listed = sn.get("/preheats").json()
    assert [x["ID"] for x in listed] == [rec_id] and listed[0]["bytes"] == 100 << 10
    for bad in (b"", b"[]", b"{not json", b'{"type":"file","url":"http://h/x","headers":{"a":1}}'):
        r = sn.post("/preheats", data=bad, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == 400, bad
    assert sn.http.delete(sn.url + f"/preheats/{rec_id}", timeout=5).json() is True
    r = sn.get(f"/preheats/{rec_id}")
    assert r.status_code == 404 and r.json() == {"code": 404, "message": f"{rec_id} doesn't exists"}


def test_df2_job_of_a_file(make_sn, origin):
    sn = make_sn(auth_mode="bearer", auth_token="pat")
    auth = {"Authorization": "Bearer pat"}
    body = {"type": "preheat", "args": {"type": "file", "url": origin.url("f.bin"), "tag": "", "headers": {},
                                        "filtered_query_params": "", "scope": "", "concurrent_count": 0,
                                        "timeout": 0}, "scheduler_cluster_ids": None}
    r = sn.post("/oapi/v1/jobs", json=body, headers=auth)
    assert r.status_code == 200
    job = r.json()
    assert isinstance(job["id"], int) and job["type"] == "preheat" and "headers" not in job["args"]
    done = poll(sn, f"/oapi/v1/jobs/{job['id']}", auth, "state", ("PENDING",))
    assert done["state"] == "SUCCESS"
    res = done["result"]["job_states"][0]
    assert res["error"] == "" and res["results"][0]["success_tasks"][0]["url"] == origin.url("f.bin")
    assert sn.get("/oapi/v1/jobs/abc", headers=auth).status_code == 400
    for bad in ({"type": "preheat"}, {"type": "preheat", "args": {"type": "file"}},
                {"type": "preheat", "args": {"type": "zip", "url": "http://h/x"}}):
        assert sn.post("/oapi/v1/jobs", json=bad, headers=auth).status_code == 400, bad
    missing = dict(body, args=dict(body["args"], url=origin.url("missing.bin")))
    failed = poll(sn, f"/oapi/v1/jobs/{sn.post('/oapi/v1/jobs', json=missing, headers=auth).json()['id']}", auth,
                  "state", ("PENDING",))
    assert failed["state"] == "FAILURE" and "not found" in failed["result"]["job_states"][0]["error"]
    assert failed["result"]["job_states"][0]["results"][0]["failure_tasks"][0]["url"] == origin.url("missing.bin")
