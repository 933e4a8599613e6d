"""dfget's settings: ``/etc/dragonfly/dfget.yml`` (or ``--config``), then the flags; the CLI wins.

File keys (Dragonfly 1.x spelling, snake_case accepted too): ``nodes``, ``localLimit``,
``minRate``, ``totalLimit``, ``clientQueueSize``, ``workHome``, ``logConfig``; our additions
``stallTimeout``, ``supernodeToken``, ``supernodeTokenFile``, ``supernodeTls``, ``supernodeCa``, ``uploadTlsCert``,
``uploadTlsKey``. The token may also come from ``DFGET_SUPERNODE_TOKEN``. Without a
YAML file the legacy INI ``/etc/dragonfly.conf`` (``[node] address=a,b``) is read.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field

from dfcommon import config as cfg
from dfcommon.errors import ConfigError
from dfcommon.linkspeed import parse_host_limit
from dfcommon.logging import LogConfig
from dfcommon.units import parse_duration, parse_size

from dfdaemon.p2p.options import DownloaderOptions

DEFAULT_CONFIG = "/etc/dragonfly/dfget.yml"
LEGACY_CONFIG = "/etc/dragonfly.conf"
SIZE = {"parse": parse_size}


@dataclass
class DfgetFileConfig:
    nodes: list = field(default_factory=list)
    local_limit: int = field(default="0", metadata=SIZE)   # 0 = unlimited (Dragonfly 1.x had 20MB)
    min_rate: int = field(default="64KB", metadata=SIZE)
    total_limit: int = field(default="0", metadata={"parse": parse_host_limit})   # or auto (dfcommon.linkspeed)
    client_queue_size: int = 6
    stall_timeout: float = field(default="10s", metadata={"parse": parse_duration})   # our addition
    work_home: str = "~/.small-dragonfly"
    log_config: LogConfig = field(default_factory=LogConfig)   # logConfig: path, maxSize (MiB), maxBackups
    # our additions (component auth and TLS, see docs/security.md)
    supernode_token: str = field(default="", repr=False)   # API token with role peer (prefer the file)
    supernode_token_file: str = ""       # file holding that token
    supernode_tls: bool = False          # https to the supernode with the system roots
    supernode_ca: list = field(default_factory=list)   # CA files of the supernode and peers (implies https)
    upload_tls_cert: str = ""            # TLS of the upload server dfget starts
    upload_tls_key: str = ""


def load_file_config(path: str | None = None, legacy_path: str = LEGACY_CONFIG) -> DfgetFileConfig:
    """Read ``path`` (must exist when given), else the default YAML, else the legacy INI, else defaults."""
    if path:
        return cfg.build(DfgetFileConfig, cfg.read_yaml(path), f"config {path}")
    if os.path.isfile(DEFAULT_CONFIG):
        return cfg.build(DfgetFileConfig, cfg.read_yaml(DEFAULT_CONFIG), f"config {DEFAULT_CONFIG}")
    if legacy_path and os.path.isfile(legacy_path):
        return cfg.build(DfgetFileConfig, read_legacy_ini(legacy_path), f"config {legacy_path}")
    return cfg.build(DfgetFileConfig, {})


def read_legacy_ini(path: str) -> dict:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as e:
        raise ConfigError(f"config file {path} is not valid INI: {e}") from None
    address = parser.get("node", "address", fallback="")
    return {"nodes": [a.strip() for a in address.split(",") if a.strip()]}


def parse_header(text: str) -> tuple[str, str]:
    """``'Key: Value'`` or ``'Key:Value'`` -> (key, value)."""
    if ":" not in text:
        raise ValueError(f"header {text!r} must look like 'Key: Value'")
    key, value = text.split(":", 1)
    if not key.strip():
        raise ValueError(f"header {text!r} has an empty name")
    return key.strip(), value.strip()


def split_nodes(values) -> list[str]:
    out = []
    for v in values or ():
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


def build_options(args, file_conf: DfgetFileConfig) -> DownloaderOptions:
    """Merge the file config and the flags (flags given on the command line win)."""
    home = args.home or file_conf.work_home
    nodes = split_nodes(args.node) or list(file_conf.nodes) or ["127.0.0.1:8002=1"]
    pick = lambda flag, conf: conf if flag is None else flag  # noqa: E731
    return DownloaderOptions(
        work_home=os.path.abspath(os.path.expanduser(home)),
        nodes=nodes,
        local_limit=pick(args.locallimit, file_conf.local_limit),
        local_limit_source=("dfget --locallimit" if args.locallimit is not None else "dfget config localLimit"),
        min_rate=pick(args.minrate, file_conf.min_rate),
        total_limit=pick(args.totallimit, file_conf.total_limit),
        client_queue_size=pick(args.clientqueue, file_conf.client_queue_size),
        stall_timeout=pick(getattr(args, "stall_timeout", None), file_conf.stall_timeout),
        ip=args.ip or "",
        port=args.port or 0,
        alive_time=pick(args.alivetime, 300.0),
        expire_time=pick(args.expiretime, 180.0),
        supernode_token=supernode_token(args, file_conf),
        supernode_tls=bool(getattr(args, "supernode_tls", False) or file_conf.supernode_tls),
        supernode_ca=[os.path.abspath(p) for p in (getattr(args, "supernode_ca", None) or file_conf.supernode_ca)],
        upload_tls_cert=_abs(getattr(args, "upload_tls_cert", None) or file_conf.upload_tls_cert),
        upload_tls_key=_abs(getattr(args, "upload_tls_key", None) or file_conf.upload_tls_key),
    )


def _abs(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path)) if path else ""


def supernode_token(args, file_conf: DfgetFileConfig, environ=None) -> str | None:
    """The API token: --supernode-token-file, else $DFGET_SUPERNODE_TOKEN, else the config file's."""
    environ = os.environ if environ is None else environ
    path = getattr(args, "supernode_token_file", None)
    if not path and not environ.get("DFGET_SUPERNODE_TOKEN"):
        path = file_conf.supernode_token_file
    if path:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as e:
            raise ConfigError(f"cannot read the supernode token file {path}: {e.strerror}") from None
        if not token:
            raise ConfigError(f"the supernode token file {path} is empty")
        return token
    return environ.get("DFGET_SUPERNODE_TOKEN") or file_conf.supernode_token or None


def host_limit_arg(text: str) -> int:
    return parse_host_limit(text)


def size_arg(text: str) -> int:
    return parse_size(text)


def duration_arg(text: str) -> float:
    return parse_duration(text)
