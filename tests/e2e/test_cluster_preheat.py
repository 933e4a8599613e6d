"""Issue 14 point 4 for preheats, with real parts: two supernode members on one real redis-server and a real
registry behind a counting front. A Dragonfly 2 preheat job created on member A is read by id (job and record)
on member B, and the same image asked again on B is the same record, not a second fetch; after A is restarted
(a clean stop, then a SIGKILL) the job and its record are still there on both, and B creates jobs that go on
with A's id sequence."""
from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.preheat.stack import full_gets, push_image_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _job(member, url) -> dict:
    r = requests.post(member.api + "/oapi/v1/jobs", json={"type": "preheat", "args": {"type": "image", "url": url}},
                      timeout=(3, 30))
    assert r.status_code == 200, r.text
    return r.json()


def _get_job(member, job_id) -> dict:
    r = requests.get(f"{member.api}/oapi/v1/jobs/{job_id}", timeout=(3, 30))
    assert r.status_code == 200, r.text
    return r.json()


def _wait_job(member, job_id, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = _get_job(member, job_id)
        if job["state"] != "PENDING" or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def _record(member, rec_id) -> dict:
    r = requests.get(f"{member.api}/api/v1/preheats/{rec_id}", timeout=(3, 30))
    assert r.status_code == 200, r.text
    return r.json()


def test_preheat_job_is_shared_and_survives_restarts(cluster_factory, registry_plain, counting_front,
                                                     oci_image_factory):
    front = counting_front(registry_plain)
    base = {"preheat": {"registries": [{"host": front.host, "scheme": "http"}]}}
    a = cluster_factory("ph-a", base=base)
    b = cluster_factory("ph-b", base=base)
    image = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=1444)
    repo = "cluster/preheated"
    push_image_http(registry_plain.url, repo, image, "v1")
    url = f"http://{front.host}/v2/{repo}/manifests/v1"

    job = _job(a, url)
    seen_on_b = _get_job(b, job["id"])                      # at once, while A still runs it
    assert seen_on_b["id"] == job["id"] and seen_on_b["task_id"] == job["task_id"], seen_on_b
    done = _wait_job(b, job["id"])
    assert done["state"] == "SUCCESS", done
    rec = _record(b, job["task_id"])
    assert rec["status"] == "SUCCESS" and rec["finishTime"], rec
    again = _job(b, url)                                    # the same image asked on B: A's record, no new fetch
    assert again["task_id"] == job["task_id"] and again["id"] > job["id"], again
    assert _wait_job(b, again["id"])["state"] == "SUCCESS"
    layers = [bl.digest for bl in image.blobs if bl.digest != image.manifest.digest]
    assert [full_gets(front, d) for d in layers] == [1] * len(layers), front.blob_gets

    a.stop()
    assert _get_job(b, job["id"])["state"] == "SUCCESS"     # B answers while A is away
    a.start()
    a.kill()
    a.start()
    for m in (a, b):
        assert _get_job(m, job["id"])["state"] == "SUCCESS"
        assert _record(m, job["task_id"])["status"] == "SUCCESS"
        ids = [j["id"] for j in requests.get(m.api + "/oapi/v1/jobs", timeout=(3, 30)).json()]
        assert ids == [job["id"], again["id"]], ids
    third = _job(b, url)
    assert third["id"] > again["id"] and _wait_job(a, third["id"])["state"] == "SUCCESS"
    assert [full_gets(front, d) for d in layers] == [1] * len(layers), front.blob_gets
