"""Harbor's legacy "Dragonfly" provider replayed against a real supernode process, with a real
docker-registry (token auth) behind a counting front: create, poll, 208, failures, then a dfget."""
import base64
import hashlib

import pytest
import requests

from tests.helpers import free_port

from .conftest import HARBOR_HEADERS, dfget_blob, harbor_preheat_body, harbor_token

pytestmark = pytest.mark.e2e
USER, PASSWORD = "harbor", "p2p-s3cret"


def basic(user: str, pw: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


AUTH = basic(USER, PASSWORD)


@pytest.fixture(scope="module")
def sn(tmp_path_factory):
    from .conftest import SupernodeProcess
    proc = SupernodeProcess(tmp_path_factory.mktemp("sn-legacy"),
                            {"auth_mode": "basic", "auth_username": USER, "auth_password": PASSWORD}).start()
    yield proc
    proc.stop()


@pytest.fixture
def front(registry_token, counting_front):
    return counting_front(registry_token)


def test_ping_and_auth_variants(sn):
    assert sn.get("/_ping", headers={**HARBOR_HEADERS, **AUTH}).status_code == 200
    for good in (AUTH, basic("username", USER), basic("password", PASSWORD)):
        assert sn.get("/preheats", headers={**HARBOR_HEADERS, **good}).status_code == 200
    for bad in ({}, basic(USER, "wrong"), basic("password", USER), {"Authorization": "Bearer " + PASSWORD}):
        r = sn.get("/preheats", headers={**HARBOR_HEADERS, **bad})
        assert r.status_code == 401 and r.json()["code"] == 401
    assert sn.post("/preheats", {"type": "image", "url": "http://x/v2/a/manifests/b"}).status_code == 401


def test_bad_bodies_get_400(sn):
    for body in ({"type": "zip", "url": "http://h/x"}, {"type": "file"}, {"type": "image", "url": "http://h/x"},
                 {"type": "file", "url": "ftp://h/x"}, {"type": "file", "url": "http://h/x", "headers": "a"}):
        r = sn.post("/preheats", body, AUTH)
        assert r.status_code == 400, body
        assert r.json()["code"] == 400 and r.json()["message"]
    r = sn.get("/preheats/" + "0" * 64, headers=AUTH)
    assert r.status_code == 404 and r.json() == {"code": 404, "message": "0" * 64 + " doesn't exists"}


def test_legacy_flow_by_tag_then_208_then_dfget_from_the_cdn(sn, front, registry_token, token_server,
                                                              oci_image_factory, tmp_path):
    image = oci_image_factory(layers=2, layer_size=300 << 10, tag="v1", seed=101)
    repo = "proj/a/b"                                   # nested repository
    registry_token.push(image, repo, tag="v1")
    token = harbor_token(token_server, repo)
    body = harbor_preheat_body(front.url, repo, "v1", image.manifest.digest, token)
    r = sn.post("/preheats", body, AUTH)
    assert r.status_code == 201, r.text
    rec_id = r.json()["ID"]
    info = sn.poll_legacy(rec_id, AUTH)
    assert info["status"] == "SUCCESS", (info, sn.log_tail())
    assert set(info) == {"ID", "status", "startTime", "finishTime", "errorMsg"}
    assert info["startTime"].endswith("Z") and info["finishTime"] >= info["startTime"]
    for blob in image.blobs:
        assert front.served(blob.digest) >= 1
        assert front.bytes_served(blob.digest) <= blob.size + 1     # once (plus a 1-byte range probe)
    # the same preheat again: 208 with a JSON body, nothing fetched again
    again = sn.post("/preheats", body, AUTH)
    assert again.status_code == 208
    assert again.json()["message"] == f"preheat task already exists, id:{rec_id}"
    assert again.json()["code"] == 208
    # listed, also under /api/v1
    listed = sn.get("/api/v1/preheats", headers=AUTH).json()
    assert rec_id in {x["ID"] for x in listed}
    # a later dfget of a blob goes through the CDN: the registry serves nothing more
    before = {b.digest: front.bytes_served(b.digest) for b in image.blobs}
    layer = image.layers[0]
    res, out = dfget_blob(tmp_path, sn.node, f"{front.url}/v2/{repo}/blobs/{layer.digest}", token)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest() == layer.digest
    assert {b.digest: front.bytes_served(b.digest) for b in image.blobs} == before
    assert sn.http.delete(sn.url + f"/preheats/{rec_id}", headers=AUTH, timeout=5).json() is True
    assert sn.get(f"/preheats/{rec_id}", headers=AUTH).status_code == 404


def test_push_by_digest(sn, front, registry_token, token_server, oci_image_factory):
    image = oci_image_factory(layers=1, layer_size=64 << 10, tag="d1", seed=102)
    registry_token.push(image, "proj/bydigest", tag="d1")
    token = harbor_token(token_server, "proj/bydigest")
    body = harbor_preheat_body(front.url, "proj/bydigest", image.manifest.digest, image.manifest.digest, token)
    rec_id = sn.post("/preheats", body, AUTH).json()["ID"]
    assert sn.poll_legacy(rec_id, AUTH)["status"] == "SUCCESS"
    assert all(front.served(b.digest) >= 1 for b in image.blobs)


def test_failures_say_why_and_the_supernode_stays_healthy(sn, front, registry_token, token_server,
                                                          oci_image_factory):
    image = oci_image_factory(layers=1, layer_size=32 << 10, tag="v1", seed=103)
    registry_token.push(image, "proj/fail", tag="v1")
    cases = []
    expired = harbor_token(token_server, "proj/fail", lifetime=-3600)
    cases.append((harbor_preheat_body(front.url, "proj/fail", "v1", "", expired), "expired"))
    cases.append((harbor_preheat_body(front.url, "proj/fail", "v1", "", None), "requires authentication"))
    token = harbor_token(token_server, "proj/nope")
    cases.append((harbor_preheat_body(front.url, "proj/nope", "v1", "", token), "manifest unknown"))
    down = f"http://127.0.0.1:{free_port()}"
    cases.append((harbor_preheat_body(down, "proj/fail", "v1", "", token), "registry unreachable"))
    token_server.permissions[""] = {}           # anonymous pulls refused from here on
    for body, why in cases:
        r = sn.post("/preheats", body, AUTH)
        assert r.status_code == 201, r.text
        info = sn.poll_legacy(r.json()["ID"], AUTH)
        assert info["status"] == "FAILED", (why, info)
        assert why in info["errorMsg"], info
        assert info["finishTime"]
    assert requests.get(sn.url + "/_ping", timeout=5).status_code == 200
    assert front.served(image.layers[0].digest) == 0
    # a failed preheat may be posted again: the same id (headers do not count) runs again and succeeds
    good = harbor_preheat_body(front.url, "proj/fail", "v1", "", harbor_token(token_server, "proj/fail"))
    r = sn.post("/preheats", good, AUTH)
    assert r.status_code == 201 and r.json()["ID"] == sn.post("/preheats", good, AUTH).json()["ID"]
    assert sn.poll_legacy(r.json()["ID"], AUTH)["status"] == "SUCCESS"


def test_docker_schema2_image(sn, front, registry_token, token_server, oci_image_factory):
    image = oci_image_factory(layers=2, layer_size=48 << 10, tag="s2", seed=104)
    registry_token.push(image, "proj/schema2", tag="s2", format="v2s2")
    token = harbor_token(token_server, "proj/schema2")
    rec_id = sn.post("/preheats", harbor_preheat_body(front.url, "proj/schema2", "s2", "", token), AUTH).json()["ID"]
    assert sn.poll_legacy(rec_id, AUTH)["status"] == "SUCCESS"
    listed = {x["ID"]: x for x in sn.get("/preheats", headers=AUTH).json()}
    assert len(listed[rec_id]["children"]) == 1 + len(image.layers)         # config + layers
    assert all(listed[c]["status"] == "SUCCESS" and listed[c]["bytes"] > 0 for c in listed[rec_id]["children"])
