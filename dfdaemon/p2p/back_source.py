"""Back to the source: one direct GET of the URL into a temp file, md5 verified.

Used when ``-p source`` is asked for or when P2P fails (unless ``--notbs``). The temp file
lives in the target directory (``.backsource.<sign>.*``) so the final rename is atomic;
it is removed on any failure. The user's headers and TLS options apply, and the local
rate limit throttles the body.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time

import requests

from .result import DownloadError, ErrorCode

log = logging.getLogger(__name__)

BLOCK = 1 << 20


class BackSource:
    def __init__(self, session: requests.Session, limiter=None, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, user_agent: str = "dfget"):
        self.session = session
        self.limiter = limiter
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.user_agent = user_agent

    def fetch(self, url: str, headers, dest_dir: str, prefix: str, md5: str = "", verify=True,
              deadline: float | None = None, progress=None, cancelled=None, reason: int = 0,
              min_rate: int = 0) -> tuple[str, int, str]:
        """Download ``url`` into a new temp file in ``dest_dir``; return (path, length, md5hex).

        ``headers`` is a list of (key, value); ``progress`` (a :class:`Progress`) is switched to
        the temp file and fed as bytes land, for streaming consumers. Without a ``deadline``
        the body must arrive within ``Content-Length / min_rate + 10 s`` (5 min if unknown).
        """
        hdrs = {"User-Agent": self.user_agent}
        for k, v in headers or ():
            hdrs[k] = f"{hdrs[k]},{v}" if k in hdrs and k != "User-Agent" else v
        os.makedirs(dest_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=prefix, dir=dest_dir)
        ok = False
        try:
            if progress is not None:
                progress.switch(path)
            length, digest = self._download(url, hdrs, fd, verify, deadline, progress, cancelled, reason, min_rate)
            if md5 and digest != md5.lower():
                raise DownloadError(ErrorCode.DOWNLOAD, f"md5 of {url} is {digest}, expected {md5}", reason=reason)
            ok = True
            return path, length, digest
        finally:
            os.close(fd)
            if not ok:
                _unlink(path)

    def _download(self, url, hdrs, fd, verify, deadline, progress, cancelled, reason, min_rate) -> tuple[int, str]:
        try:
            resp = self.session.get(url, headers=hdrs, stream=True, verify=verify,
                                    timeout=(self.connect_timeout, self.read_timeout))
        except requests.RequestException as e:
            raise DownloadError(ErrorCode.DOWNLOAD, f"cannot reach the source {url}: {e.__class__.__name__}",
                                reason=reason) from None
        with resp:
            if resp.status_code not in (200, 206):
                raise DownloadError(ErrorCode.DOWNLOAD, f"the source replied HTTP {resp.status_code} for {url}",
                                    reason=reason, status=resp.status_code)
            expected = resp.headers.get("Content-Length")
            if deadline is None:
                known = int(expected) if expected and expected.isdigit() else 0
                deadline = time.monotonic() + (known / min_rate + 10.0 if known and min_rate > 0 else 300.0)
            if progress is not None and expected and expected.isdigit():
                progress.expected = int(expected)
            md5 = hashlib.md5()
            length = 0
            try:
                for block in resp.iter_content(BLOCK):
                    if cancelled is not None and cancelled.is_set():
                        raise DownloadError(ErrorCode.DOWNLOAD, "download cancelled", reason=reason)
                    if deadline is not None and time.monotonic() > deadline:
                        raise DownloadError(ErrorCode.DOWNLOAD, f"timed out downloading {url} from the source",
                                            reason=reason)
                    if self.limiter is not None:
                        self.limiter.acquire(len(block))
                    _write_all(fd, block)
                    md5.update(block)
                    if progress is not None:
                        progress.add(length, len(block))
                    length += len(block)
            except requests.RequestException as e:
                raise DownloadError(ErrorCode.DOWNLOAD, f"reading {url} from the source failed: "
                                                        f"{e.__class__.__name__}", reason=reason) from None
            except OSError as e:
                raise DownloadError(ErrorCode.DOWNLOAD, f"cannot write the download: {e.strerror}",
                                    reason=reason) from None
        if expected is not None and expected.isdigit() and int(expected) != length and \
                "Content-Encoding" not in resp.headers:
            raise DownloadError(ErrorCode.DOWNLOAD, f"the source sent {length} of {expected} bytes", reason=reason)
        return length, md5.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
