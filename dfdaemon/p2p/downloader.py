"""The P2P downloader as a library: ``download()`` to a file, ``stream()`` to an in-process consumer.

A :class:`Downloader` is built once per process by a composition root (the ``dfget`` CLI or
the dfdaemon) from :class:`DownloaderOptions`; each call runs one :class:`DownloadJob`.
``download()`` never raises for a failed download: it returns a :class:`Result` whose
``code`` maps to dfget's exit status. ``stream()`` yields the bytes in order while pieces
land, and raises :class:`DownloadError` from the iterator if the download fails.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import random
import tempfile
import threading
import time

from dfcommon.errors import ConfigError
from dfcommon.pool_http import PoolClient
from dfcommon.ratelimit import TokenBucket

from .job import DownloadJob
from .locator import parse_nodes
from .options import PATTERNS, VERSION, DownloaderOptions, DownloadRequest
from .result import DownloadError, ErrorCode, Result
from .stream import ByteStream, Progress
from .supernode_client import SupernodeClient
from .uploader import LauncherUploadServer
from .trust import KeyTrust, trusted_keys_dir

log = logging.getLogger(__name__)

__all__ = ["Downloader", "DownloaderOptions", "DownloadRequest", "DownloadStream", "PATTERNS", "VERSION"]


class Downloader:
    def __init__(self, options: DownloaderOptions, session: requests.Session | None = None,
                 client: SupernodeClient | None = None, upload=None, rng: random.Random | None = None,
                 sleep=time.sleep, version: str = VERSION):
        parse_nodes(options.nodes)          # fail at start-up on a bad node list (ConfigError)
        self.limit_wait_seconds = 0.0       # time downloads spent waiting on their rate limiter
        self.limit_bound_pulls = 0          # downloads a configured rate limit made wait
        self.on_limit_wait = None           # optional callback(seconds), e.g. a metrics counter
        self.options = options
        self.version = version
        self.user_agent = f"dfget/{version}"
        self._session = session             # back-to-source only: built (and requests loaded) on first use
        self.peer_verify = _verify_for(options)
        # pieces and supernode calls: urllib3 pools (see dfcommon.pool_http); the session is for back-to-source
        self.http = PoolClient(pool_size=max(8, options.client_queue_size * 2), user_agent=self.user_agent)
        self.client = client or SupernodeClient(self.http, timeout=options.supernode_timeout,
                                                token=options.supernode_token,
                                                user_agent=self.user_agent, scheme=options.supernode_scheme,
                                                verify=self.peer_verify)
        self.key_trust = KeyTrust(trusted_keys_dir(options.work_home), self.client) if options.trust_keys else None
        self._upload = upload
        self.rng = rng or random.Random()
        self.sleep = sleep
        self._sign_lock = threading.Lock()
        self._last_sign = ""
        self._bundles: dict[tuple, str] = {}

    # ---- public API -----------------------------------------------------------------------
    def download(self, url: str, output: str | None = None, progress: Progress | None = None,
                 cancelled: threading.Event | None = None, **kw) -> Result:
        """Download ``url`` to ``output``; see :class:`DownloadRequest` for the keyword arguments."""
        req = self._request(url, output, kw)
        progress = progress or Progress()
        cancelled = cancelled or threading.Event()
        try:
            self._validate(req)
            job = DownloadJob(self, req, self.new_sign(), progress, cancelled)
        except DownloadError as e:
            progress.fail(e)
            return Result(success=False, url=url, output=output, code=e.code, message=e.message)
        return job.run()

    def stream(self, url: str, output: str | None = None, **kw) -> "DownloadStream":
        """Start downloading in the background; iterate the returned stream for the bytes in order."""
        req = self._request(url, output, kw)
        self._validate(req)
        progress, cancelled = Progress(), threading.Event()
        job = DownloadJob(self, req, self.new_sign(), progress, cancelled)
        return DownloadStream(job, progress, cancelled)

    # ---- helpers used by jobs -------------------------------------------------------------
    @property
    def session(self):
        """The requests session of back-to-source downloads, made when the first one starts."""
        if self._session is None:
            from dfcommon.http import make_session
            self._session = make_session(timeout=(5.0, 30.0), retries=0, user_agent=self.user_agent,
                                         pool=max(8, self.options.client_queue_size * 2))
        return self._session

    @property
    def upload(self):
        if self._upload is None:
            o = self.options
            self._upload = LauncherUploadServer(o.work_home, o.ip or "0.0.0.0", o.port, o.alive_time,
                                                o.expire_time, o.total_limit, tls_cert=o.upload_tls_cert,
                                                tls_key=o.upload_tls_key, supernode_token=o.supernode_token,
                                                supernode_ca=o.supernode_ca)
        return self._upload

    def start_upload_server(self, ip: str, task_file_name: str) -> int:
        """Port of the host's upload server, or 0 (pattern cdn: download without uploading)."""
        try:
            return int(self.upload.ensure(task_file_name))
        except Exception as e:      # noqa: BLE001 - any failure means "do not upload"
            log.warning("upload server unavailable, downloading without uploading error=%s", e)
            return 0

    def upload_rate(self, port: int, task_file_name: str, rate: int) -> int | None:
        try:
            return self.upload.rate(port, task_file_name, rate)
        except Exception as e:      # noqa: BLE001
            log.debug("rate negotiation failed error=%s", e)
            return None

    def trust(self, node: str) -> None:
        """Store ``node``'s token keys for the upload server (a failure only logs: auth may be off)."""
        if self.key_trust is None:
            return
        try:
            self.key_trust.update(node)
        except OSError as e:
            log.warning("cannot store supernode keys node=%s error=%s", node, e)

    def record_limit_wait(self, seconds: float) -> None:
        self.limit_wait_seconds += seconds
        self.limit_bound_pulls += 1
        if self.on_limit_wait is not None:
            self.on_limit_wait(seconds)

    def make_limiter(self, local_limit: int | None) -> TokenBucket | None:
        if local_limit is None:
            rate, source = self.options.local_limit, self.options.local_limit_source
        else:
            rate, source = local_limit, "request localLimit"
        return TokenBucket(rate, source) if rate and rate > 0 else None

    def new_sign(self) -> str:
        """``<pid>-<unix seconds with 3 decimals>``, unique within this process."""
        with self._sign_lock:
            now = time.time()
            sign = f"{os.getpid()}-{now:.3f}"
            while sign <= self._last_sign and sign.split("-")[0] == self._last_sign.split("-")[0]:
                now += 0.001
                sign = f"{os.getpid()}-{now:.3f}"
            self._last_sign = sign
            return sign

    def ca_bundle(self, cacerts) -> str:
        """A CA bundle for the source: the default roots plus ``cacerts`` (cached per set)."""
        key = tuple(cacerts)
        if key not in self._bundles:
            import certifi
            os.makedirs(self.options.work_home, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix=".cabundle-", suffix=".pem", dir=self.options.work_home)
            with os.fdopen(fd, "wb") as fh:
                with open(certifi.where(), "rb") as base:
                    fh.write(base.read())
                for p in cacerts:
                    with open(p, "rb") as extra:
                        fh.write(b"\n" + extra.read() + b"\n")
            self._bundles[key] = path
        return self._bundles[key]

    def close(self) -> None:
        for path in self._bundles.values():
            try:
                os.unlink(path)
            except OSError:
                pass
        self._bundles.clear()

    # ---- internals -------------------------------------------------------------------------
    def _request(self, url: str, output: str | None, kw: dict) -> DownloadRequest:
        names = {f.name for f in dataclasses.fields(DownloadRequest)}
        unknown = set(kw) - names
        if unknown:
            raise TypeError(f"unknown download option(s): {', '.join(sorted(unknown))}")
        req = DownloadRequest(url=url, output=output, **kw)
        if isinstance(req.headers, dict):
            req.headers = list(req.headers.items())
        req.headers = [tuple(h) for h in req.headers]
        req.filters = [f for f in (req.filters or []) if f]
        req.cacerts = list(req.cacerts or [])
        return req

    @staticmethod
    def _validate(req: DownloadRequest) -> None:
        if not req.url or not req.url.lower().startswith(("http://", "https://")):
            raise DownloadError(ErrorCode.PREPARE, f"url {req.url!r} is not an http(s) URL")
        if req.pattern not in PATTERNS:
            raise DownloadError(ErrorCode.PREPARE, f"pattern must be one of {', '.join(PATTERNS)}, "
                                                   f"got {req.pattern!r}")
        if req.nodes is not None:
            try:
                parse_nodes(req.nodes)
            except ConfigError as e:
                raise DownloadError(ErrorCode.PREPARE, str(e)) from None


def _verify_for(options: DownloaderOptions):
    """``verify=`` for the supernode and https peers: True, or a bundle of ``supernode_ca`` (ConfigError when
    a file is missing)."""
    from dfcommon.tls import client_verify
    if len(options.supernode_ca) > 1:
        os.makedirs(options.work_home, exist_ok=True)
    return client_verify(options.supernode_ca, options.work_home)


class DownloadStream(ByteStream):
    """Bytes of a download in order as they land; ``result`` once the iterator is exhausted."""

    def __init__(self, job: DownloadJob, progress: Progress, cancelled: threading.Event):
        super().__init__(progress, on_close=self._closed)
        self.job, self.cancelled = job, cancelled
        self.result: Result | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dfget-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self.job.run()
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> Result | None:
        self._done.wait(timeout)
        return self.result

    def _closed(self, finished: bool) -> None:
        if not finished:
            self.cancelled.set()
        self._done.wait()
        self.job.after_stream()
