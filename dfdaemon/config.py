"""The dfdaemon's settings: a YAML file (Dragonfly 1.x key names), ``DFDAEMON_*`` environment, CLI flags.

Precedence: defaults < YAML < environment < flags. Unknown keys are fatal. Dragonfly's spellings
(``registry_mirror``, ``workHome``, ``localrepo``, ``hostIp``, ``peerPort``, ``ratelimit``,
``supernodes``, ``dfget_flags``, ``proxies``, ``hijack_https``) keep their meaning; our additions are
``registries`` (several upstream registries), ``docker_config``, ``cache`` and ``upload``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dfcommon import config as cfg
from dfcommon.errors import ConfigError
from dfcommon.linkspeed import parse_host_limit
from dfcommon.logging import LogConfig
from dfcommon.units import parse_duration, parse_size

SIZE = {"parse": parse_size}
DURATION = {"parse": parse_duration}
DOCKER_HUB_URL = "https://registry-1.docker.io"
ENV_PREFIX = "DFDAEMON"
DEFAULT_FILTERS = ["Expires", "Signature"]
ACCESS_MODES = ("guard", "none")


@dataclass
class RegistryMirrorConfig:
    remote: str = ""                                    # default upstream URL ("" = Docker Hub)
    certs: list = field(default_factory=list)           # extra CA files for the default upstream
    insecure: bool = False                              # skip TLS verification of the default upstream
    direct: bool = False                                # never use P2P: blobs straight from the upstream
    dynamic: bool = True                                # accept unconfigured registry hosts from ns/header/path


@dataclass
class UpstreamConfig:
    """One upstream registry clients may name (``?ns=``, ``X-Dragonfly-Registry``, path prefix)."""
    name: str = ""                                      # how clients name it (e.g. docker.io); "" = url host
    url: str = ""                                       # scheme://host[:port]
    aliases: list = field(default_factory=list)         # other names clients may use
    insecure: bool = False
    ca_file: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    token_cert: str = ""                                # certificate bundle that signs the registry's tokens
    jwks: str = ""                                      # or a JWKS file with the signing keys
    token_issuer: str = ""
    token_service: str = ""


@dataclass
class CacheConfig:
    dir: str = ""                                       # "" = <workHome>/mirror/blobs
    max_size: int = field(default=10 << 30, metadata=SIZE)


@dataclass
class UploadConfig:
    enabled: bool = True                                # serve our pieces to other peers
    expire: float = field(default=180.0, metadata=DURATION)
    total_limit: int = field(default=0, metadata={"parse": parse_host_limit})   # 0 = unlimited; auto: 80% of the link
    gc_interval: float = field(default=15.0, metadata=DURATION)
    disk_max_used: int = field(default=0, metadata=SIZE)   # served files' total; 0 = no limit
    disk_min_free: int = field(default=0, metadata=SIZE)   # free bytes kept on the data disk; 0 = no limit
    tls_cert: str = ""                                  # PEM certificate: serve peers over https
    tls_key: str = ""                                   # its PEM key


@dataclass
class DfdaemonConfig:
    REMOVED_KEYS = {       # Dragonfly 1.x dfdaemon keys that did nothing here (one gevent process, in-process dfget)
        "maxprocs": "the dfdaemon is one gevent process; the setting never did anything",
        "stream_mode": "blobs are always streamed to the client while they download",
        "dfpath": "the dfdaemon downloads in-process and runs no dfget binary",
    }
    port: int = 65001
    host_ip: str = field(default="127.0.0.1", metadata={"aliases": ("hostIp",)})
    allowed_clients: list = field(default_factory=list)  # CIDRs that may use the mirror/proxy (loopback always)
    client_auth: str = "auto"                           # auto: off loopback needs allowed_clients; none: open
    local_ip: str = field(default="", metadata={"aliases": ("localIP",)})
    peer_port: int = field(default=0, metadata={"aliases": ("peerPort",)})
    work_home: str = field(default="~/.small-dragonfly", metadata={"aliases": ("workHome",)})
    localrepo: str = ""                                 # downloader home ("" = <workHome>/dfdaemon)
    nodes: list = field(default_factory=list)
    supernodes: list = field(default_factory=list)      # Dragonfly's legacy spelling of nodes
    supernode_token: str = field(default="", repr=False)
    supernode_tls: bool = False                         # https to the supernode (system CAs)
    supernode_ca: list = field(default_factory=list)    # CA files of the supernode and https peers (implies https)
    ratelimit: int = field(default="0", metadata=SIZE)   # 0 = no per-download cap (issue: no 20 MB/s default)
    min_rate: int = field(default="64KB", metadata=SIZE)
    client_queue_size: int = 6
    certpem: str = ""
    keypem: str = ""
    verbose: bool = False
    log_level: str = "INFO"
    log_json: bool = False
    log_config: LogConfig = field(default_factory=LogConfig, metadata={"aliases": ("logConfig",)})
    registry_mirror: RegistryMirrorConfig = field(default_factory=RegistryMirrorConfig)
    registries: list[UpstreamConfig] = field(default_factory=list)
    access: str = "guard"                               # guard (check every pull) or none (trusted host)
    prefetch: bool = True                               # preheat an image's blobs once its manifest was served
    docker_config: str = ""                             # docker config.json with registry credentials
    credential_providers: list = field(default_factory=list)   # dragonfly.credentials plug-ins, asked in order
    filters: list = field(default_factory=lambda: list(DEFAULT_FILTERS))   # query keys left out of task ids
    dfget_flags: list = field(default_factory=list)     # Dragonfly's verbatim dfget flags (-f, --node read)
    cache: CacheConfig = field(default_factory=CacheConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    upstream_timeout: float = field(default="30s", metadata=DURATION)      # read timeout upstream
    connect_timeout: float = field(default="5s", metadata=DURATION)
    stall_timeout: float = field(default="120s", metadata=DURATION)        # no byte for this long = failure
    lazy_range_gap: int = field(default=8 << 20, metadata=SIZE)   # cold Range this far ahead: from the origin
    proxies: list = field(default_factory=list)         # HTTP proxy rules (proxy mode)
    hijack_https: dict = field(default_factory=dict)    # HTTPS hijacking (proxy mode)

    # -- derived values ------------------------------------------------------------------
    @property
    def home(self) -> str:
        return os.path.abspath(os.path.expanduser(self.work_home))

    @property
    def downloader_home(self) -> str:
        return os.path.abspath(os.path.expanduser(self.localrepo)) if self.localrepo else \
            os.path.join(self.home, "dfdaemon")

    @property
    def data_dir(self) -> str:
        """Where P2P downloads land and the upload server serves pieces from."""
        return os.path.join(self.downloader_home, "data")

    @property
    def cache_dir(self) -> str:
        return os.path.abspath(os.path.expanduser(self.cache.dir)) if self.cache.dir else \
            os.path.join(self.home, "mirror", "blobs")

    @property
    def supernode_scheme(self) -> str:
        return "https" if self.supernode_tls or self.supernode_ca else "http"

    @property
    def node_list(self) -> list:
        nodes = list(self.nodes or self.supernodes) or _flag_values(self.dfget_flags, "--node", "-n")
        out = []
        for n in nodes:
            out.extend(p.strip() for p in str(n).split(",") if p.strip())
        return out or ["127.0.0.1:8002"]

    @property
    def task_filters(self) -> list:
        """Query keys dropped from task URLs; ``ns`` always, so preheated blobs share the task id."""
        keys = list(self.filters) + [k for v in _flag_values(self.dfget_flags, "--filter", "-f")
                                     for k in v.split("&") if k]
        if "ns" not in keys:
            keys.append("ns")
        return list(dict.fromkeys(keys))

    @property
    def default_remote(self) -> str:
        return (self.registry_mirror.remote or DOCKER_HUB_URL).rstrip("/")


def _flag_values(flags, *names) -> list:
    out, items = [], list(flags or ())
    for i, item in enumerate(items):
        text = str(item)
        for name in names:
            if text == name and i + 1 < len(items):
                out.append(str(items[i + 1]))
            elif text.startswith(name + "="):
                out.append(text.split("=", 1)[1])
    return out


def validate(conf: DfdaemonConfig) -> DfdaemonConfig:
    if not 0 < conf.port < 65536:
        raise ConfigError(f"port {conf.port} is out of range")
    if not 0 <= conf.peer_port < 65536:
        raise ConfigError(f"peerPort {conf.peer_port} is out of range")
    if bool(conf.certpem) != bool(conf.keypem):
        raise ConfigError("certpem and keypem must be given together")
    conf.log_config.check("logConfig")
    _check_url(conf.default_remote, "registry_mirror.remote")
    from dfdaemon.client_guard import CLIENT_AUTH_MODES, parse_networks
    if isinstance(conf.allowed_clients, str):          # DFDAEMON_ALLOWED_CLIENTS="10.0.0.0/8,192.168.1.7"
        conf.allowed_clients = [n.strip() for n in conf.allowed_clients.split(",") if n.strip()]
    parse_networks(conf.allowed_clients)
    if conf.client_auth not in CLIENT_AUTH_MODES:
        raise ConfigError(f"client_auth must be one of {', '.join(CLIENT_AUTH_MODES)}, got {conf.client_auth!r}")
    if conf.access not in ACCESS_MODES:
        raise ConfigError(f"access: unknown mode {conf.access!r} (valid: {', '.join(ACCESS_MODES)})")
    seen = set()
    for i, up in enumerate(conf.registries):
        _check_url(up.url, f"registries[{i}].url")
        name = (up.name or urlsplit(up.url).netloc).lower()
        if name in seen:
            raise ConfigError(f"registries[{i}]: registry {name!r} is configured twice")
        seen.add(name)
        if up.token_cert and up.jwks:
            raise ConfigError(f"registries[{i}]: give token_cert or jwks, not both")
    if not isinstance(conf.proxies, list):
        raise ConfigError("proxies must be a list")
    from dfcommon.tls import check_pair
    check_pair(conf.upload.tls_cert, conf.upload.tls_key, "upload.tls_cert/upload.tls_key")
    return conf


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: {url!r} must be an http:// or https:// URL")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"{where}: {url!r} must be a bare scheme://host[:port]")


def load_config(path: str | None = None, overrides: dict | None = None, environ=None) -> DfdaemonConfig:
    """Defaults < YAML ``path`` < ``DFDAEMON_*`` environment < ``overrides`` (flags; None ignored)."""
    return validate(cfg.load(DfdaemonConfig, path, ENV_PREFIX, overrides, environ))


SECRET_KEYS = ("password", "supernode_token", "keypem_data")


def redacted(conf: DfdaemonConfig) -> dict:
    """The effective config as a dict with secrets replaced (``dfdaemon config``)."""
    doc = cfg.as_dict(conf)

    def scrub(node):
        if isinstance(node, dict):
            return {k: ("<redacted>" if k in SECRET_KEYS and v else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node
    return scrub(doc)
