"""What the cluster cron tests share: the members' config for one policy database, the cron runs of a policy as
a member's API lists them, and the firing claims in Redis."""
from __future__ import annotations

import redis as redis_lib
import requests


def shared_policies(tmp_path, registry) -> dict:
    """Config for members that share one policy database (a SQLite file) and preheat from ``registry``."""
    db = tmp_path / "policies" / "policies.db"
    db.parent.mkdir()
    return {"policies": {"job_store_url": f"sqlite:///{db}", "poll_interval": "200ms", "misfire_grace_time": "5s"},
            "preheat": {"registries": [{"host": registry.host, "scheme": "http"}]}}


def cron_runs(member, pid) -> list[dict]:
    r = requests.get(f"{member.api}/api/v1/policies/{pid}/runs", timeout=(3, 30))
    assert r.status_code == 200, r.text
    return [x for x in r.json() if x["trigger"] == "cron"]


def firing_claims(redis_url, pid) -> dict[str, str]:
    """{claim key: member} of every firing of policy ``pid``."""
    c = redis_lib.Redis.from_url(redis_url, decode_responses=True)
    return {k: c.get(k) for k in c.keys(f"dfpy:cron:policy-{pid}:*")}
