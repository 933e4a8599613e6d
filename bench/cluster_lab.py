"""A supernode cluster inside emulated hosts (:mod:`bench.hosts`): a real redis-server in a host of its own,
supernode members started with a ``cluster`` config section (one host each), dfget's ``--node`` list over the
members, and what is read from them (peak RSS, Redis round trips per ``/peer/task`` call, the CDN lease
holder). Used by the cluster case of ``bench.distribution`` and by the multi-host cluster e2e test."""
from __future__ import annotations

import os
import shutil

import redis
import yaml

from bench.hosts import Lab, LabError

REDIS_PORT = 6379
KEY_PREFIX = "dfpy"            # cluster.key_prefix default (docs/configuration.md)
ROUND_TRIPS = "dragonfly_supernode_cluster_redis_round_trips_per_pull"


def redis_missing() -> str | None:
    """Why no redis-server can run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian package redis-server; scripts/install-system-deps.sh)"
    return None


def start_redis(lab: Lab, host: str, workdir: str, probe_host: str, port: int = REDIS_PORT):
    """redis-server bound to ``host``'s address (no persistence); waits until ``probe_host`` reaches it.
    Returns (process, redis URL)."""
    why = redis_missing()
    if why:
        raise LabError(why)
    os.makedirs(workdir, exist_ok=True)
    ip = lab.ip(host)
    proc = lab.popen(host, ["redis-server", "--port", str(port), "--bind", ip, "--dir", workdir,
                            "--save", "", "--appendonly", "no", "--protected-mode", "no"], name="redis")
    lab.wait_tcp(probe_host, ip, port, proc=proc)
    return proc, f"redis://{ip}:{port}/0"


def member_config(lab: Lab, home: str, member: str, redis_url: str, api_port: int, pieces_port: int,
                  base: dict | None = None, timings: dict | None = None) -> str:
    """Write ``home/supernode.yml``: the member's ports and addresses on its host, ``base`` keys, and a
    ``cluster`` section (member id = host name; heartbeat 500ms and 5s member/lease TTLs unless ``timings``
    says otherwise). Returns its path."""
    os.makedirs(home, exist_ok=True)
    ip = lab.ip(member)
    cluster = {"redis_url": redis_url, "member_id": member, "heartbeat_interval": "500ms",
               "member_ttl": "5s", "lease_ttl": "5s", **(timings or {})}
    path = os.path.join(home, "supernode.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"home_dir": home, "port": api_port, "download_port": pieces_port, "listen_ip": ip,
                        "advertise_ip": ip, "gc_initial_delay": "1h", "auth": "none", **(base or {}),
                        "cluster": cluster}, f)
    return path


def start_member(lab: Lab, member: str, config: str, probe_host: str, api_port: int, pieces_port: int,
                 extra=(), env: dict | None = None, timeout: float = 30):
    """A ``supernode --config <config> [extra flags]`` in host ``member``; waits until ``probe_host`` reaches
    its API and piece server ports. Flags in ``extra`` override the file's keys."""
    from tests.helpers import script
    proc = lab.popen(member, [script("supernode"), "--config", config, *extra], name="supernode", env=env)
    lab.wait_tcp(probe_host, lab.ip(member), api_port, proc=proc, timeout=timeout)
    lab.wait_tcp(probe_host, lab.ip(member), pieces_port, proc=proc, timeout=timeout)
    return proc


def nodes_arg(lab: Lab, members, first: str, api_port: int) -> str:
    """``--node`` of a dfget whose member is ``first``: that member, then the others. dfget shuffles its node
    list by weight (as Dragonfly's does), so its own member has weight 20 against 1 for each other."""
    order = [first] + [m for m in members if m != first]
    return ",".join(f"{lab.ip(m)}:{api_port}" + ("=20" if m == first else "=1") for m in order)


def lease_holders(redis_url: str) -> dict[str, str]:
    """``{task id: member id}`` of the CDN leases in Redis (``<prefix>:lease:cdn:<task>``)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5, decode_responses=True)
    try:
        pattern = f"{KEY_PREFIX}:lease:cdn:*"
        keys = list(client.scan_iter(match=pattern, count=100))
        values = client.mget(keys) if keys else []
        return {k.split(":lease:cdn:", 1)[1]: v for k, v in zip(keys, values) if v}
    finally:
        client.close()


def peak_rss_bytes(pid: int) -> int | None:
    """Peak resident set size of a live process (``VmHWM`` of /proc/<pid>/status), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def histogram(text: str, name: str) -> tuple[float, float]:
    """(sum, count) of the Prometheus histogram ``name`` in a text exposition, summed over its label sets."""
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, _, value = line.rpartition(" ")
        metric = key.partition("{")[0]
        if metric == f"{name}_sum":
            total += float(value)
        elif metric == f"{name}_count":
            count += float(value)
    return total, count


def round_trips_per_pull(text: str) -> tuple[float | None, int]:
    """Mean Redis round trips per ``/peer/task`` call a member answered (histogram sum / count) and the number
    of calls; (None, 0) when it answered none."""
    total, count = histogram(text, ROUND_TRIPS)
    return (total / count if count else None), int(count)
