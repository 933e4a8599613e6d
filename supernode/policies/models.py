"""Policies and run records, with validation of client input.

A policy names a registry, a repository glob and a tag glob (``*``/``**`` on path segments), optional
platforms, its triggers (``event``: on pushes, ``cron``: a 5- or 6-field expression, manual runs always
allowed), an enabled flag and a credentials reference (a key of ``policies.credentials`` in the config;
secrets never leave the config).
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit

from dfcommon.errors import DfError

from .cron import validate_cron
from .matcher import validate_glob

TRIGGER_MANUAL, TRIGGER_CRON, TRIGGER_EVENT = "manual", "cron", "event"
RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_PARTIAL, RUN_MISSED = "running", "succeeded", "failed", "partial", "missed"
RUN_STATES = (RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_PARTIAL, RUN_MISSED)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")
_ID = re.compile(r"^[a-f0-9]{1,64}$")
FIELDS = ("name", "registry", "repository", "tag", "platforms", "triggers", "enabled", "credentials")


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def check_id(value: str, what: str = "id") -> str:
    if not _ID.match(value or ""):
        raise DfError("NOT_FOUND", f"{what} {value!r} not found")
    return value


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Triggers:
    event: bool = False
    cron: str = ""

    def to_json(self) -> dict:
        return {"event": self.event, "cron": self.cron, "manual": True}


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    registry: str                     # scheme://host[:port]
    repository: str = "**"
    tag: str = "**"
    platforms: tuple = ()
    triggers: Triggers = field(default_factory=Triggers)
    enabled: bool = True
    credentials: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "registry": self.registry, "repository": self.repository,
                "tag": self.tag, "platforms": list(self.platforms), "triggers": self.triggers.to_json(),
                "enabled": self.enabled, "credentials": self.credentials,
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at)}

    def to_row(self) -> dict:
        d = asdict(self)
        d["platforms"] = list(self.platforms)
        return d

    @classmethod
    def from_row(cls, d: dict) -> "Policy":
        d = dict(d)
        d["triggers"] = Triggers(**d.get("triggers") or {})
        d["platforms"] = tuple(d.get("platforms") or ())
        return cls(**d)


def normalize_registry(value) -> str:
    """``reg.example:5000`` -> ``https://reg.example:5000``; an explicit http(s) scheme is kept; no path."""
    if not isinstance(value, str) or not value.strip():
        raise DfError("INVALID_PARAM", "registry: a registry host or URL is required")
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query \
            or parts.username or parts.password:
        raise DfError("INVALID_PARAM", f"registry: {value!r} is not host[:port] or http(s)://host[:port]")
    try:
        parts.port
    except ValueError:
        raise DfError("INVALID_PARAM", f"registry: bad port in {value!r}") from None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _platforms(value) -> tuple:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or len(value) > 32:
        raise DfError("INVALID_PARAM", "platforms: a list of os/arch[/variant] strings is expected")
    for p in value:
        if not isinstance(p, str) or not _PLATFORM.match(p):
            raise DfError("INVALID_PARAM", f"platforms: {p!r} is not os/arch[/variant] (e.g. linux/arm64/v8)")
    return tuple(dict.fromkeys(value))


def _bool(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise DfError("INVALID_PARAM", f"{what}: true or false expected")
    return value


def _triggers(value, base: Triggers, tz: str) -> Triggers:
    if not isinstance(value, dict):
        raise DfError("INVALID_PARAM", "triggers: an object {event, cron} is expected")
    unknown = set(value) - {"event", "cron", "manual"}
    if unknown:
        raise DfError("INVALID_PARAM", f"triggers: unknown keys {sorted(unknown)}")
    event = _bool(value.get("event", base.event), "triggers.event")
    cron = value.get("cron", base.cron)
    if cron is None:
        cron = ""
    if not isinstance(cron, str):
        raise DfError("INVALID_PARAM", "triggers.cron: a cron expression string is expected")
    if cron.strip():
        cron = validate_cron(cron, tz)
    return Triggers(event=event, cron=cron.strip())


def build_policy(data, base: Policy | None = None, credentials=(), tz: str = "UTC") -> Policy:
    """Validate client JSON into a Policy. With ``base`` (PATCH) missing fields keep their values."""
    if not isinstance(data, dict):
        raise DfError("INVALID_PARAM", "a JSON object is expected")
    unknown = set(data) - set(FIELDS) - {"id", "created_at", "updated_at", "next_run_time"}
    if unknown:
        raise DfError("INVALID_PARAM", f"unknown fields {sorted(unknown)} (valid: {', '.join(FIELDS)})")
    now = time.time()
    cur = base or Policy(id=new_id(), name="", registry="", created_at=now)
    name = data.get("name", cur.name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise DfError("INVALID_PARAM", "name: 1-128 characters of letters, digits, '.', '_', '-' or space, "
                                       "starting with a letter or digit")
    registry = normalize_registry(data.get("registry", cur.registry))
    repository = validate_glob(data.get("repository", cur.repository), "repository")
    tag = validate_glob(data.get("tag", cur.tag), "tag", multi_segment=False)
    cred = data.get("credentials", cur.credentials) or ""
    if not isinstance(cred, str) or (cred and cred not in credentials):
        raise DfError("INVALID_PARAM", f"credentials: unknown reference {cred!r} "
                                       f"(configured: {', '.join(sorted(credentials)) or 'none'})")
    return replace(cur, name=name.strip(), registry=registry, repository=repository, tag=tag,
                   platforms=_platforms(data.get("platforms", list(cur.platforms))),
                   triggers=_triggers(data.get("triggers", {}), cur.triggers, tz),
                   enabled=_bool(data.get("enabled", cur.enabled), "enabled"), credentials=cred, updated_at=now)


@dataclass
class Run:
    """One execution of a policy: which images, each image's and layer's outcome, bytes and duration."""

    id: str
    policy_id: str
    policy_name: str
    trigger: str
    status: str = RUN_RUNNING
    started_at: float = 0.0
    finished_at: float | None = None
    scheduled_at: float | None = None
    bytes: int = 0
    images: list = field(default_factory=list)
    error: str = ""
    member: str = ""                    # the cluster member that runs it ("" for a supernode alone)

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else round(self.finished_at - self.started_at, 3)

    def to_json(self) -> dict:
        return {"id": self.id, "policy_id": self.policy_id, "policy_name": self.policy_name,
                "trigger": self.trigger, "status": self.status, "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at), "scheduled_at": iso(self.scheduled_at),
                "duration": self.duration, "bytes": self.bytes, "images": self.images, "error": self.error,
                **({"member": self.member} if self.member else {})}
