"""The ``.meta`` (JSON) and ``.md5`` (per-piece md5 lines + file md5 + sha1 trailer) files of a task."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass

from dfcommon.errors import DfError

from .layout import md5_key, meta_key

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FileMeta:
    """Field names are Dragonfly's JSON keys (cdn/file_meta_data.go)."""
    taskID: str
    url: str = ""
    pieceSize: int = 0
    httpFileLen: int = -1
    bizId: str = ""
    accessTime: int = 0          # ms
    interval: int = 0            # ms between the last two accesses
    fileLength: int = 0          # wrapped CDN length
    md5: str = ""                # md5 the user asked for
    realMd5: str = ""            # md5 of the source bytes
    lastModified: int = 0        # ms
    eTag: str = ""
    finish: bool = False
    success: bool = False

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "FileMeta":
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("taskID"), str):
            raise ValueError("meta without taskID")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


def encode_md5_file(piece_md5s: list[str], file_md5: str) -> bytes:
    lines = list(piece_md5s) + [file_md5]
    sha1 = hashlib.sha1("".join(lines).encode()).hexdigest()
    return "\n".join(lines + [sha1]).encode()


def decode_md5_file(raw: bytes) -> tuple[list[str], str]:
    """(piece md5s, file md5); ValueError when the sha1 trailer does not match."""
    lines = raw.decode("ascii").split("\n")
    if len(lines) < 3:
        raise ValueError("md5 file too short")
    *body, sha1 = lines
    if hashlib.sha1("".join(body).encode()).hexdigest() != sha1:
        raise ValueError("md5 file sha1 mismatch")
    return body[:-1], body[-1]


class MetaStore:
    """Reads and writes a task's .meta and .md5 files through the storage driver."""

    def __init__(self, storage):
        self.storage = storage
        self._lock = threading.Lock()

    def read(self, task_id: str) -> FileMeta | None:
        try:
            meta = FileMeta.from_json(self.storage.read_bytes(meta_key(task_id)))
        except DfError as e:
            if e.code == "NOT_FOUND":
                return None
            raise
        except (ValueError, TypeError) as e:
            log.warning("unreadable meta task=%s err=%s", task_id, e)
            return None
        return meta if meta.taskID == task_id else None

    def write(self, meta: FileMeta) -> None:
        with self._lock:
            self.storage.put_atomic(meta_key(meta.taskID), meta.to_json())

    def update(self, task_id: str, **fields) -> FileMeta | None:
        with self._lock:
            meta = self.read(task_id)
            if meta is None:
                return None
            for k, v in fields.items():
                setattr(meta, k, v)
            self.storage.put_atomic(meta_key(task_id), meta.to_json())
            return meta

    def touch(self, task_id: str) -> None:
        """Record an access: ``interval`` = time since the previous access, ``accessTime`` = now."""
        with self._lock:
            meta = self.read(task_id)
            if meta is None:
                return
            now = now_ms()
            if meta.accessTime > 0:
                meta.interval = max(0, now - meta.accessTime)
            meta.accessTime = now
            self.storage.put_atomic(meta_key(task_id), meta.to_json())

    def write_md5s(self, task_id: str, piece_md5s: list[str], file_md5: str) -> None:
        self.storage.put_atomic(md5_key(task_id), encode_md5_file(piece_md5s, file_md5))

    def read_md5s(self, task_id: str) -> tuple[list[str], str] | None:
        try:
            return decode_md5_file(self.storage.read_bytes(md5_key(task_id)))
        except DfError as e:
            if e.code == "NOT_FOUND":
                return None
            raise
        except (ValueError, UnicodeDecodeError) as e:
            log.warning("rejected md5 file task=%s err=%s", task_id, e)
            return None
