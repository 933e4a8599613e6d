"""The ``cluster:`` section of the supernode config.

Without ``redis_url`` the supernode runs alone with its state in memory (the embedded default). With it,
the supernode is a member of a cluster whose shared state lives in that Redis (docs/cluster.md).

Environment: ``SUPERNODE_CLUSTER_<KEY>``; the chart's ``SUPERNODE_REDIS_URL`` and ``SUPERNODE_REDIS_PASSWORD``
set ``redis_url`` and ``redis_password`` too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration

DURATION = {"parse": parse_duration}
_MEMBER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
SCHEMES = ("redis", "rediss", "unix")
PIECE_SOURCES = ("holder", "relay")


@dataclass
class ClusterConfig:
    redis_url: str = ""                 # "" = no cluster (state in memory); redis://host:port/db, rediss://, unix://
    redis_password: str = ""            # used when the URL carries none
    member_id: str = ""                 # "" = <advertise>:<port>; unique per member
    advertise: str = ""                 # host other members reach this one at ("" = advertise_ip)
    key_prefix: str = "dfpy"            # every Redis key starts with "<key_prefix>:"
    heartbeat_interval: float = field(default="2s", metadata=DURATION)
    member_ttl: float = field(default="10s", metadata=DURATION)      # no heartbeat this long: dropped
    lease_ttl: float = field(default="15s", metadata=DURATION)       # a CDN lease not renewed this long expires
    redis_timeout: float = field(default="2s", metadata=DURATION)    # connect and read timeout of each call
    # where a peer of this member fetches the supernode's pieces of a task another member fetched: "holder"
    # (straight from that member's piece server: its uplink sends each piece once, as one supernode's does)
    # or "relay" (from this member's piece server, which streams it from the holder's: one more hop)
    piece_source: str = "holder"

    @property
    def enabled(self) -> bool:
        return bool(self.redis_url)


def validate_cluster(conf: ClusterConfig, advertise_ip: str = "") -> ClusterConfig:
    if not conf.enabled:
        return conf
    url = conf.redis_url.strip()
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"cluster.redis_url must start with redis://, rediss:// or unix://, got {_safe(url)!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"cluster.redis_url has no host: {_safe(url)!r}")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"cluster.redis_url has an invalid port: {_safe(url)!r}") from None
    db = parts.path.lstrip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise ConfigError(f"cluster.redis_url database must be a number, got {db!r}")
    conf.redis_url = url
    if conf.member_id and not _MEMBER_ID.match(conf.member_id):
        raise ConfigError("cluster.member_id must be 1-128 characters of letters, digits and . _ : -, "
                          f"got {conf.member_id!r}")
    if not _PREFIX.match(conf.key_prefix or ""):
        raise ConfigError(f"cluster.key_prefix must be 1-64 characters of letters, digits and . _ : -, "
                          f"got {conf.key_prefix!r}")
    if not (conf.advertise or advertise_ip):
        raise ConfigError("cluster mode needs an address the other members reach this one at: "
                          "set cluster.advertise or advertise_ip")
    if conf.heartbeat_interval <= 0:
        raise ConfigError("cluster.heartbeat_interval must be positive")
    if conf.member_ttl < 2 * conf.heartbeat_interval:
        raise ConfigError(f"cluster.member_ttl ({conf.member_ttl}s) must be at least twice "
                          f"cluster.heartbeat_interval ({conf.heartbeat_interval}s)")
    if conf.lease_ttl < 2 * conf.heartbeat_interval:
        raise ConfigError(f"cluster.lease_ttl ({conf.lease_ttl}s) must be at least twice "
                          f"cluster.heartbeat_interval ({conf.heartbeat_interval}s): leases are renewed at each beat")
    if conf.piece_source not in PIECE_SOURCES:
        raise ConfigError(f"cluster.piece_source must be one of {', '.join(PIECE_SOURCES)}, "
                          f"got {conf.piece_source!r}")
    if not 0 < conf.redis_timeout <= 30:
        raise ConfigError(f"cluster.redis_timeout must be from 0 to 30s, got {conf.redis_timeout}s")
    return conf


def _safe(url: str) -> str:
    """The URL without its password (error messages and logs)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


safe_url = _safe
