"""The storage driver interface of the CDN store, and key validation shared by the drivers.

Keys are relative, slash-separated paths such as ``download/abc/<taskID>``. Every component
is made of ``[A-Za-z0-9._-]`` and may not start with a dot, so ``..``, absolute paths and
hidden files cannot be named; a bad key raises DfError INVALID_PARAM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Protocol

from dfcommon.errors import DfError

BLOCK = 1 << 20
_KEY_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
_PREFIX_RE = re.compile(r"^([A-Za-z0-9_-][A-Za-z0-9._-]*/?)*$")


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > 1024 or not _KEY_RE.match(key):
        raise DfError("INVALID_PARAM", f"invalid storage key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, a key, or a key ending with '/'."""
    if not isinstance(prefix, str) or len(prefix) > 1024 or "//" in prefix or not _PREFIX_RE.match(prefix):
        raise DfError("INVALID_PARAM", f"invalid storage prefix {prefix!r}")
    return prefix


@dataclass(frozen=True)
class StatInfo:
    size: int
    mtime: float          # seconds since the epoch


class RandomWriter(Protocol):
    """An open object that accepts writes at arbitrary offsets; safe to share between writer threads."""

    def write_at(self, offset: int, data: bytes) -> None: ...

    def close(self) -> None: ...


class StorageDriver(Protocol):
    name: str

    def open_writer(self, key: str, truncate: bool = False) -> RandomWriter:
        """Open (creating if needed) ``key`` for random-access writes; ``truncate`` empties it first."""

    def read(self, key: str, start: int = 0, length: int = -1, block: int = BLOCK) -> Iterator[bytes]:
        """Blocks of at most ``block`` bytes of ``[start, start+length)`` (to the end when ``length`` < 0).
        Raises DfError NOT_FOUND when the key does not exist."""

    def read_bytes(self, key: str, start: int = 0, length: int = -1) -> bytes:
        """A small range as one bytes object (meta files, one piece)."""

    def stat(self, key: str) -> StatInfo:
        """Size and modification time; DfError NOT_FOUND when missing."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key``; missing keys are ignored."""

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys that start with ``prefix``."""

    def put_atomic(self, key: str, data: bytes) -> None:
        """Replace ``key`` with ``data`` so a reader sees the old or the new content, never a mix."""

    def local_path(self, key: str) -> str | None:
        """A real filesystem path for ``key`` (for os.sendfile), or None when the driver has none."""

    def free_space(self) -> int | None:
        """Free bytes of the store, or None when the driver cannot tell."""


def clip(size: int, start: int, length: int) -> tuple[int, int]:
    """Clip ``[start, start+length)`` to a value of ``size`` bytes; return (start, length)."""
    if start < 0:
        raise DfError("INVALID_PARAM", f"negative offset {start}")
    start = min(start, size)
    end = size if length < 0 else min(size, start + length)
    return start, end - start
