"""In-process supernode services in cluster mode on a real Redis, for the cluster tests."""
from __future__ import annotations

from supernode.config import load_config
from supernode.services import build_services


def cluster_config(redis_url: str, home: str, member_id: str, port: int = 8002, download_port: int = 8001,
                   **cluster):
    section = {"redis_url": redis_url, "member_id": member_id, "heartbeat_interval": "200ms",
               "member_ttl": "1s", "lease_ttl": "1s", **cluster}
    import os
    import yaml
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, "supernode.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"home_dir": home, "advertise_ip": "127.0.0.1", "storage_driver": "memory",
                        "port": port, "download_port": download_port, "cluster": section,
                        "fetch": {"allow": ["127.0.0.0/8", "::1"]}}, f)
    return load_config(path, environ={})


def cluster_services(redis_url: str, home: str, member_id: str, **kw):
    return build_services(cluster_config(redis_url, home, member_id, **kw))
