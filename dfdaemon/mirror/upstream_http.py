"""HTTP to upstream registries with repeated headers kept, redirects followed here, timeouts everywhere.

``requests`` merges headers into a dict, which collapses repeated ``Accept`` lines, so this uses
urllib3 with :class:`HTTPHeaderDict` (one line per value). Redirects are followed server-side;
``Authorization`` goes only to the upstream's own host, never to a redirect target elsewhere
(presigned storage URLs refuse a second credential). Connection errors are retried a bounded
number of times; nothing else is.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3 import HTTPHeaderDict
from urllib3.util.retry import Retry

from dfcommon.errors import DfError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class UpstreamHttp:
    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 30.0, retries: int = 2,
                 user_agent: str = "dfdaemon", pool_size: int = 16):
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.retries = retries
        self.user_agent = user_agent
        self.pool_size = pool_size
        self._pools: dict = {}
        self._lock = threading.Lock()

    def _pool(self, upstream) -> urllib3.PoolManager:
        key = (bool(upstream.insecure), tuple(upstream.ca_files))
        with self._lock:
            pm = self._pools.get(key)
            if pm is None:
                kw = {"cert_reqs": "CERT_NONE"} if upstream.insecure else {}
                if upstream.ca_files and not upstream.insecure:
                    kw["ca_certs"] = _bundle(upstream.ca_files)
                pm = self._pools[key] = urllib3.PoolManager(num_pools=32, maxsize=self.pool_size, **kw)
            return pm

    def request(self, upstream, method: str, path: str, headers=(), authorization: str | None = None,
                body_stream: bool = True):
        """Send ``method`` ``<upstream.url><path>``; return the final urllib3 response (unread).

        ``headers`` is a list of (name, value), repeats kept. Raises UPSTREAM_ERROR when the
        upstream cannot be reached or redirects too often.
        """
        url = upstream.url + path
        origin = _origin(upstream.url)
        pm = self._pool(upstream)
        for _ in range(MAX_REDIRECTS + 1):
            hdrs = HTTPHeaderDict()
            for k, v in headers:
                hdrs.add(k, v)
            if "User-Agent" not in hdrs:
                hdrs["User-Agent"] = self.user_agent
            if authorization and _origin(url) == origin:
                hdrs["Authorization"] = authorization
            try:
                resp = pm.request(method, url, headers=hdrs, preload_content=False, decode_content=False,
                                  redirect=False, timeout=self.timeout,
                                  retries=Retry(total=self.retries, connect=self.retries, read=0, status=0,
                                                redirect=0, backoff_factor=0.2, raise_on_status=False))
            except urllib3.exceptions.HTTPError as e:
                log.warning("upstream unreachable upstream=%s method=%s error=%s", upstream.name, method,
                            e.__class__.__name__)
                raise DfError("UPSTREAM_ERROR", f"upstream registry {upstream.name} is not reachable") from None
            location = resp.headers.get("Location")
            if resp.status not in REDIRECTS or not location:
                return resp
            resp.drain_conn()
            resp.release_conn()
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise DfError("UPSTREAM_ERROR", "upstream redirected to a non-HTTP location")
            if resp.status == 303:
                method = "GET" if method != "HEAD" else "HEAD"
            log.debug("following upstream redirect upstream=%s status=%d host=%s", upstream.name, resp.status,
                      urlsplit(url).netloc)
        raise DfError("UPSTREAM_ERROR", f"upstream registry {upstream.name} redirected too many times")

    def close(self) -> None:
        with self._lock:
            for pm in self._pools.values():
                pm.clear()
            self._pools.clear()


def _origin(url: str) -> tuple:
    p = urlsplit(url)
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or (443 if p.scheme == "https" else 80)


def _bundle(ca_files) -> str:
    """urllib3 takes one CA file; with several, the first is used and the rest are appended to a copy."""
    if len(ca_files) == 1:
        return ca_files[0]
    import tempfile
    fd, path = tempfile.mkstemp(prefix="dfdaemon-ca-", suffix=".pem")
    with open(fd, "wb") as out:
        for p in ca_files:
            with open(p, "rb") as f:
                out.write(f.read() + b"\n")
    return path
