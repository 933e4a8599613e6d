"""Harbor's Dragonfly 2 provider (>= 2.12) replayed against a real supernode process (OAUTH instance auth)
with a real docker-registry (token auth): jobs, states, multi-arch images warmed once, failures."""
import pytest

from .conftest import HARBOR_HEADERS, SupernodeProcess, df2_job_body, harbor_token

pytestmark = pytest.mark.e2e
PAT = "personal-access-token-0123456789"
AUTH = {"Authorization": f"Bearer {PAT}"}


@pytest.fixture(scope="module")
def sn(tmp_path_factory):
    proc = SupernodeProcess(tmp_path_factory.mktemp("sn-df2"), {"auth_mode": "oauth", "auth_token": PAT}).start()
    yield proc
    proc.stop()


@pytest.fixture
def front(registry_token, counting_front):
    return counting_front(registry_token)


def test_healthy_and_instance_auth(sn):
    assert sn.get("/healthy", headers=HARBOR_HEADERS).status_code == 200
    for bad in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {PAT}"}):
        r = sn.get("/oapi/v1/jobs/1", headers={**HARBOR_HEADERS, **bad})
        assert r.status_code == 401
    r = sn.post("/oapi/v1/jobs", {"type": "sync_peers", "args": {}}, AUTH)
    assert r.status_code == 400
    assert sn.get("/oapi/v1/jobs/999999", headers=AUTH).status_code == 404


def test_multi_arch_job_warms_every_platform_once(sn, front, registry_token, token_server, oci_image_factory):
    index = oci_image_factory(layers=2, layer_size=96 << 10, tag="multi", seed=201,
                              platforms=["linux/amd64", "linux/arm64"])
    repo = "library/multi"
    registry_token.push(index, repo, tag="multi")
    token = harbor_token(token_server, repo)
    r = sn.post("/oapi/v1/jobs", df2_job_body(f"{front.url}/v2/{repo}/manifests/multi", token), AUTH)
    assert r.status_code == 200, r.text
    job = r.json()
    assert isinstance(job["id"], int) and job["state"] == "PENDING"
    assert job["created_at"].endswith("Z") and job["updated_at"].endswith("Z")
    done = sn.poll_job(job["id"], AUTH)
    assert done["state"] == "SUCCESS", (done, sn.log_tail())
    blobs = {b.digest: b.size for img in index.images.values() for b in img.blobs}
    assert len(blobs) == 6
    for digest, size in blobs.items():
        assert front.served(digest) >= 1 and front.bytes_served(digest) <= size + 1
    results = done["result"]["job_states"][0]["results"][0]
    assert {t["url"].rsplit("/", 1)[-1] for t in results["success_tasks"]} == set(blobs)
    assert results["failure_tasks"] == []
    # a second job for the same image: a new id, already done, nothing fetched again
    before = {d: front.bytes_served(d) for d in blobs}
    again = sn.post("/oapi/v1/jobs", df2_job_body(f"{front.url}/v2/{repo}/manifests/multi", token), AUTH).json()
    assert again["id"] != job["id"]
    assert sn.poll_job(again["id"], AUTH)["state"] == "SUCCESS"
    assert {d: front.bytes_served(d) for d in blobs} == before


def test_platform_argument_filters_the_index(sn, front, registry_token, token_server, oci_image_factory):
    index = oci_image_factory(layers=1, layer_size=48 << 10, tag="p", seed=202,
                              platforms=["linux/amd64", "linux/arm64"])
    registry_token.push(index, "library/plat", tag="p")
    body = df2_job_body(f"{front.url}/v2/library/plat/manifests/p", harbor_token(token_server, "library/plat"))
    body["args"]["platform"] = "linux/arm64"
    job = sn.post("/oapi/v1/jobs", body, AUTH).json()
    assert sn.poll_job(job["id"], AUTH)["state"] == "SUCCESS"
    assert all(front.served(b.digest) >= 1 for b in index.images["linux/arm64"].blobs)
    assert all(front.served(b.digest) == 0 for b in index.images["linux/amd64"].layers)


def test_failed_job_reports_the_error(sn, front, registry_token, token_server):
    token = harbor_token(token_server, "library/missing")
    job = sn.post("/oapi/v1/jobs", df2_job_body(f"{front.url}/v2/library/missing/manifests/v9", token), AUTH).json()
    done = sn.poll_job(job["id"], AUTH)
    assert done["state"] == "FAILURE"
    assert "manifest unknown" in done["result"]["job_states"][0]["error"]
    assert sn.get("/healthy").status_code == 200


def test_records_and_job_ids_survive_a_restart(supernode_factory, front, registry_token, token_server,
                                               oci_image_factory):
    sn = supernode_factory({"auth_mode": "bearer", "auth_token": PAT})
    image = oci_image_factory(layers=1, layer_size=32 << 10, tag="r", seed=204)
    registry_token.push(image, "library/restart", tag="r")
    url = f"{front.url}/v2/library/restart/manifests/r"
    job = sn.post("/oapi/v1/jobs", df2_job_body(url, harbor_token(token_server, "library/restart")), AUTH).json()
    done = sn.poll_job(job["id"], AUTH)
    assert done["state"] == "SUCCESS"
    sn.stop()
    sn.start()
    again = sn.get(f"/oapi/v1/jobs/{job['id']}", headers=AUTH).json()
    assert again["state"] == "SUCCESS" and again["task_id"] == done["task_id"]
    assert sn.get(f"/preheats/{done['task_id']}", headers=AUTH).json()["status"] == "SUCCESS"
    nxt = sn.post("/oapi/v1/jobs", df2_job_body(url, None), AUTH).json()
    assert nxt["id"] > job["id"]
