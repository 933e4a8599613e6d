"""Issue 14, cron schedules in a cluster, with real parts: two supernode members on one real redis-server and
one policy database (the shared SQLAlchemy job store; a SQLite file both processes open, as they run on one
host here) and a real registry. A policy firing every two seconds, created through member A: every firing
runs exactly once in the cluster (one run record per Redis claim, never two runs of one firing), both members
see the schedule, each member ran exactly the firings it claimed, and the firings go on when the member the
policy was created on is stopped."""
from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from supernode.policies.models import iso
from tests.e2e.cluster_cron import cron_runs, firing_claims, shared_policies
from tests.e2e.preheat.stack import push_image_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EVERY_2S = "*/2 * * * * *"


def _api(member, method, path, **kw):
    return requests.request(method, member.api + "/api/v1" + path, timeout=(3, 30), **kw)


def _stamp(seconds: str) -> str:
    """A claim key's scheduled time as the run API writes ``scheduled_at``."""
    return iso(float(seconds))


def _settle(member, pid, redis_url, timeout=30.0):
    """(runs, claims) once every claimed firing has its finished run record."""
    deadline = time.monotonic() + timeout
    while True:
        runs, claims = cron_runs(member, pid), firing_claims(redis_url, pid)
        whole = [r for r in runs if not (r["status"] == "failed" and "interrupted" in r["error"])]
        if len(whole) == len(claims) and all(r["status"] != "running" for r in runs):
            return runs, claims
        if time.monotonic() > deadline:
            return runs, claims
        time.sleep(0.2)


def test_each_cron_firing_runs_once_in_the_cluster(cluster_factory, redis_url, tmp_path, registry_plain,
                                                   oci_image_factory):
    image = oci_image_factory(layers=1, layer_size=64 << 10, tag="v1", seed=1477)
    push_image_http(registry_plain.url, "cron/app", image, "v1")
    base = shared_policies(tmp_path, registry_plain)
    a = cluster_factory("cron-a", base=base)
    b = cluster_factory("cron-b", base=base)
    r = _api(a, "POST", "/policies", json={"name": "every-2s", "registry": registry_plain.url,
                                          "repository": "cron/app", "tag": "v1", "triggers": {"cron": EVERY_2S}})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert _api(b, "GET", f"/policies/{pid}").json()["triggers"]["cron"] == EVERY_2S    # B sees the schedule

    time.sleep(9)
    a.stop()                        # the firings go on on B
    time.sleep(5)
    _api(b, "PATCH", f"/policies/{pid}", json={"enabled": False})
    runs, claims = _settle(b, pid, redis_url)

    assert len(claims) >= 5, claims
    assert set(claims.values()) <= {"cron-a", "cron-b"} and "cron-b" in claims.values(), claims
    # A's stop may cut a run of A's short: that firing is then run again by B (test_cluster_cron_takeover.py)
    cut = [x for x in runs if x["status"] == "failed" and "interrupted" in x["error"]]
    assert all(x["member"] == "cron-a" for x in cut), cut
    runs = [x for x in runs if x not in cut]
    assert len(runs) == len(claims), (len(runs), sorted(claims))           # one run per firing, none twice
    by_firing = {_stamp(k.rsplit(":", 1)[1]): member for k, member in claims.items()}
    assert sorted(x["scheduled_at"] for x in runs) == sorted(by_firing), (runs, claims)
    again = {x["scheduled_at"] for x in cut}
    # each member ran exactly the firings it claimed, but for one cut short by A's stop
    assert all(x["member"] == by_firing[x["scheduled_at"]] or x["scheduled_at"] in again for x in runs), (runs, claims)
    assert Counter(x["member"] for x in runs if x["scheduled_at"] not in again) == \
        Counter(m for t, m in by_firing.items() if t not in again), (runs, claims)
    starts = sorted(x["started_at"] for x in runs)
    firings = sorted(float(k.rsplit(":", 1)[1]) for k in claims)
    assert all(later - earlier >= 1.9 for earlier, later in zip(firings, firings[1:])), firings
    assert len(starts) == len(set(starts))
    assert all(x["status"] == "succeeded" for x in runs), [x for x in runs if x["status"] != "succeeded"]
