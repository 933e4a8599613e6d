"""A lean HTTP client for the hot paths: supernode calls and piece downloads (urllib3 connection pools).

A P2P download makes three requests per piece (the piece itself, ``/peer/piece/suc`` and ``/peer/task``), so
a 256 MiB blob in 1 MiB pieces costs about 770 requests on every host. Through ``requests`` each one spent
about 1.6 ms of CPU on this machine, half of it outside urllib3: the environment's proxies and ``.netrc``
looked up on every call, hooks, the cookie jar, header merging. :class:`PoolClient` sends the same request
with urllib3 alone (0.8 ms) and keeps what matters: a (connect, read) timeout on every call, TLS
verification per call (True: the CA bundle ``requests`` uses; a path: that bundle; False: none), no
redirects and no retries (the callers decide what a failure means).

Proxies: cluster-internal traffic (supernodes, peers) never goes through ``HTTP(S)_PROXY``; a request to an
origin (``env_proxies=True``, the ``cdnSource: source`` pieces) honours them and ``NO_PROXY`` as ``requests``
does.
"""
from __future__ import annotations

import functools
import json as _json
import threading
from typing import Iterator, Mapping, Optional
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError as Urllib3Timeout

BLOCK = 1 << 20
# Characters a query value may keep unescaped (RFC 3986 query characters without the separators "&=+" and "#"):
# a query with no "%" takes urllib3's fast path instead of its per-character re-encoding (about 0.4 ms a call).
QUERY_SAFE = ":@/?!$'()*,;"


class HttpError(Exception):
    """The request failed before a complete reply: ``kind`` is ``timeout`` or ``connect``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@functools.lru_cache(maxsize=None)
def _ca_bundle() -> str | None:
    try:
        import certifi            # what requests verifies against when verify=True
        return certifi.where()
    except ImportError:           # pragma: no cover - requests depends on certifi
        return None


class Reply:
    """A reply whose body is read on demand; always use it as a context manager (or call :meth:`close`)."""

    def __init__(self, resp: urllib3.BaseHTTPResponse):
        self._resp = resp
        self.status: int = resp.status
        self.headers = resp.headers
        self._complete = False
        self._body: bytes | None = None

    def blocks(self, size: int = BLOCK) -> Iterator[bytes]:
        """The body in blocks of up to ``size`` bytes; raises :class:`HttpError` when the connection fails."""
        try:
            for block in self._resp.stream(size, decode_content=False):
                yield block
        except Urllib3Timeout:
            raise HttpError("timeout", "read timed out") from None
        except (HTTPError, OSError) as e:
            raise HttpError("connect", f"{e.__class__.__name__} while reading") from None
        self._complete = True

    def read(self) -> bytes:
        """The whole body (kept: later calls return it again); :class:`HttpError` when the connection fails."""
        if self._body is None:
            self._body = b"".join(self.blocks())
        return self._body

    def text(self, limit: int = 200) -> str:
        """The start of the body as text, for error messages ("" when it cannot be read)."""
        try:
            return self.read()[:limit].decode("utf-8", "replace").strip()
        except HttpError:
            return ""

    def json(self) -> dict:
        """The body as a JSON object, ``{}`` when it is not one; :class:`HttpError` when it cannot be read."""
        try:
            body = _json.loads(self.read() or b"null")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def close(self) -> None:
        """Back to the pool when the body was read to its end, else the connection is dropped."""
        if self._complete:
            self._resp.release_conn()
        else:
            self._resp.close()
            self._resp.release_conn()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PoolClient:
    """Connection pools per (scheme, host, port, TLS settings); safe to share between threads and greenlets."""

    def __init__(self, pool_size: int = 32, user_agent: str | None = None):
        self.user_agent = user_agent
        self._pools = urllib3.PoolManager(num_pools=64, maxsize=pool_size, block=False, retries=False)
        self._proxies: dict[tuple, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()
        self._pool_size = pool_size

    def request(self, method: str, url: str, *, timeout: tuple[float, float], params: Optional[Mapping] = None,
                headers: Optional[Mapping] = None, json=None, verify=True, env_proxies: bool = False) -> Reply:
        """Send the request and return once the status line and headers are in (the body is read on demand)."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, safe=QUERY_SAFE)}"
        hdrs = {"User-Agent": self.user_agent} if self.user_agent else {}
        if headers:
            hdrs.update(headers)
        body = None
        if json is not None:
            body = _json.dumps(json).encode()
            hdrs["Content-Type"] = "application/json"
        tls = _tls(url, verify)
        try:
            proxy = self._proxy(url, tls) if env_proxies else None
            t = urllib3.Timeout(connect=timeout[0], read=timeout[1])
            if proxy is not None:          # absolute URL for http, a CONNECT tunnel for https
                resp = proxy.urlopen(method, url, body=body, headers=hdrs, redirect=False, retries=False,
                                     preload_content=False, timeout=t)
            else:
                parts = urlsplit(url)
                pool = self._pools.connection_from_host(parts.hostname, parts.port, parts.scheme, pool_kwargs=tls)
                uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                resp = pool.urlopen(method, uri, body=body, headers=hdrs, redirect=False, retries=False,
                                    preload_content=False, timeout=t, assert_same_host=False)
        except NewConnectionError as e:       # a subclass of the connect timeout, but a refusal
            raise HttpError("connect", f"{method} {_safe(url)}: {_reason(e)}") from None
        except Urllib3Timeout:
            raise HttpError("timeout", f"{method} {_safe(url)}: no reply in time") from None
        except (HTTPError, OSError) as e:
            raise HttpError("connect", f"{method} {_safe(url)}: {e.__class__.__name__}") from None
        return Reply(resp)

    def _proxy(self, url: str, tls: dict):
        """The environment's proxy for ``url`` (``NO_PROXY`` honoured, as requests applies them), or None."""
        from requests.utils import get_environ_proxies
        proxies = get_environ_proxies(url)
        proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
        if not proxy:
            return None
        key = (proxy, tuple(sorted(tls.items())))
        with self._lock:
            pm = self._proxies.get(key)
            if pm is None:
                pm = self._proxies[key] = urllib3.ProxyManager(proxy, num_pools=8, maxsize=self._pool_size,
                                                               block=False, retries=False, **tls)
            return pm


def _tls(url: str, verify) -> dict:
    if not url.startswith("https:"):
        return {}
    if verify is False:
        return {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": verify if isinstance(verify, str) else _ca_bundle()}


def _reason(e: Exception) -> str:
    """The cause of a failed connection in a few words (refused, unreachable, name unknown)."""
    text = str(e)
    return text.split(": ", 1)[1] if ": " in text else e.__class__.__name__


def _safe(url: str) -> str:
    """The URL without its query (which may carry tokens) for error messages."""
    return url.split("?", 1)[0]
