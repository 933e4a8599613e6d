"""Preheat records: one per preheat id (Dragonfly's PreheatTask), kept by the store.

An ``image`` record is a parent whose children are ``file`` records, one per blob. The
headers may carry credentials: they live in memory only and are never persisted or shown.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field, fields

WAITING, RUNNING, SUCCESS, FAILED = "WAITING", "RUNNING", "SUCCESS", "FAILED"
FINAL = (SUCCESS, FAILED)
IMAGE, FILE = "image", "file"
TYPES = (IMAGE, FILE)


def rfc3339(ts: float) -> str:
    """Unix seconds as RFC3339 UTC (``2026-01-02T03:04:05Z``); "" when unset."""
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PreheatRecord:
    id: str
    type: str
    url: str
    filter: str = ""
    identifier: str = ""
    headers: dict = field(default_factory=dict, repr=False)     # in memory only
    platforms: list = field(default_factory=list)
    status: str = WAITING
    created: float = 0.0
    start_time: float = 0.0
    finish_time: float = 0.0
    updated: float = 0.0
    error: str = ""
    parent_id: str = ""
    children: list = field(default_factory=list)
    bytes: int = 0
    task_id: str = ""               # the scheduler/CDN task a file record warmed

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def to_legacy(self) -> dict:
        """Dragonfly 1.x PreheatInfo, as Harbor's legacy driver reads it."""
        return {"ID": self.id, "status": self.status, "startTime": rfc3339(self.start_time),
                "finishTime": rfc3339(self.finish_time), "errorMsg": self.error}

    def to_public(self) -> dict:
        """A fuller view for listings (never the headers)."""
        out = self.to_legacy()
        out.update({"type": self.type, "url": self.url, "parentID": self.parent_id,
                    "children": list(self.children), "bytes": self.bytes, "taskID": self.task_id})
        return out

    def to_json(self) -> str:
        """What the store persists: everything but the headers."""
        data = asdict(self)
        data.pop("headers")
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "PreheatRecord":
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Job:
    """A Dragonfly 2 style job (``/oapi/v1/jobs``): an integer id pointing at one preheat record."""
    id: int
    record_id: str
    created: float
    args: dict = field(default_factory=dict)        # the create args minus headers/credentials
