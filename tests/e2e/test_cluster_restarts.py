"""Issue 14, item 4: every member of a three-member cluster restarted one by one during a run (two stopped with
SIGTERM, one SIGKILLed, each started again on its ports) while dfgets download through them, with a preheat job
and a cron policy (shared SQLite policy database, as in test_cluster_cron.py). Nothing is lost: every download
finishes byte-exact, the task is still known (a later dfget takes it without a new origin fetch), the preheat
job is read on every member, and the cron firings go on after the last restart. Real redis-server, real
supernode and dfget processes, real registry, a real origin counting its bytes."""
from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.cluster_cron import firing_claims, shared_policies
from tests.e2e.p2p_stack import start_dfget, stop_upload_servers
from tests.e2e.preheat.stack import push_image_http
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import sha256_file

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MiB = 1 << 20
EVERY_2S = "*/2 * * * * *"


def _job_done(member, job_id, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(f"{member.api}/oapi/v1/jobs/{job_id}", timeout=(3, 30))
        assert r.status_code == 200, r.text
        job = r.json()
        if job["state"] != "PENDING" or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_every_member_restarted_one_by_one_during_a_run(cluster_factory, redis_url, tmp_path, registry_plain,
                                                       oci_image_factory):
    image = oci_image_factory(layers=1, layer_size=256 << 10, tag="v1", seed=1478)
    push_image_http(registry_plain.url, "restart/app", image, "v1")
    base = {**shared_policies(tmp_path, registry_plain), "source_streams": 1}
    root = tmp_path / "origin"
    root.mkdir()
    size = 24 * MiB
    digest = make_file(str(root / "blob.bin"), size, seed=15)
    origin = OriginServer(str(root), rate=2 * MiB).start()           # about 12 s from the origin
    homes = []
    try:
        members = [cluster_factory(m, base=base) for m in ("rs-a", "rs-b", "rs-c")]
        a = members[0]
        nodes = [m.node for m in members]
        r = requests.post(a.api + "/api/v1/policies", timeout=(3, 30), json={
            "name": "every-2s", "registry": registry_plain.url, "repository": "restart/app", "tag": "v1",
            "triggers": {"cron": EVERY_2S}})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = requests.post(a.api + "/oapi/v1/jobs", timeout=(3, 30), json={
            "type": "preheat", "args": {"type": "image", "url": f"{registry_plain.url}/v2/restart/app/manifests/v1"}})
        assert r.status_code in (200, 201), r.text
        job_id = r.json()["id"]

        url = origin.url("blob.bin")
        procs = []
        for i in range(4):
            out = tmp_path / "out" / f"f{i}.bin"
            out.parent.mkdir(exist_ok=True)
            home = str(tmp_path / "hosts" / f"h{i}")
            homes.append(home)
            procs.append((out, start_dfget(url, str(out), home, nodes, ["--notbs"])))
        # one by one: SIGTERM + start, SIGTERM + start, SIGKILL + start, spread over the origin fetch
        for member, kill, at in zip(members, (False, False, True), (0.2, 0.45, 0.7)):
            deadline = time.monotonic() + 60
            while origin.bytes_sent["/blob.bin"] < at * size and time.monotonic() < deadline:
                time.sleep(0.05)
            member.kill() if kill else member.stop()
            time.sleep(1)
            member.start()
        restarted_at = time.time()
        results = [(out, p.communicate(timeout=240)[0], p.returncode) for out, p in procs]
        for out, output, code in results:
            assert code == 0, "\n".join(o for _, o, _ in results)
            assert sha256_file(out) == digest
        sent = origin.bytes_sent["/blob.bin"]
        print(f"origin bytes after three restarts={sent / size:.3f}x")
        assert sent <= 1.1 * size

        # the task survived: a later dfget through each member is served without a new origin fetch
        for i, member in enumerate(members):
            out = tmp_path / "out" / f"late{i}.bin"
            home = str(tmp_path / "hosts" / f"late{i}")
            homes.append(home)
            p = start_dfget(url, str(out), home, [member.node], ["--notbs"])
            output, _ = p.communicate(timeout=120)
            assert p.returncode == 0, output
            assert sha256_file(out) == digest
        assert origin.bytes_sent["/blob.bin"] == sent

        # the preheat job is read on every member, finished
        for member in members:
            job = _job_done(member, job_id)
            assert job["state"] == "SUCCESS", job
        # the cron schedule survived on every member and firings went on after the last restart
        for member in members:
            r = requests.get(f"{member.api}/api/v1/policies/{pid}", timeout=(3, 30))
            assert r.status_code == 200 and r.json()["triggers"]["cron"] == EVERY_2S, r.text
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            later = [k for k in firing_claims(redis_url, pid) if float(k.rsplit(":", 1)[1]) > restarted_at]
            if len(later) >= 2:
                break
            time.sleep(0.5)
        assert len(later) >= 2, firing_claims(redis_url, pid)
        requests.patch(f"{a.api}/api/v1/policies/{pid}", json={"enabled": False}, timeout=(3, 30))
    finally:
        stop_upload_servers(*homes)
        origin.stop()
