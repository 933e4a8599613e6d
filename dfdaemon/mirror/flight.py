"""Single-flight per blob: one download per digest on this host, read by every waiting client.

The download (see :mod:`dfdaemon.mirror.fetch`) writes into a :class:`CacheWriter`'s incoming file;
each client reads that file through its own descriptor as it grows. The last byte of a response is
held back until the whole blob has been verified, so a client never completes a response with bad
bytes: on a mismatch or failure the reader raises and the connection is aborted.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from dfcommon.errors import DfError
from dfcommon.offload import cooperate, offload

log = logging.getLogger(__name__)

BLOCK = 1 << 20
RUNNING, DONE, FAILED = "running", "done", "failed"


class StreamAborted(Exception):
    """Raised from a body iterator: the response cannot be completed; the server drops the connection."""


class Flight:
    def __init__(self, digest: str, writer, stall_timeout: float = 120.0):
        self.digest = digest
        self.writer = writer
        self.path = writer.path
        self.stall_timeout = stall_timeout
        self._cond = threading.Condition()
        self.written = 0
        self.size: int | None = None
        self.state = RUNNING
        self.error: DfError | None = None
        self.source = "p2p"
        self.size_probe = None             # callable giving the size once the download knows it
        self.joins = 0
        self.obtained: dict[str, int] = {}  # peers / supernode / origin -> bytes the download got from each
        self.fallback_reason = ""          # why the P2P download gave way to a direct one

    # -- producer side -------------------------------------------------------------------
    def set_size(self, size: int | None) -> None:
        if size is not None and size >= 0:
            with self._cond:
                if self.size is None:
                    self.size = int(size)
                    self._cond.notify_all()

    def write(self, data: bytes) -> None:
        offload(self.writer.write, data)      # the sha256 and the file write run on another core under gevent
        with self._cond:
            self.written += len(data)
            self._cond.notify_all()
        cooperate()     # under gevent: let the readers send what just landed before the next block

    def finish(self) -> None:
        """Verify and publish; readers then release the held-back bytes (or abort on a mismatch)."""
        ok = self.writer.commit()
        with self._cond:
            if ok:
                self.state, self.size = DONE, self.written
            else:
                self.state = FAILED
                self.error = DfError("DIGEST_INVALID", f"downloaded content does not match {self.digest}")
            self._cond.notify_all()

    def fail(self, error: DfError) -> None:
        self.writer.abort()
        with self._cond:
            if self.state == RUNNING:
                self.state, self.error = FAILED, error
            self._cond.notify_all()

    # -- consumer side -------------------------------------------------------------------
    def wait_start(self, need_size: bool, timeout: float) -> None:
        """Block until the size is known (or bytes flow when ``need_size`` is false), or the flight ends.

        Raises the flight's error when it failed before that point.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.state == RUNNING and self.size is None:
                if self.size_probe is not None:
                    probed = self.size_probe()
                    if probed is not None and probed >= 0:
                        self.size = int(probed)
                        break
                if not need_size and self.written > 0:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))
            if self.state == FAILED and self.error is not None:
                raise self.error

    def open(self):
        """A descriptor on the incoming file, taken before it can be renamed or removed; None if gone."""
        try:
            return os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None

    def body(self, fd: int, start: int, end: int | None, on_bytes=None):
        """Yield bytes [start, end) (end None = to the end of the blob) as they land."""
        pos = start
        try:
            while True:
                with self._cond:
                    limit = self._wait_beyond(pos, end)
                    state = self.state
                stop = end if end is not None else (self.written if state == DONE else None)
                if stop is not None and pos >= stop:
                    return
                if state != DONE:
                    limit = self._hold(limit, end)    # the last byte waits for verification
                n = min(BLOCK, limit - pos)
                if n <= 0:
                    continue
                data = os.pread(fd, n, pos)
                if not data:
                    raise StreamAborted(f"blob {self.digest} file shorter than expected")
                pos += len(data)
                if on_bytes is not None:
                    on_bytes(len(data))
                yield data
        finally:
            os.close(fd)

    def wait_readable(self, target: int, end: int) -> None:
        """Block until bytes up to ``target`` (of a response ending at ``end``) may be sent: written, and
        verified when they include the response's last byte. Raises :class:`StreamAborted` on failure."""
        deadline = time.monotonic() + self.stall_timeout
        with self._cond:
            while True:
                if self.state == FAILED:
                    raise StreamAborted(f"blob {self.digest} download failed: "
                                        f"{self.error.message if self.error else 'unknown error'}")
                limit = min(self.written, end)
                readable = limit if self.state == DONE else self._hold(limit, end)
                if readable >= target:
                    return
                if self.state == DONE:
                    raise StreamAborted(f"blob {self.digest} is shorter than the response")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StreamAborted(f"blob {self.digest} download stalled")
                self._cond.wait(min(left, 1.0))

    def _wait_beyond(self, pos: int, end: int | None) -> int:
        """Under the lock: wait until bytes beyond ``pos`` are readable; return the readable limit."""
        deadline = time.monotonic() + self.stall_timeout
        while True:
            if self.state == FAILED:
                raise StreamAborted(f"blob {self.digest} download failed: "
                                    f"{self.error.message if self.error else 'unknown error'}")
            limit = self.written if end is None else min(self.written, end)
            if self.state == DONE:
                return limit
            if self._hold(limit, end) > pos:
                return limit
            left = deadline - time.monotonic()
            if left <= 0:
                raise StreamAborted(f"blob {self.digest} download stalled")
            self._cond.wait(min(left, 1.0))

    def _hold(self, limit: int, end: int | None) -> int:
        """Readable limit while unverified: never the response's last byte (any byte when the size is unknown)."""
        last = end if end is not None else self.size
        if last is None:
            return limit - 1
        return last - 1 if limit >= last else limit


class Flights:
    """The running flights of a host, by digest."""

    def __init__(self):
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def join_or_create(self, digest: str, create) -> tuple[Flight, bool]:
        """(flight, started): join the running flight, or ``create()`` one (None means: use the cache)."""
        with self._lock:
            flight = self._flights.get(digest)
            if flight is not None and flight.state == RUNNING:
                flight.joins += 1
                return flight, False
            flight = create()
            if flight is not None:
                self._flights[digest] = flight
            return flight, True

    def done(self, flight: Flight) -> None:
        with self._lock:
            if self._flights.get(flight.digest) is flight:
                del self._flights[flight.digest]

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)
