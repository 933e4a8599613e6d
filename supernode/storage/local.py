"""Local filesystem driver: keys live under ``<home_dir>/repo/`` (Dragonfly's layout)."""
from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from typing import Iterator

from dfcommon.errors import DfError

from .base import BLOCK, StatInfo, check_key, check_prefix, clip

log = logging.getLogger(__name__)


class LocalWriter:
    """One file descriptor written with os.pwrite, which is safe to call from several threads."""

    offloadable = True          # write_at takes no lock: it may run in a native thread under gevent

    def __init__(self, path: str, truncate: bool):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(path, flags, 0o644)

    def write_at(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, offset)
            view, offset = view[n:], offset + n

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


class FileBlocks:
    """Iterator of blocks read with os.pread from an open descriptor; closes it when done or closed."""

    def __init__(self, fd: int, start: int, length: int, block: int):
        self._fd = fd
        try:
            self._pos, self._left = clip(os.fstat(fd).st_size, start, length)
        except BaseException:
            self.close()
            raise
        self._block = block

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._fd < 0 or self._left <= 0:
            self.close()
            raise StopIteration
        data = os.pread(self._fd, min(self._block, self._left), self._pos)
        if not data:
            self.close()
            raise StopIteration
        self._pos += len(data)
        self._left -= len(data)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self):
        self.close()


class LocalStorage:
    name = "local"

    def __init__(self, home_dir: str):
        self.root = os.path.realpath(os.path.join(home_dir, "repo"))
        os.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        path = os.path.join(self.root, *check_key(key).split("/"))
        if os.path.commonpath([self.root, os.path.realpath(path)]) != self.root:   # symlinks inside the repo
            raise DfError("INVALID_PARAM", f"invalid storage key {key!r}")
        return path

    def open_writer(self, key: str, truncate: bool = False) -> LocalWriter:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return LocalWriter(path, truncate)

    def _open_read(self, key: str) -> int:
        try:
            return os.open(self._path(key), os.O_RDONLY)
        except FileNotFoundError:
            raise DfError("NOT_FOUND", f"{key} not found") from None

    def read(self, key: str, start: int = 0, length: int = -1, block: int = BLOCK) -> Iterator[bytes]:
        fd = self._open_read(key)          # opened now, so a missing key fails before iteration starts
        return FileBlocks(fd, start, length, block)

    def read_bytes(self, key: str, start: int = 0, length: int = -1) -> bytes:
        return b"".join(self.read(key, start, length))

    def stat(self, key: str) -> StatInfo:
        try:
            st = os.stat(self._path(key))
        except FileNotFoundError:
            raise DfError("NOT_FOUND", f"{key} not found") from None
        return StatInfo(st.st_size, st.st_mtime)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = os.path.join(self.root, *base.split("/")) if base else self.root
        keys = []
        for dirpath, _dirs, files in os.walk(top):
            rel = os.path.relpath(dirpath, self.root)
            for f in files:
                if f.startswith(".tmp-"):
                    continue
                key = f if rel == "." else f"{rel.replace(os.sep, '/')}/{f}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def put_atomic(self, key: str, data: bytes) -> None:
        path = self._path(key)
        d = os.path.dirname(path)
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def local_path(self, key: str) -> str | None:
        return self._path(key)

    def free_space(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
