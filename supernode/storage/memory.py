"""In-memory driver: bytes in a dict (tests and tiny deployments). Not shared between processes."""
from __future__ import annotations

import threading
import time
from typing import Iterator

from dfcommon.errors import DfError

from .base import BLOCK, StatInfo, check_key, check_prefix, clip


class _Entry:
    __slots__ = ("data", "mtime")

    def __init__(self):
        self.data = bytearray()
        self.mtime = time.time()


class MemoryWriter:
    """Writes into the entry that was current when it was opened; after a delete or a truncating
    re-open it keeps writing into the orphaned entry, as a file descriptor on an unlinked file does."""

    def __init__(self, store: "MemoryStorage", entry: _Entry):
        self._store, self._entry = store, entry

    def write_at(self, offset: int, data: bytes) -> None:
        self._store._write_at(self._entry, offset, data)

    def close(self) -> None:
        pass


class MemoryStorage:
    name = "memory"

    def __init__(self, capacity: int | None = None):
        self._lock = threading.Lock()
        self._items: dict[str, _Entry] = {}
        self.capacity = capacity          # reported through free_space() when set

    def open_writer(self, key: str, truncate: bool = False) -> MemoryWriter:
        check_key(key)
        with self._lock:
            entry = self._items.get(key)
            if truncate or entry is None:
                entry = self._items[key] = _Entry()
        return MemoryWriter(self, entry)

    def _write_at(self, entry: _Entry, offset: int, data: bytes) -> None:
        if offset < 0:
            raise DfError("INVALID_PARAM", f"negative offset {offset}")
        with self._lock:
            buf = entry.data
            end = offset + len(data)
            if len(buf) < end:
                buf.extend(b"\0" * (end - len(buf)))
            buf[offset:end] = data
            entry.mtime = time.time()

    def _get(self, key: str) -> _Entry:
        entry = self._items.get(check_key(key))
        if entry is None:
            raise DfError("NOT_FOUND", f"{key} not found")
        return entry

    def read(self, key: str, start: int = 0, length: int = -1, block: int = BLOCK) -> Iterator[bytes]:
        entry = self._get(key)
        return self._blocks(entry, start, length, block)

    def _blocks(self, entry: _Entry, start: int, length: int, block: int) -> Iterator[bytes]:
        with self._lock:
            start, length = clip(len(entry.data), start, length)
        while length > 0:
            with self._lock:
                chunk = bytes(entry.data[start:start + min(block, length)])
            if not chunk:
                break
            start += len(chunk)
            length -= len(chunk)
            yield chunk

    def read_bytes(self, key: str, start: int = 0, length: int = -1) -> bytes:
        entry = self._get(key)
        with self._lock:
            start, length = clip(len(entry.data), start, length)
            return bytes(entry.data[start:start + length])

    def stat(self, key: str) -> StatInfo:
        entry = self._get(key)
        with self._lock:
            return StatInfo(len(entry.data), entry.mtime)

    def exists(self, key: str) -> bool:
        return check_key(key) in self._items

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(check_key(key), None)

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        with self._lock:
            return sorted(k for k in self._items if k.startswith(prefix))

    def put_atomic(self, key: str, data: bytes) -> None:
        check_key(key)
        entry = _Entry()
        entry.data = bytearray(data)
        with self._lock:
            self._items[key] = entry

    def local_path(self, key: str) -> str | None:
        check_key(key)
        return None

    def free_space(self) -> int | None:
        if self.capacity is None:
            return None
        with self._lock:
            used = sum(len(e.data) for e in self._items.values())
        return max(0, self.capacity - used)
