"""The ``policies:`` section of the supernode config.

Environment overrides: ``SUPERNODE_POLICIES_<KEY>`` (``SUPERNODE_POLICIES_MISFIRE_GRACE_TIME=60s``).
``credentials`` maps a reference name (what a policy's ``credentials`` field names) to
``{username, password}`` or ``"user:password"``; secrets stay in the config and are never shown by the API.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration

DURATION = {"parse": parse_duration}


@dataclass
class PolicyConfig:
    job_store_url: str = ""              # SQLAlchemy URL; "" = sqlite:///<home_dir>/policies.db
    misfire_grace_time: float = field(default=300.0, metadata=DURATION)   # 0 = run however late
    coalesce: bool = True                # several missed runs of a job become one
    max_instances: int = 1               # concurrent scheduled runs of one policy
    timezone: str = "UTC"                # zone of cron expressions
    workers: int = 4                     # scheduled runs executing at once (all policies)
    poll_interval: float = field(default=2.0, metadata=DURATION)           # preheat status polling
    image_timeout: float = field(default=1800.0, metadata=DURATION)         # longest wait for one image
    max_parallel: int = 4                # images of one run preheating at once
    max_images: int = 1000               # a run matching more images fails (narrow the filters)
    keep_runs: int = 100                 # run records kept per policy
    credentials: dict = field(default_factory=dict)


def store_url(conf: PolicyConfig, home_dir: str) -> str:
    return conf.job_store_url or "sqlite:///" + os.path.join(os.path.abspath(home_dir), "policies.db")


def validate_policies(conf: PolicyConfig) -> PolicyConfig:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(conf.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"policies.timezone: unknown time zone {conf.timezone!r}") from None
    for name in ("max_instances", "workers", "max_parallel", "max_images", "keep_runs"):
        if getattr(conf, name) < 1:
            raise ConfigError(f"policies.{name} must be at least 1")
    if conf.misfire_grace_time < 0 or conf.poll_interval <= 0 or conf.image_timeout <= 0:
        raise ConfigError("policies: misfire_grace_time must be >= 0, poll_interval and image_timeout > 0")
    if conf.job_store_url and "://" not in conf.job_store_url:
        raise ConfigError(f"policies.job_store_url: not an SQLAlchemy URL: {conf.job_store_url!r}")
    for ref, entry in conf.credentials.items():
        ok = (isinstance(entry, dict) and set(entry) <= {"username", "password"} and entry.get("username")) or \
             (isinstance(entry, str) and ":" in entry)
        if not ok:
            raise ConfigError(f"policies.credentials.{ref}: expected {{username, password}} or 'user:password'")
    return conf
