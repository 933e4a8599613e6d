import pytest

from .conftest import register_body


def test_ping_version_metrics_and_aliases(sn):
    for path in ("/_ping", "/v1.0/_ping", "/v2/_ping"):
        r = sn.get(path)
        assert r.status_code == 200 and r.text == "OK"
    v = sn.get("/version").json()
    assert set(v) == {"Version", "Revision", "BuildDate", "GoVersion", "OS", "Arch"}
    text = sn.get("/metrics").text
    assert 'dragonfly_supernode_http_requests_total{code="200",handler="/_ping"}' in text
    assert "dragonfly_supernode_build_info" in text


def test_unknown_route_and_method_are_json_errors(sn):
    r = sn.get("/nope")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = sn.get("/peer/registry")
    assert r.status_code == 405 and r.json()["code"] == 501
    r = sn.http.delete(sn.url + "/_ping")
    assert r.status_code == 405 and r.json()["status"] == 405


def test_v1_peers_lifecycle(sn):
    r = sn.post("/api/v1/peers", json={"IP": "10.1.1.1", "HostName": "hostx", "Port": 15000, "Version": "1"})
    assert r.status_code == 201
    pid = r.json()["ID"]
    assert pid.startswith("hostx-10.1.1.1-")
    assert any(p["ID"] == pid for p in sn.get("/api/v1/peers").json())
    one = sn.get(f"/api/v1/peers/{pid}").json()
    assert one["IP"] == "10.1.1.1" and one["port"] == 15000
    assert sn.http.delete(f"{sn.url}/api/v1/peers/{pid}").status_code == 200
    r = sn.get(f"/api/v1/peers/{pid}")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert sn.http.delete(f"{sn.url}/api/v1/peers/{pid}").status_code == 404


@pytest.mark.parametrize("body", [{"IP": "x", "HostName": "h", "Port": 1}, {"IP": "1.1.1.1", "Port": 1},
                                  {"IP": "1.1.1.1", "HostName": "h", "Port": -1}, ["list"]])
def test_v1_peers_bad_input(sn, body):
    r = sn.post("/api/v1/peers", json=body)
    assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAM"


def test_v1_tasks_get_delete_and_piece_error(sn, origin):
    r = sn.post("/peer/registry", json=register_body(origin.url, path="/empty", cid="c-v1",
                                                     headers=["Authorization:Bearer secret"]))
    task_id = r.json()["data"]["taskId"]
    info = sn.get(f"/api/v1/tasks/{task_id}").json()
    assert info["ID"] == task_id and info["httpFileLength"] == 0 and info["pieceTotal"] == 1
    assert "secret" not in sn.get(f"/api/v1/tasks/{task_id}").text          # headers are never shown
    r = sn.get(f"/api/v1/tasks/{task_id}/pieces/0-4194303/error", params={"dstCid": "c-other"})
    assert r.status_code == 200
    assert sn.get(f"/api/v1/tasks/{task_id}/pieces/x-y/error").status_code == 400
    assert sn.http.delete(f"{sn.url}/v1.0/api/v1/tasks/{task_id}").status_code == 200
    assert sn.get(f"/api/v1/tasks/{task_id}").status_code == 404
    for bad in ("..%2F..%2Fetc", "abc", "G" * 64):
        r = sn.get(f"/api/v1/tasks/{bad}")
        assert r.status_code in (400, 404) and "code" in r.json()
