"""Fill one :class:`Flight`: the P2P downloader first, the upstream directly when P2P fails.

The P2P task URL is ``<upstream>/v2/<repo>/blobs/<digest>`` (no ``ns``), so blobs preheated by the
supernode are found under the same task id. A direct fetch resumes at the bytes already written
(``Range``), follows redirects without taking ``Authorization`` to another host, and maps the
upstream's refusals to OCI errors (401 keeps the origin's challenge for the client).
"""
from __future__ import annotations

import logging

import urllib3

from dfcommon.errors import DfError
from dfdaemon.p2p import DownloadError

from .flight import Flight

log = logging.getLogger(__name__)

BLOCK = 1 << 20
STATS_WAIT = 5.0        # seconds to wait for a finished P2P download's statistics


class BlobFetcher:
    def __init__(self, downloader, http, metrics=None, filters=(), direct_only: bool = False):
        self.downloader = downloader
        self.http = http
        self.metrics = metrics
        self.filters = list(filters)
        self.direct_only = direct_only or downloader is None

    def run(self, flight: Flight, upstream, repository: str, digest: str, authorization: str | None) -> None:
        """Fill the flight, then verify and publish it; any failure ends in ``flight.fail``."""
        try:
            if not self.direct_only:
                try:
                    self._p2p(flight, upstream, repository, digest, authorization)
                    flight.finish()
                    if flight.state != "done":
                        self._failed()
                    return
                except DownloadError as e:
                    log.warning("p2p download failed, fetching directly digest=%s upstream=%s written=%d "
                                "error=%s", digest, upstream.name, flight.written, e.message)
                    flight.fallback_reason = e.message
            flight.source = "direct"
            self._direct(flight, upstream, repository, digest, authorization)
            flight.finish()
            if flight.state != "done":
                self._failed()
        except DfError as e:
            self._failed()
            flight.fail(e)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            log.warning("blob download interrupted digest=%s upstream=%s error=%s", digest, upstream.name,
                        e.__class__.__name__)
            self._failed()
            flight.fail(DfError("UPSTREAM_ERROR", f"the connection to {upstream.name} was lost"))
        except Exception as e:      # noqa: BLE001 - every failure must reach the waiting clients
            log.exception("blob download failed digest=%s", digest)
            self._failed()
            flight.fail(DfError("UPSTREAM_ERROR", f"blob download failed: {e.__class__.__name__}"))

    def _failed(self) -> None:
        if self.metrics is not None:
            self.metrics.flight_failures.inc()

    def _count(self, source: str, n: int) -> None:
        if self.metrics is not None:
            self.metrics.blob_bytes.labels(source).inc(n)

    def _p2p(self, flight, upstream, repository, digest, authorization) -> None:
        headers = [("Authorization", authorization)] if authorization else []
        stream = self.downloader.stream(upstream.blob_url(repository, digest), headers=headers,
                                        filters=self.filters, notbs=True, dfdaemon=True, digest_verified=True,
                                        insecure=upstream.insecure, cacerts=list(upstream.ca_files))
        flight.size_probe = lambda: stream.progress.expected
        try:
            with stream:
                for block in stream:
                    flight.write(block)
                    self._count("p2p", len(block))
        finally:
            result = stream.wait(STATS_WAIT)
            if result is not None:            # who served the pieces: peers, the supernode, the origin
                for source, n in result.bytes_from.items():
                    flight.obtained[source] = flight.obtained.get(source, 0) + n

    def _direct(self, flight, upstream, repository, digest, authorization) -> None:
        offset = flight.written
        headers = [("Accept-Encoding", "identity")]
        if offset:
            headers.append(("Range", f"bytes={offset}-"))
        resp = self.http.request(upstream, "GET", f"/v2/{repository}/blobs/{digest}", headers, authorization)
        try:
            if resp.status not in (200, 206):
                raise upstream_error(resp, "BLOB_UNKNOWN", f"blob {digest}")
            skip = offset
            if resp.status == 206:
                start = _range_start(resp.headers.get("Content-Range"))
                if start != offset:
                    raise DfError("UPSTREAM_ERROR", "upstream answered a different range than asked")
                skip = 0
            length = resp.headers.get("Content-Length")
            if resp.status == 200 and length and length.isdigit():
                flight.set_size(int(length))
            for block in resp.stream(BLOCK, decode_content=False):
                if skip:
                    cut = min(skip, len(block))
                    block, skip = block[cut:], skip - cut
                    if not block:
                        continue
                flight.write(block)
                self._count("direct", len(block))
                flight.obtained["origin"] = flight.obtained.get("origin", 0) + len(block)
        finally:
            resp.release_conn()


def _range_start(value: str | None) -> int | None:
    try:
        return int(value.split()[1].split("-")[0])
    except (AttributeError, IndexError, ValueError):
        return None


def upstream_error(resp, not_found: str, what: str) -> DfError:
    """An OCI error for a refused upstream request; 401 carries the origin's challenge."""
    status = resp.status
    if status == 401:
        challenge = resp.headers.getlist("WWW-Authenticate")
        return DfError("UNAUTHORIZED", "authentication required by the upstream registry",
                       detail={"www_authenticate": list(challenge or [])})
    if status == 403:
        return DfError("DENIED", "the upstream registry denied access")
    if status == 404:
        return DfError(not_found, f"{what} unknown to the upstream registry")
    if status == 429:
        return DfError("TOO_MANY_REQUESTS", "the upstream registry is rate limiting")
    return DfError("UPSTREAM_ERROR", f"the upstream registry answered HTTP {status} for {what}")
