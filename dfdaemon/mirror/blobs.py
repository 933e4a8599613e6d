"""Blob GET and HEAD on the mirror: access check, verified local cache, single-flight P2P download.

GET: the digest and Range are validated, then the access guard decides (a cached or peer-held
blob is never given to a client whose credentials do not allow the repository). A cache hit is
served from disk (with Range) as a :class:`FileRange`. A miss joins or starts the host's one download
for that digest and streams it while it arrives (a :class:`FlightRange` when the size is known); the
response's last byte waits for the sha256 check. The data-path server sends both with ``os.sendfile``.
HEAD: answered from the cache after the access check, else passed through to the upstream.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from dfcommon.digest import parse_digest
from dfcommon.errors import DfError
from dfcommon.wsgi_server import FileRange

from .flight import Flight, Flights
from .flight_body import FlightRange
from .lazy_range import LazyRanges
from .pulls import PullLog, counting
from .ranges import content_range, parse_range

log = logging.getLogger(__name__)

OCTET = "application/octet-stream"


@dataclass
class Reply:
    status: int
    headers: list = field(default_factory=list)
    body: object = ()          # iterable of bytes


class BlobService:
    def __init__(self, cache, fetcher, passthrough, access, auth, metrics=None, stall_timeout: float = 120.0,
                 spawn=None, pulls: PullLog | None = None, lazy_ranges: LazyRanges | None = None):
        self.cache = cache
        self.fetcher = fetcher
        self.passthrough = passthrough
        self.access = access
        self.auth = auth
        self.metrics = metrics
        self.stall_timeout = stall_timeout
        self.flights = Flights()
        self._spawn = spawn or _thread
        self.pulls = pulls if pulls is not None else PullLog()
        self.lazy = lazy_ranges                 # cold ranges far ahead of the download: read from the origin

    # -- GET -----------------------------------------------------------------------------
    def get(self, target, digest: str, headers) -> Reply:
        parse_digest(digest)
        spec = parse_range(headers.get("Range"))
        up, repo = target.upstream, target.repository
        rec = self.pulls.begin(up.name, repo, digest, headers.get("Range"))
        try:
            self.access.check(up, repo, digest, headers)
            return self._get(up, repo, digest, headers, spec, rec)
        except DfError as e:
            self.pulls.end(rec, error=f"{e.code}: {e.message}")
            raise
        except BaseException as e:
            self.pulls.end(rec, error=e.__class__.__name__)
            raise

    def _get(self, up, repo, digest, headers, spec, rec) -> Reply:
        hit = self.cache.open(digest)
        if hit is not None:
            return self._from_cache(hit, digest, spec, rec)
        self._local("miss")
        authorization = self.auth.resolve_authorization(up, headers, repo)
        flight, started = self.flights.join_or_create(digest, lambda: self._new_flight(digest))
        if flight is None:                      # published between our miss and the lock
            hit = self.cache.open(digest)
            if hit is not None:
                return self._from_cache(hit, digest, spec, rec)
            flight, started = self.flights.join_or_create(digest, lambda: self._new_flight(digest, force=True))
        if started:
            if self.metrics is not None:
                self.metrics.flights.inc()
            self._spawn(self._run, flight, up, repo, digest, authorization)
        elif self.metrics is not None:
            self.metrics.flight_joins.inc()
        rec.source = "download" if started else "joined"
        fd = flight.open()
        if fd is None:                          # finished (published or failed) before we opened it
            flight.wait_start(need_size=True, timeout=0)
            hit = self.cache.open(digest)
            if hit is None:
                raise DfError("UPSTREAM_ERROR", f"blob {digest} download ended without content")
            return self._from_cache(hit, digest, spec, rec)
        try:
            flight.wait_start(need_size=spec is not None, timeout=self.stall_timeout)
            if spec is not None and self.lazy is not None and flight.size is not None:
                reply = self._lazy(flight, up, repo, digest, authorization, spec, rec)
                if reply is not None:
                    os.close(fd)
                    return reply
            return self._from_flight(flight, fd, digest, spec, rec)
        except BaseException:
            os.close(fd)
            raise

    def _lazy(self, flight, up, repo, digest, authorization, spec, rec) -> Reply | None:
        start, end = spec.resolve(flight.size)
        if not self.lazy.wanted(flight, start):
            return None
        answer = self.lazy.reply(up, repo, digest, authorization, start, end, flight.size, rec,
                                 lambda error: self.pulls.end(rec, error=error))
        return Reply(*answer) if answer is not None else None

    def _local(self, outcome: str) -> None:
        self.pulls.count_local(outcome)
        if self.metrics is not None:
            self.metrics.local_requests.labels(outcome).inc()

    def _new_flight(self, digest: str, force: bool = False) -> Flight | None:
        if not force and digest in self.cache:
            return None
        return Flight(digest, self.cache.writer(digest), self.stall_timeout)

    def _run(self, flight, up, repo, digest, authorization) -> None:
        try:
            self.fetcher.run(flight, up, repo, digest, authorization)
        finally:
            self.flights.done(flight)

    def _from_flight(self, flight: Flight, fd: int, digest: str, spec, rec) -> Reply:
        size = flight.size
        headers = [("Content-Type", OCTET), ("Docker-Content-Digest", digest), ("Accept-Ranges", "bytes")]
        sent = counting(rec, self._counter("flight"))
        done = self._flight_done(rec, flight)
        if spec is not None:
            if size is None:
                flight.wait_start(need_size=True, timeout=self.stall_timeout)
                size = flight.size
            if size is not None:
                start, end = spec.resolve(size)
                headers += [("Content-Length", str(end - start)), ("Content-Range", content_range(start, end, size))]
                return Reply(206, headers, FlightRange(flight, fd, start, end, sent, on_close=done))
        if size is not None:
            headers.append(("Content-Length", str(size)))
            return Reply(200, headers, FlightRange(flight, fd, 0, size, sent, on_close=done))
        return Reply(200, headers, _ending(flight.body(fd, 0, None, sent), done))

    def _flight_done(self, rec, flight):
        def done() -> None:
            if rec.source == "download":
                rec.source = flight.source
            elif rec.source == "joined":
                rec.source = f"joined:{flight.source}"
            failed = flight.state == "failed"
            self.pulls.end(rec, flight, error=(flight.error.message if flight.error else "download failed")
                           if failed else "")
        return done

    def _from_cache(self, hit, digest: str, spec, rec) -> Reply:
        fh, size = hit
        self._local("hit")
        rec.source = "cache"
        headers = [("Content-Type", OCTET), ("Docker-Content-Digest", digest), ("Accept-Ranges", "bytes")]
        start, end, status = 0, size, 200
        if spec is not None:
            try:
                start, end = spec.resolve(size)
            except BaseException:
                fh.close()
                raise
            status = 206
            headers.append(("Content-Range", content_range(start, end, size)))
        headers.append(("Content-Length", str(end - start)))
        rec.bytes_from["cache"] = end - start
        try:
            fd = os.dup(fh.fileno())
        finally:
            fh.close()
        return Reply(status, headers, FileRange(fd, start, end - start, sent=counting(rec, self._counter("cache")),
                                                on_close=lambda: self.pulls.end(rec)))

    def _counter(self, source: str):
        if self.metrics is None:
            return None
        served = self.metrics.blob_served.labels(source)
        if source != "cache":
            return served.inc
        obtained = self.metrics.blob_bytes.labels("cache")

        def count(n: int) -> None:
            served.inc(n)
            obtained.inc(n)
        return count

    # -- HEAD ----------------------------------------------------------------------------
    def head(self, target, digest: str, headers, environ) -> Reply:
        parse_digest(digest)
        up, repo = target.upstream, target.repository
        self.access.check(up, repo, digest, headers)
        size = self.cache.size_of(digest)
        if size is not None:
            return Reply(200, [("Content-Type", OCTET), ("Docker-Content-Digest", digest),
                               ("Content-Length", str(size)), ("Accept-Ranges", "bytes")], ())
        return self.passthrough.forward(target, "HEAD", f"/v2/{repo}/blobs/{digest}", environ, headers)


def _ending(body, on_end):
    """``body`` (a generator), with ``on_end()`` called once when it finishes or is closed."""
    try:
        yield from body
    finally:
        on_end()


def _thread(fn, *args) -> None:
    threading.Thread(target=fn, args=args, name="blob-fetch", daemon=True).start()
