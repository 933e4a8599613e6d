"""Supernode configuration: defaults follow Dragonfly 1.x (supernode/config/constants.go).

Loaded by :func:`load_config` from ``/etc/dragonfly/supernode.yml`` (keys under ``base:``
are accepted as in Dragonfly, or at top level), ``SUPERNODE_*`` environment variables and
CLI flags. Every key is documented in docs/configuration.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dfcommon import config as cfg
from dfcommon.pieces import MAX_PIECE_SIZE, MiB
from dfcommon.units import parse_duration, parse_size
from supernode.preheat.config import PreheatConfig, validate_preheat
from webhooks.config import WebhookConfig
from webhooks.config import validate as validate_webhooks
from supernode.policies.config import PolicyConfig
from supernode.auth.config import AuthConfig, validate_auth
from supernode.cluster.config import ClusterConfig, validate_cluster
from supernode.fetch_guard import FetchConfig, validate_fetch

SIZE = {"parse": parse_size}
DURATION = {"parse": parse_duration}


@dataclass
class SupernodeConfig:
    REMOVED_KEYS = {       # accepted once (Dragonfly 1.x), never did anything here
        "link_limit": "it was never applied; pace the piece server with upload_rate, and peers with dfget "
                      "--locallimit / the dfdaemon's ratelimit",
    }
    # listeners
    listen_ip: str = "0.0.0.0"
    port: int = 8002                      # API (peer protocol, preheat, webhooks)
    download_port: int = 8001             # piece server (range reads of the CDN store)
    advertise_ip: str = ""                # IP given to peers for the piece server ("" = the IP the peer used)
    home_dir: str = "/home/admin/supernode"
    # CDN
    cdn_pattern: str = "local"            # local | source
    storage_driver: str = "local"         # local | memory
    max_bandwidth: int = field(default="0", metadata=SIZE)   # 0 = no back-to-source cap (Dragonfly 1.x: 200MB)
    system_bandwidth: int = field(default="20MB", metadata=SIZE)
    fail_access_interval: float = field(default="3m", metadata=DURATION)
    source_connect_timeout: float = field(default="5s", metadata=DURATION)
    source_read_timeout: float = field(default="60s", metadata=DURATION)
    cdn_writers: int = 4
    source_streams: int = 2               # connections one large back-to-source download uses (1 = one)
    source_chunk: int = field(default="16MB", metadata=SIZE)   # bytes per Range request of such a download
    piece_size: int = field(default="0", metadata=SIZE)    # 0 = about 256 pieces per file; else whole MiB, 1-15
    fast_digest: bool = True              # pieces also carry an XXH3-128 for our clients that ask (md5 stays)
    # scheduler
    scheduler_policy: str = "rarest-first"
    peer_up_limit: int = 4
    peer_down_limit: int = 4
    elimination_limit: int = 5
    failure_count_limit: int = 5
    supernode_upload_limit: int = 3       # pieces of one task the supernode sends at once (0 = peer_down_limit)
    supernode_upload_total: int = 4       # pieces of all tasks the supernode sends at once (0 = no such cap)
    upload_rate: int = field(default="0", metadata=SIZE)   # piece server pacing in bytes/s (0 = unpaced)
    pull_hold: float = field(default="1s", metadata=DURATION)   # hold a 602 until new pieces (0 = answer at once)
    # GC
    gc_initial_delay: float = field(default="6s", metadata=DURATION)
    gc_meta_interval: float = field(default="2m", metadata=DURATION)
    task_expire_time: float = field(default="3m", metadata=DURATION)
    peer_gc_delay: float = field(default="3m", metadata=DURATION)
    gc_disk_interval: float = field(default="15s", metadata=DURATION)
    young_gc_threshold: int = field(default="100GB", metadata=SIZE)
    full_gc_threshold: int = field(default="5GB", metadata=SIZE)
    interval_threshold: float = field(default="2h", metadata=DURATION)
    clean_ratio: int = 1
    # misc
    max_body_size: int = field(default="1MB", metadata=SIZE)
    max_header_size: int = field(default="64KB", metadata=SIZE)             # request headers, in total (431)
    request_head_timeout: float = field(default="30s", metadata=DURATION)   # request line + headers (408)
    client_read_timeout: float = field(default="60s", metadata=DURATION)    # a read/write without progress
    max_source_downloads: int = 64        # back-to-source downloads at once; a new task beyond is 503 (0 = any)
    log_level: str = "INFO"
    log_json: bool = False
    debug: bool = False
    # sections
    preheat: PreheatConfig = field(default_factory=lambda: cfg.build(PreheatConfig, {}, "preheat"))
    webhooks: WebhookConfig = field(default_factory=lambda: cfg.build(WebhookConfig, {}, "webhooks"))
    # preheat policies (cron/event triggers, run records)
    policies: PolicyConfig = field(default_factory=PolicyConfig)
    # component auth (bearer tokens with roles, peer tokens) and TLS of both listeners
    auth: AuthConfig = field(default_factory=lambda: cfg.build(AuthConfig, {}, "auth"))
    # cluster mode: shared state in Redis (no redis_url = one supernode, state in memory)
    cluster: ClusterConfig = field(default_factory=lambda: cfg.build(ClusterConfig, {}, "cluster"))
    # where the supernode may fetch for clients (sources, preheat registries, token realms): allow/deny lists
    fetch: FetchConfig = field(default_factory=FetchConfig)


def load_config(path: str | None = None, overrides: dict | None = None, environ=None) -> SupernodeConfig:
    data = cfg.read_yaml(path)
    if isinstance(data.get("base"), dict):          # Dragonfly's supernode.yml keeps keys under base:
        base = data.pop("base")
        data = {**base, **data}
    if isinstance(data.get("auth"), str):          # `auth: none` (or auto, on) as the whole section
        data["auth"] = {"mode": data["auth"]}
    env = cfg.env_overrides(SupernodeConfig, "SUPERNODE", environ)
    env = cfg.deep_merge(env, _chart_redis_env(environ))
    merged = cfg.deep_merge(cfg.deep_merge(data, env), {k: v for k, v in (overrides or {}).items() if v is not None})
    conf = cfg.build(SupernodeConfig, merged, "supernode config")
    validate(conf)
    return conf


def _chart_redis_env(environ=None) -> dict:
    """The Helm chart's ``SUPERNODE_REDIS_URL`` / ``SUPERNODE_REDIS_PASSWORD`` set the cluster section
    (``SUPERNODE_CLUSTER_REDIS_URL`` / ``SUPERNODE_CLUSTER_REDIS_PASSWORD`` are the same keys)."""
    import os
    environ = os.environ if environ is None else environ
    out = {}
    for var, key in (("SUPERNODE_REDIS_URL", "redis_url"), ("SUPERNODE_REDIS_PASSWORD", "redis_password")):
        if var in environ:
            out[key] = environ[var]
    return {"cluster": out} if out else {}


def validate(conf: SupernodeConfig) -> None:
    from dfcommon.errors import ConfigError
    if conf.cdn_pattern not in ("local", "source"):
        raise ConfigError(f"cdn_pattern must be 'local' or 'source', got {conf.cdn_pattern!r}")
    if conf.max_bandwidth > 0 and conf.max_bandwidth <= conf.system_bandwidth:
        raise ConfigError("max_bandwidth must be larger than system_bandwidth")
    for name in ("port", "download_port"):
        if not 0 <= getattr(conf, name) <= 65535:
            raise ConfigError(f"{name} must be a TCP port (0-65535)")
    if not 0 <= conf.pull_hold <= 4:
        raise ConfigError(f"pull_hold must be from 0 to 4s (clients give up on a reply after 5s), got {conf.pull_hold}s")
    if not 1 <= conf.source_streams <= 16:
        raise ConfigError(f"source_streams must be from 1 to 16, got {conf.source_streams}")
    if conf.source_chunk < MiB:
        raise ConfigError(f"source_chunk must be at least 1MB, got {conf.source_chunk} bytes")
    for name in ("supernode_upload_limit", "supernode_upload_total", "upload_rate"):
        if getattr(conf, name) < 0:
            raise ConfigError(f"{name} must be 0 or more")
    if conf.piece_size and (conf.piece_size % MiB or not MiB <= conf.piece_size <= MAX_PIECE_SIZE):
        raise ConfigError(f"piece_size must be 0 (by file length) or a whole number of MiB from 1MiB to 15MiB, "
                          f"got {conf.piece_size} bytes")
    validate_preheat(conf.preheat)
    validate_webhooks(conf.webhooks)
    from supernode.policies.config import validate_policies
    validate_policies(conf.policies)
    validate_auth(conf.auth)
    validate_cluster(conf.cluster, conf.advertise_ip)
    validate_fetch(conf.fetch)
