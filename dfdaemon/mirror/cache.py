"""The verified blob cache of one dfdaemon: ``<dir>/sha256/<hex>``, size-bounded, never a partial file.

A blob is written under ``<dir>/.incoming/`` while it streams, hashed on the way, and published
with an atomic rename only when its digest matches. Incoming files left by a crash are removed at
start-up. When the total size passes ``max_bytes`` the least recently used blobs are evicted
(a blob being read stays readable: readers hold an open descriptor).
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time

from dfcommon.digest import DigestVerifier, parse_digest

log = logging.getLogger(__name__)

INCOMING = ".incoming"


class CacheWriter:
    """One blob being written: ``write`` bytes in order, then ``commit`` (verify + publish) or ``abort``."""

    def __init__(self, cache: "BlobCache", digest: str):
        self.cache, self.digest = cache, digest
        self.verifier = DigestVerifier(digest)
        fd, self.path = tempfile.mkstemp(prefix=digest.replace(":", "-") + ".", dir=cache.incoming)
        self._fh = os.fdopen(fd, "wb", buffering=0)
        self.size = 0
        self.done = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._fh.write(view)
            view = view[n:]
        self.verifier.update(data)
        self.size += len(data)

    def matches(self) -> bool:
        return self.verifier.matches()

    def commit(self) -> bool:
        """Publish when the bytes hash to the digest; otherwise delete them. Returns whether it matched."""
        self._fh.close()
        self.done = True
        if not self.verifier.matches():
            log.warning("blob digest mismatch digest=%s actual=%s size=%d", self.digest, self.verifier.actual,
                        self.size)
            _unlink(self.path)
            return False
        self.cache.publish(self.digest, self.path, self.size)
        return True

    def abort(self) -> None:
        if not self.done:
            self.done = True
            self._fh.close()
            _unlink(self.path)


class BlobCache:
    def __init__(self, root: str, max_bytes: int, clock=time.time):
        self.root = os.path.abspath(root)
        self.incoming = os.path.join(self.root, INCOMING)
        self.max_bytes = int(max_bytes)
        self._clock = clock
        self._lock = threading.Lock()
        self._index: dict[str, list] = {}          # digest -> [size, last_used]
        os.makedirs(self.incoming, exist_ok=True)
        self._recover()

    # -- paths ---------------------------------------------------------------------------
    def _path(self, digest: str) -> str:
        algo, hexpart = parse_digest(digest)
        return os.path.join(self.root, algo, hexpart)

    def _recover(self) -> None:
        for name in os.listdir(self.incoming):
            _unlink(os.path.join(self.incoming, name))
        for algo in ("sha256", "sha512"):
            d = os.path.join(self.root, algo)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                try:
                    st = os.stat(os.path.join(d, name))
                except OSError:
                    continue
                self._index[f"{algo}:{name}"] = [st.st_size, st.st_mtime]

    # -- reads ---------------------------------------------------------------------------
    def open(self, digest: str):
        """(file object, size) of a cached blob, or None. The caller closes the file."""
        path = self._path(digest)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            with self._lock:
                self._index.pop(digest, None)
            return None
        size = os.fstat(fh.fileno()).st_size
        with self._lock:
            self._index[digest] = [size, self._clock()]
        return fh, size

    def size_of(self, digest: str) -> int | None:
        with self._lock:
            entry = self._index.get(digest)
        if entry is None:
            return None
        if not os.path.exists(self._path(digest)):
            with self._lock:
                self._index.pop(digest, None)
            return None
        return entry[0]

    def __contains__(self, digest: str) -> bool:
        return self.size_of(digest) is not None

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(e[0] for e in self._index.values())

    def digests(self) -> list:
        with self._lock:
            return list(self._index)

    # -- writes --------------------------------------------------------------------------
    def writer(self, digest: str) -> CacheWriter:
        parse_digest(digest)
        return CacheWriter(self, digest)

    def publish(self, digest: str, tmp_path: str, size: int) -> None:
        path = self._path(digest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.replace(tmp_path, path)
        with self._lock:
            self._index[digest] = [size, self._clock()]
        log.info("blob cached digest=%s size=%d", digest, size)
        self.evict(keep=digest)

    def remove(self, digest: str) -> None:
        _unlink(self._path(digest))
        with self._lock:
            self._index.pop(digest, None)

    def evict(self, keep: str | None = None) -> list:
        """Drop least recently used blobs until the total fits ``max_bytes``; returns the evicted digests."""
        evicted = []
        with self._lock:
            total = sum(e[0] for e in self._index.values())
            order = sorted(self._index.items(), key=lambda kv: kv[1][1])
            for digest, (size, _) in order:
                if total <= self.max_bytes:
                    break
                if digest == keep:
                    continue
                self._index.pop(digest, None)
                total -= size
                evicted.append(digest)
        for digest in evicted:
            _unlink(self._path(digest))
            log.info("blob evicted digest=%s", digest)
        return evicted


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning("cannot remove file path=%s error=%s", path, e.strerror)
