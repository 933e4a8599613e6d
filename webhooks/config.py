"""Webhook receiver configuration (a section of the supernode config, or standalone).

Environment overrides use the ``WEBHOOKS_`` prefix (``WEBHOOKS_HARBOR_AUTH="Bearer a,Bearer b"``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from dfcommon import config as cfg
from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration, parse_size

SIZE = {"parse": parse_size}
DURATION = {"parse": parse_duration}


@dataclass
class WebhookConfig:
    enabled: bool = True
    # accepted Authorization header values, compared verbatim; empty list = no auth (but see auth_mode)
    harbor_auth: list[str] = field(default_factory=list)
    registry_auth: list[str] = field(default_factory=list)
    # auto: a receiver reachable from other hosts without values gets a generated secret; on: always; none: open
    auth_mode: str = "auto"
    # durable queue; "" = <supernode home_dir>/webhooks/queue.db (see queue_path_for)
    queue_path: str = ""
    max_body_size: int = field(default="1MB", metadata=SIZE)
    dedup_window: float = field(default="10m", metadata=DURATION)
    max_attempts: int = 5
    retry_backoff: float = field(default="2s", metadata=DURATION)
    retry_backoff_max: float = field(default="5m", metadata=DURATION)
    lease: float = field(default="5m", metadata=DURATION)
    workers: int = 1
    # registry:2 events: event request.host / source.addr / source.instanceID -> registry host
    registry_hosts: dict[str, str] = field(default_factory=dict)
    # registry host for registry:2 events that name none and match no mapping
    default_registry: str = ""
    # event sink plug-ins (entry-point group dragonfly.event_sinks) that also receive every image event
    sinks: list[str] = field(default_factory=list)


def validate(conf: WebhookConfig) -> WebhookConfig:
    if conf.max_body_size <= 0:
        raise ConfigError("webhooks.max_body_size must be positive")
    if conf.max_attempts < 1:
        raise ConfigError("webhooks.max_attempts must be at least 1")
    if conf.workers < 1:
        raise ConfigError("webhooks.workers must be at least 1")
    for name in ("dedup_window", "retry_backoff", "retry_backoff_max", "lease"):
        if getattr(conf, name) < 0:
            raise ConfigError(f"webhooks.{name} must not be negative")
    for key, value in conf.registry_hosts.items():
        if not isinstance(value, str) or not value or "/" in value:
            raise ConfigError(f"webhooks.registry_hosts[{key!r}] must be a host[:port], got {value!r}")
    if conf.auth_mode not in ("auto", "on", "none"):
        raise ConfigError(f"webhooks.auth_mode must be auto, on or none, got {conf.auth_mode!r}")
    for name in ("harbor_auth", "registry_auth"):
        if not all(isinstance(v, str) for v in getattr(conf, name)):
            raise ConfigError(f"webhooks.{name} must be a list of strings")
    return conf


def build_webhook_config(data: dict | None) -> WebhookConfig:
    """From a mapping (e.g. the ``webhooks:`` section of the supernode YAML)."""
    return validate(cfg.build(WebhookConfig, data, "webhooks"))


def load_webhook_config(path: str | None = None, overrides: dict | None = None,
                        environ=None) -> WebhookConfig:
    """Defaults < YAML file < ``WEBHOOKS_*`` environment < overrides."""
    return validate(cfg.load(WebhookConfig, path, env_prefix="WEBHOOKS", overrides=overrides,
                             environ=environ))


def queue_path_for(conf: WebhookConfig, home_dir: str) -> str:
    return conf.queue_path or os.path.join(home_dir, "webhooks", "queue.db")
