"""The registry token flow and a cache of bearer tokens.

Given a challenge (see :mod:`challenge`), :class:`Authenticator` produces the ``Authorization`` value:
``Basic`` for Basic-only registries, or a bearer token fetched from the challenge realm with
``GET realm?service=&scope=`` (Basic credentials or anonymous) or the OAuth2 form
``POST realm grant_type=password|refresh_token`` (falls back to GET on 400/401/404/405). Tokens are cached
per (realm, service, scopes, credential identity) and renewed shortly before ``issued_at + expires_in``.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import requests

from dfcommon.errors import DfError

from .challenge import Challenge
from .credentials import BasicCredentials
from .scope import Scope, merge_scopes, scope_key

log = logging.getLogger(__name__)

METHODS = ("auto", "get", "post")
MIN_EXPIRES_IN = 60
POST_FALLBACK_STATUSES = (400, 401, 404, 405)


@dataclass
class Token:
    token: str
    expires_at: float          # clock time after which the token is stale
    lifetime: float
    refresh_token: str | None = None

    def fresh(self, now: float) -> bool:
        margin = min(60.0, max(5.0, self.lifetime * 0.1))
        return now < self.expires_at - margin


def _parse_issued_at(value, now: float) -> float:
    if not value or not isinstance(value, str):
        return now
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return now
    return min(ts, now)  # a server clock ahead of ours must not extend the token


def parse_token_response(doc, now: float) -> Token:
    if not isinstance(doc, dict):
        raise DfError("UPSTREAM_ERROR", "token server answered with a non-object body")
    tok = doc.get("access_token") or doc.get("token")
    if not tok or not isinstance(tok, str):
        raise DfError("UPSTREAM_ERROR", "token server answered without token/access_token")
    try:
        expires_in = int(doc.get("expires_in") or MIN_EXPIRES_IN)
    except (TypeError, ValueError):
        expires_in = MIN_EXPIRES_IN
    expires_in = max(expires_in, MIN_EXPIRES_IN)
    issued = _parse_issued_at(doc.get("issued_at"), now)
    return Token(tok, issued + expires_in, float(expires_in), doc.get("refresh_token") or None)


class TokenCache:
    """Tokens by key, considered stale a little before they expire. Thread/greenlet safe."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._tokens: dict = {}
        self._lock = threading.Lock()
        self._key_locks: dict = {}

    def get(self, key) -> Token | None:
        with self._lock:
            t = self._tokens.get(key)
        if t is not None and t.fresh(self._clock()):
            return t
        return None

    def put(self, key, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def invalidate(self, key) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def now(self) -> float:
        return self._clock()


class Authenticator:
    """Answer registry challenges with an Authorization header value.

    ``method``: ``auto`` (POST form when credentials are known, GET otherwise), ``get`` or ``post``.
    """

    def __init__(self, session: requests.Session, cache: TokenCache | None = None, method: str = "auto",
                 client_id: str = "dfpy", timeout=(5.0, 30.0)):
        if method not in METHODS:
            raise ValueError(f"unknown token request method {method!r}; expected one of {METHODS}")
        self.session = session
        self.cache = cache or TokenCache()
        self.method = method
        self.client_id = client_id
        self.timeout = timeout

    @staticmethod
    def cache_key(challenge: Challenge, scopes, creds: BasicCredentials | None):
        return (challenge.realm, challenge.service or "", scope_key(scopes),
                creds.fingerprint() if creds else "")

    def authorization(self, challenge: Challenge, scopes, creds: BasicCredentials | None) -> str | None:
        """Header value for a challenge, or None when nothing can be sent (Basic without credentials)."""
        if challenge.scheme == "basic":
            return creds.basic_header() if creds and (creds.username or creds.password) else None
        if challenge.scheme != "bearer" or not challenge.realm:
            raise DfError("UNAUTHORIZED", f"unsupported authentication scheme {challenge.scheme!r}")
        return "Bearer " + self.token(challenge, scopes, creds).token

    def token(self, challenge: Challenge, scopes, creds: BasicCredentials | None) -> Token:
        scopes = merge_scopes(scopes or [])
        key = self.cache_key(challenge, scopes, creds)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        with self.cache.key_lock(key):
            cached = self.cache.get(key)
            if cached is not None:
                return cached
            tok = self.fetch(challenge, scopes, creds)
            self.cache.put(key, tok)
            return tok

    def invalidate(self, challenge: Challenge, scopes, creds: BasicCredentials | None) -> None:
        if challenge.scheme == "bearer":
            self.cache.invalidate(self.cache_key(challenge, merge_scopes(scopes or []), creds))

    def fetch(self, challenge: Challenge, scopes: list[Scope], creds: BasicCredentials | None) -> Token:
        """Ask the token server, without the cache."""
        refresh_only = bool(creds and creds.refresh_token and not creds.password)
        has_secret = bool(creds and (creds.password or creds.refresh_token))
        if refresh_only or (has_secret and self.method in ("auto", "post")):
            resp = self._post(challenge, scopes, creds)
            if refresh_only or resp.status_code not in POST_FALLBACK_STATUSES:
                return self._finish(resp, challenge)
            resp.close()
            log.debug("token POST refused status=%s realm=%s; falling back to GET", resp.status_code,
                      challenge.realm)
        return self._finish(self._get(challenge, scopes, creds), challenge)

    def _get(self, challenge, scopes, creds):
        params = []
        if challenge.service:
            params.append(("service", challenge.service))
        params.extend(("scope", str(s)) for s in scopes)
        headers = {}
        if creds is not None and (creds.username or creds.password):
            params.append(("account", creds.username))
            headers["Authorization"] = creds.basic_header()
        return self._send("GET", challenge.realm, params=params, headers=headers)

    def _post(self, challenge, scopes, creds):
        form = {"service": challenge.service or "", "client_id": self.client_id, "access_type": "online"}
        if scopes:
            form["scope"] = " ".join(str(s) for s in scopes)
        if creds.refresh_token and not creds.password:
            form.update(grant_type="refresh_token", refresh_token=creds.refresh_token)
        else:
            form.update(grant_type="password", username=creds.username, password=creds.password)
        return self._send("POST", challenge.realm, data=form)

    def _send(self, method, url, **kw):
        try:
            return self.session.request(method, url, timeout=self.timeout, allow_redirects=True, **kw)
        except requests.RequestException as e:
            raise DfError("UPSTREAM_ERROR", f"token server {url} unreachable: {type(e).__name__}") from None

    def _finish(self, resp, challenge) -> Token:
        try:
            if resp.status_code == 401:
                raise DfError("UNAUTHORIZED", f"token server {challenge.realm} rejected the credentials")
            if resp.status_code == 403:
                raise DfError("DENIED", f"token server {challenge.realm} denied the request")
            if resp.status_code == 429:
                raise DfError("TOO_MANY_REQUESTS", f"token server {challenge.realm} rate-limited the request")
            if resp.status_code != 200:
                raise DfError("UPSTREAM_ERROR", f"token server {challenge.realm} answered {resp.status_code}")
            try:
                doc = resp.json()
            except ValueError:
                raise DfError("UPSTREAM_ERROR", f"token server {challenge.realm} answered invalid JSON") from None
            return parse_token_response(doc, self.cache.now())
        finally:
            resp.close()
