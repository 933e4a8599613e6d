"""Upstream HTTP(S) forwarding for proxied requests: streaming, repeated headers kept, bounded time.

Every call has (connect, read) timeouts and at most ``retries`` connection retries; redirects
are handed back to the client, bodies are streamed both ways in blocks of 1 MiB and never
decoded. TLS to the upstream verifies against the system roots, or only against the ``certs``
of a hijack host, or not at all for an ``insecure`` one. Under the dfdaemon the process is
gevent monkey-patched, so these sockets are cooperative.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError,
                                ReadTimeoutError, SSLError)
from urllib3.util import SKIP_HEADER
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from dfcommon.errors import DfError

log = logging.getLogger(__name__)

BLOCK = 1 << 20
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"})


@dataclass(frozen=True)
class TlsOptions:
    """How to verify an upstream's certificate: ``certs`` replace the system roots."""
    insecure: bool = False
    certs: tuple = ()

    @property
    def default(self) -> bool:
        return not self.insecure and not self.certs


class StreamAborted(Exception):
    """The upstream (or P2P) body failed after the response started; the client connection is cut."""


def end_to_end(headers) -> list[tuple[str, str]]:
    """Drop hop-by-hop headers and those named by ``Connection``; keep repeated ones in order."""
    named = set()
    for key, value in headers:
        if key.lower() in ("connection", "proxy-connection"):
            named.update(v.strip().lower() for v in value.split(",") if v.strip())
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in named]


class UpstreamResponse:
    """Status, headers (repeated ones kept) and a body iterator of an upstream reply."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str):
        self.raw, self.url = raw, url
        self.status = raw.status
        self.reason = raw.reason or ""
        self.headers = end_to_end(list(raw.headers.items()))

    def __iter__(self):
        try:
            while True:
                block = self.raw.read(BLOCK, decode_content=False)
                if not block:
                    self._complete = True
                    return
                yield block
        except (HTTPError, OSError) as e:
            raise StreamAborted(f"upstream {self.url} failed mid-body: {e}") from None
        finally:
            self.close()

    _complete = False

    def close_without_body(self) -> None:
        """For replies that carry no body (HEAD, 204, 304): the connection can be reused."""
        self._complete = True
        self.close()

    def close(self) -> None:
        """Return a fully read connection to the pool; close one with unread data."""
        if self._complete:
            self.raw.release_conn()
        else:
            self.raw.close()
            self.raw.release_conn()


class Forwarder:
    """Sends proxied requests upstream with one connection pool per TLS option set."""

    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 60.0, retries: int = 1,
                 pool_size: int = 16):
        self.timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self.retries, self.pool_size = retries, pool_size
        self._pools: dict[TlsOptions, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def pool(self, tls: TlsOptions | None) -> urllib3.PoolManager:
        tls = tls or TlsOptions()
        with self._lock:
            pool = self._pools.get(tls)
            if pool is None:
                kw = {"maxsize": self.pool_size, "block": False}
                if tls.insecure:
                    kw.update(cert_reqs="CERT_NONE", assert_hostname=False)
                elif tls.certs:
                    kw.update(cert_reqs="CERT_REQUIRED", ca_cert_data=_bundle(tls.certs))
                pool = self._pools[tls] = urllib3.PoolManager(num_pools=32, **kw)
            return pool

    def send(self, method: str, url: str, headers, body=None, chunked: bool = False,
             tls: TlsOptions | None = None) -> UpstreamResponse:
        """Send ``method url``; ``headers`` is a list of pairs (hop-by-hop ones are dropped here)."""
        out = urllib3.HTTPHeaderDict()
        for key, value in end_to_end(headers):
            if key.lower() != "host":
                out.add(key, value)
        if "user-agent" not in out:
            out["User-Agent"] = SKIP_HEADER
        retry = Retry(total=self.retries, connect=self.retries, read=0, status=0, other=0, redirect=False,
                      raise_on_redirect=False, raise_on_status=False)
        try:
            raw = self.pool(tls).urlopen(method, url, body=body, headers=out, chunked=chunked, redirect=False,
                                         retries=retry, timeout=self.timeout, preload_content=False,
                                         decode_content=False, assert_same_host=False)
        except MaxRetryError as e:
            raise _upstream_error(url, e.reason or e) from None
        except (HTTPError, OSError, ValueError) as e:
            raise _upstream_error(url, e) from None
        log.debug("forwarded method=%s url=%s status=%s", method, url, raw.status)
        return UpstreamResponse(raw, url)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.clear()
            self._pools.clear()


def _bundle(paths) -> str:
    parts = []
    for path in paths:
        with open(path, encoding="ascii") as fh:
            parts.append(fh.read().strip())
    return "\n".join(parts) + "\n"


def _upstream_error(url: str, cause) -> DfError:
    if isinstance(cause, NewConnectionError):       # (a subclass of ConnectTimeoutError in urllib3)
        return DfError("UPSTREAM_ERROR", f"cannot connect to upstream {url}: {_short(cause)}")
    if isinstance(cause, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        return DfError("UPSTREAM_ERROR", f"upstream {url} timed out", http_status=504)
    if isinstance(cause, SSLError):
        return DfError("UPSTREAM_ERROR", f"TLS with upstream {url} failed: {cause}")
    return DfError("UPSTREAM_ERROR", f"upstream {url} failed: {_short(cause)}")


def _short(cause) -> str:
    text = str(cause)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
