"""The ``preheat:`` section of the supernode config.

Environment overrides: ``SUPERNODE_PREHEAT_<KEY>`` (``SUPERNODE_PREHEAT_AUTH_TOKEN``).
Provider-instance auth (what Harbor's P2P provider instance sends to our API):
``auth_mode`` none | basic | bearer (alias oauth) | custom:
- basic: ``auth_username`` + ``auth_password``;
- bearer: ``auth_token``;
- custom: header ``auth_header`` must carry the value ``auth_token``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration

DURATION = {"parse": parse_duration}
AUTH_MODES = ("none", "basic", "bearer", "oauth", "custom")


@dataclass
class RegistryConfig:
    """A registry the supernode preheats from on webhook events (and the credentials it uses there)."""
    host: str = ""                  # host[:port] as events name it
    scheme: str = "https"           # https | http
    insecure: bool = False          # skip TLS verification
    username: str = ""
    password: str = ""


@dataclass
class PreheatConfig:
    ttl: float = field(default="24h", metadata=DURATION)          # how long finished records are kept
    concurrency: int = 4                                           # file warms running at once
    max_pending: int = 1000          # preheats not finished (running or waiting); a new one beyond is 503
    timeout: float = field(default="30m", metadata=DURATION)      # longest wait for one file warm
    auth_mode: str = "none"
    auth_username: str = ""
    auth_password: str = ""
    auth_token: str = ""
    auth_header: str = ""
    registries: list[RegistryConfig] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)            # [] = every platform of an index


def validate_preheat(conf: PreheatConfig) -> PreheatConfig:
    mode = (conf.auth_mode or "none").lower()
    if mode not in AUTH_MODES:
        raise ConfigError(f"preheat.auth_mode must be one of {', '.join(AUTH_MODES)}, got {conf.auth_mode!r}")
    conf.auth_mode = "bearer" if mode == "oauth" else mode
    if conf.auth_mode == "basic" and not (conf.auth_username and conf.auth_password):
        raise ConfigError("preheat.auth_mode basic needs auth_username and auth_password")
    if conf.auth_mode == "bearer" and not conf.auth_token:
        raise ConfigError("preheat.auth_mode bearer needs auth_token")
    if conf.auth_mode == "custom" and not (conf.auth_header and conf.auth_token):
        raise ConfigError("preheat.auth_mode custom needs auth_header (the header name) and auth_token (its value)")
    if conf.concurrency < 1:
        raise ConfigError("preheat.concurrency must be at least 1")
    if conf.ttl <= 0 or conf.timeout <= 0:
        raise ConfigError("preheat.ttl and preheat.timeout must be positive")
    for i, reg in enumerate(conf.registries):
        if not reg.host or "/" in reg.host:
            raise ConfigError(f"preheat.registries[{i}].host must be a host[:port], got {reg.host!r}")
        if reg.scheme not in ("http", "https"):
            raise ConfigError(f"preheat.registries[{i}].scheme must be http or https, got {reg.scheme!r}")
        if bool(reg.username) != bool(reg.password):
            raise ConfigError(f"preheat.registries[{i}] needs both username and password, or neither")
    from registry_plugin.oci import Platform
    for p in conf.platforms:
        try:
            Platform.parse(p)
        except Exception:
            raise ConfigError(f"preheat.platforms: invalid platform {p!r} (expected os/arch[/variant])") from None
    return conf


def default_preheat_config() -> PreheatConfig:
    from dfcommon import config as cfg
    return cfg.build(PreheatConfig, {}, "preheat")


def registry_for(conf: PreheatConfig, host: str) -> RegistryConfig | None:
    host = (host or "").lower()
    for reg in conf.registries:
        if reg.host.lower() == host:
            return reg
    return None
