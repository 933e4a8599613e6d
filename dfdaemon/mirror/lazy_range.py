"""Lazy pulling: a ``Range`` request for bytes of a cold blob far ahead of its download is answered at once.

Lazy-pulling snapshotters (stargz / eStargz, SOCI, nydus) read a blob's footer and then only the files a
container opens, long before (or instead of) the whole blob. The mirror's download of a blob writes it in order,
so the footer of a 512 MiB layer would wait for the other 512 MiB. When a client asks for a range that starts
more than ``gap`` bytes beyond what the host's download has written, this reads exactly that range from the
origin (``Range: bytes=a-b``, with the credentials the pull resolved) and streams it to the client while the
single-flight download of the whole blob goes on in the background and fills the cache as usual. A range
already written, or about to be, is served from the download. Origin bytes grow by the ranges read this way
(64 KiB for a footer: 1.0001x of a 512 MiB blob); an origin that ignores ``Range`` (200) or answers another
range makes the request wait for the download instead.
"""
from __future__ import annotations

import logging

from dfcommon.errors import DfError

from .flight import StreamAborted
from .ranges import content_range

log = logging.getLogger(__name__)

BLOCK = 1 << 20
OCTET = "application/octet-stream"
DEFAULT_GAP = 8 << 20           # a range starting within this of the download's progress waits for it


class LazyRanges:
    def __init__(self, http, metrics=None, gap: int = DEFAULT_GAP):
        self.http = http
        self.metrics = metrics
        self.gap = gap

    def wanted(self, flight, start: int) -> bool:
        """Whether a range starting at ``start`` is too far ahead of the flight to wait for it."""
        return flight.state == "running" and start >= flight.written + self.gap

    def reply(self, upstream, repository: str, digest: str, authorization, start: int, end: int, size: int,
              rec, on_end):
        """``(status, headers, body)`` of the range read from the origin, or None when the origin did not
        answer it as asked. ``on_end(error)`` is called once when the body is done."""
        headers = [("Range", f"bytes={start}-{end - 1}"), ("Accept-Encoding", "identity")]
        try:
            resp = self.http.request(upstream, "GET", f"/v2/{repository}/blobs/{digest}", headers, authorization)
        except DfError as e:
            log.info("lazy range read failed, waiting for the download digest=%s error=%s", digest, e.message)
            return None
        got = resp.headers.get("Content-Range", "")
        if resp.status != 206 or got.replace(" ", "") != content_range(start, end, size).replace(" ", ""):
            resp.release_conn()
            log.info("origin did not answer the range, waiting for the download digest=%s status=%d range=%s",
                     digest, resp.status, got or "-")
            return None
        rec.source = "range"
        if self.metrics is not None:
            self.metrics.lazy_ranges.inc()
        log.info("lazy range from the origin digest=%s range=%d-%d size=%d", digest, start, end - 1, size)
        out = [("Content-Type", OCTET), ("Docker-Content-Digest", digest), ("Accept-Ranges", "bytes"),
               ("Content-Length", str(end - start)), ("Content-Range", content_range(start, end, size))]
        return 206, out, self._body(resp, end - start, rec, on_end)

    def _body(self, resp, length: int, rec, on_end):
        sent = 0
        try:
            for block in resp.stream(BLOCK, decode_content=False):
                block = block[:length - sent]
                if not block:
                    break
                sent += len(block)
                rec.bytes_sent += len(block)
                rec.bytes_from["origin"] = rec.bytes_from.get("origin", 0) + len(block)
                if self.metrics is not None:
                    self.metrics.blob_bytes.labels("range").inc(len(block))
                    self.metrics.blob_served.labels("range").inc(len(block))
                yield block
            if sent < length:
                raise StreamAborted(f"the origin sent {sent} of {length} range bytes")
        finally:
            resp.release_conn()
            on_end("" if sent == length else "range cut short")
