"""HTTP session factory: every session has (connect, read) timeouts and bounded retries."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (5.0, 30.0)


class TimeoutSession(requests.Session):
    """A requests.Session that applies a default (connect, read) timeout to every call."""

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, **kwargs)


def make_session(timeout=DEFAULT_TIMEOUT, retries: int = 2, backoff: float = 0.2, pool: int = 32,
                 user_agent: str | None = None) -> TimeoutSession:
    """Build a session; retries apply to connection errors and idempotent 502/503/504 replies."""
    s = TimeoutSession(timeout)
    retry = Retry(total=retries, connect=retries, read=0, status=retries, backoff_factor=backoff,
                  status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}),
                  raise_on_status=False, respect_retry_after_header=True)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool, pool_maxsize=pool)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    if user_agent:
        s.headers["User-Agent"] = user_agent
    return s
