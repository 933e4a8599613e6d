"""HTTP access to a task's source (origin): probe, expiry check and the streaming download."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from email.utils import formatdate, parsedate_to_datetime
from typing import Iterator

import requests
import urllib3

from dfcommon.errors import DfError
from dfcommon.http import make_session
from dfcommon.ssrf import FetchRefused

from .types import SourceInfo, SourceRequest

log = logging.getLogger(__name__)

PROBE_TIMEOUT = (4.0, 4.0)
BLOCK = 1 << 20
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade",
        "proxy-connection", "trailer", "if-modified-since", "if-none-match"}
_CONTENT_RANGE_RE = re.compile(r"^bytes\s+(\d+)-\d+/(\d+|\*)$")     # start, total length
_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class SourceStatusError(Exception):
    """The source answered with a status the download cannot use."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def default_session_factory(timeout):
    return make_session(timeout=timeout, retries=2)


def user_headers(req: SourceRequest) -> dict[str, str]:
    """The user's headers as one dict; repeated keys are joined with ', ' (RFC 9110 list semantics)."""
    out: dict[str, str] = {}
    canon: dict[str, str] = {}
    for k, v in req.headers:
        low = k.strip().lower()
        if not low or low in _HOP:
            continue
        if low in canon:
            out[canon[low]] = f"{out[canon[low]]}, {v.strip()}"
        else:
            canon[low] = k.strip()
            out[k.strip()] = v.strip()
    if "accept-encoding" not in canon:
        out["Accept-Encoding"] = "identity"     # cache the bytes the source holds, not a re-encoding
    return out


def has_user_range(req: SourceRequest) -> bool:
    return any(k.strip().lower() == "range" for k, _ in req.headers)


@contextlib.contextmanager
def tls_verify(req: SourceRequest):
    """The ``verify`` argument for requests: False when insecure, a temporary CA bundle for root_cas."""
    if req.insecure:
        yield False
        return
    if not req.root_cas:
        yield True
        return
    fd, path = tempfile.mkstemp(prefix="df-rootcas-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            for pem in req.root_cas:
                f.write(pem if pem.endswith(b"\n") else pem + b"\n")
        yield path
    finally:
        os.unlink(path)


def ms_of_http_date(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError, IndexError):
        return 0


def http_date_of_ms(ms: int) -> str:
    return formatdate(ms / 1000.0, usegmt=True)


class SourceClient:
    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 60.0, session_factory=None):
        factory = session_factory or default_session_factory
        self._probe_session = factory(PROBE_TIMEOUT)
        self.download_timeout = (connect_timeout, read_timeout)
        self._download_session = factory(self.download_timeout)

    def _get(self, session, req: SourceRequest, headers: dict, timeout) -> requests.Response:
        with tls_verify(req) as verify:
            return session.get(req.raw_url, headers=headers, timeout=timeout, stream=True,
                               verify=verify, allow_redirects=True)

    def probe(self, req: SourceRequest) -> SourceInfo:
        headers = user_headers(req)
        user_range = has_user_range(req)
        if not user_range:
            headers["Range"] = "bytes=0-0"
        try:
            resp = self._get(self._probe_session, req, headers, PROBE_TIMEOUT)
            if resp.status_code == 416 and not user_range:        # e.g. an empty file
                resp.close()
                headers.pop("Range")
                resp = self._get(self._probe_session, req, headers, PROBE_TIMEOUT)
        except FetchRefused as e:
            raise DfError("FETCH_REFUSED", str(e)) from None
        except requests.RequestException as e:
            log.info("source probe failed task=%s err=%s", req.task_id, type(e).__name__)
            raise DfError("SOURCE_ERROR", f"source not reachable: {type(e).__name__}") from None
        resp.close()
        status = resp.status_code
        if status == 404:
            raise DfError("URL_NOT_REACHABLE", f"source answered 404 for task {req.task_id}")
        if status in (401, 407):
            raise DfError("SOURCE_AUTH", f"source answered {status}")
        if status == 206 and not user_range:
            m = _CONTENT_RANGE_RE.match(resp.headers.get("Content-Range", "").strip())
            length = int(m.group(2)) if m and m.group(2) != "*" else -1
            return SourceInfo(status, length, True)
        if status in (200, 206):
            return SourceInfo(status, _content_length(resp), False)
        return SourceInfo(status, -1, False)

    def is_expired(self, req: SourceRequest, last_modified_ms: int, etag: str) -> bool:
        """Anything but 304 means expired; so does a copy with neither Last-Modified nor ETag."""
        if not last_modified_ms and not etag:
            return True
        headers = user_headers(req)
        if last_modified_ms:
            headers["If-Modified-Since"] = http_date_of_ms(last_modified_ms)
        if etag:
            headers["If-None-Match"] = etag
        try:
            resp = self._get(self._probe_session, req, headers, PROBE_TIMEOUT)
        except requests.RequestException as e:
            log.info("expiry check failed task=%s err=%s", req.task_id, type(e).__name__)
            return True
        resp.close()
        return resp.status_code != 304

    def download(self, req: SourceRequest, start: int = 0, length: int = -1) -> requests.Response:
        """Open the body stream; ``start`` > 0 resumes with a Range request (206 required)."""
        headers = user_headers(req)
        if start > 0:
            headers["Range"] = f"bytes={start}-{length - 1}" if length > 0 else f"bytes={start}-"
        resp = self._get(self._download_session, req, headers, self.download_timeout)
        ok = (206,) if start > 0 else (200, 206)
        if resp.status_code not in ok:
            resp.close()
            raise SourceStatusError(resp.status_code, f"source answered {resp.status_code}")
        return resp

    def download_range(self, req: SourceRequest, start: int, stop: int) -> requests.Response:
        """Open bytes ``[start, stop)`` of the body; anything but a 206 for exactly that start is an error."""
        headers = user_headers(req)
        headers["Range"] = f"bytes={start}-{stop - 1}"
        resp = self._get(self._download_session, req, headers, self.download_timeout)
        if resp.status_code != 206:
            resp.close()
            raise SourceStatusError(resp.status_code, f"source answered {resp.status_code} to a range request")
        m = _CONTENT_RANGE_RE.match(resp.headers.get("Content-Range", "").strip())
        if m is None or int(m.group(1)) != start:
            resp.close()
            raise SourceStatusError(206, f"source answered another range ({resp.headers.get('Content-Range')!r}) "
                                         f"than bytes {start}-{stop - 1}")
        return resp

    @staticmethod
    def body(resp: requests.Response, block: int = BLOCK) -> Iterator[bytes]:
        """The raw body in blocks (no content decoding); a cut-off body raises a read error."""
        try:
            yield from resp.raw.stream(block, decode_content=False)
        finally:
            resp.close()


def _content_length(resp) -> int:
    try:
        return int(resp.headers.get("Content-Length", "-1"))
    except ValueError:
        return -1


def is_read_error(exc: BaseException) -> bool:
    return isinstance(exc, _READ_ERRORS)
