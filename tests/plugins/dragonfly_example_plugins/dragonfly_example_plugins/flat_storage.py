"""``flat-dir``: a CDN storage driver that keeps every key as one file in a single directory.

The key ``download/abc/xyz`` becomes the file ``download%2Fabc%2Fxyz`` under ``<home_dir>/flat``. It shows the
storage-driver interface a plug-in implements (``supernode.storage.base.StorageDriver``) and passes the same
contract suite as the built-in drivers.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import quote, unquote

from dfcommon.errors import DfError
from supernode.storage.base import BLOCK, StatInfo, check_key, check_prefix, clip


class FlatWriter:
    offloadable = True

    def __init__(self, path: str, truncate: bool):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0), 0o644)

    def write_at(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, offset)
            view, offset = view[n:], offset + n

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


class FlatDirStorage:
    name = "flat-dir"

    def __init__(self, home_dir: str):
        self.root = os.path.join(home_dir, "flat")
        os.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, quote(check_key(key), safe=""))

    def open_writer(self, key: str, truncate: bool = False) -> FlatWriter:
        return FlatWriter(self._path(key), truncate)

    def read(self, key: str, start: int = 0, length: int = -1, block: int = BLOCK):
        try:
            f = open(self._path(key), "rb")
        except FileNotFoundError:
            raise DfError("NOT_FOUND", f"{key} not found") from None
        pos, left = clip(os.fstat(f.fileno()).st_size, start, length)

        def blocks():
            nonlocal pos, left
            with f:
                while left > 0:
                    data = os.pread(f.fileno(), min(block, left), pos)
                    if not data:
                        return
                    pos, left = pos + len(data), left - len(data)
                    yield data
        return blocks()

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
        keys = (unquote(n) for n in os.listdir(self.root) if not n.startswith(".tmp-"))
        return sorted(k for k in keys if k.startswith(prefix))

    def put_atomic(self, key: str, data: bytes) -> None:
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
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
        return shutil.disk_usage(self.root).free


def create(home_dir: str) -> FlatDirStorage:
    """The entry point: the supernode calls it with its home folder."""
    return FlatDirStorage(home_dir)
