"""May this client pull this repository? The guard in front of every cached private blob.

:meth:`AccessGuard.check` decides from the client's ``Authorization``:

- Bearer JWT: ``exp`` (expired -> UNAUTHORIZED), ``nbf``, the signature when the upstream has a verifier
  (bad -> UNAUTHORIZED), and the ``access`` claim must grant ``pull`` on the repository (else DENIED). Without a
  verifier the claims are unproven, so they can only refuse: a grant is confirmed by the origin (HEAD with
  the token) before it counts.
- opaque bearer token, Basic or any other scheme: ask the origin (HEAD the blob, then the manifest, with the
  client's Authorization): 2xx/3xx allowed, 401/403 relayed with the origin's challenge.
- no Authorization: the credentials configured for the upstream decide (the mirror acts for this host),
  else the origin is asked anonymously (public repositories pass; private ones get the origin's 401).

Decisions, positive and negative, are cached by (upstream, repository, sha256 of the Authorization) for at
most min(token exp - now, ``max_ttl``). Origin failures (5xx, unreachable), 404 and 429 are never cached.

A grant on a repository is not enough to serve a digest from a cache keyed by digest (a private layer of
another repository could be asked for through a public one): the guard also requires that the origin has
confirmed the digest in that repository (a 2xx/3xx HEAD with the same client's credentials), remembered
per (upstream, repository, digest) for ``member_ttl``; a digest the origin does not know there is BLOB_UNKNOWN.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from dfcommon.digest import is_digest
from dfcommon.errors import DfError
from dfcommon.http import make_session
from registry_plugin.oci.challenge import Challenge, pick, response_challenges
from registry_plugin.oci.reference import check_repository
from registry_plugin.oci.tokens import TokenVerifier, allows, decode_claims, expires_at

from .credentials import UpstreamAuth, client_authorization, tls_verify

log = logging.getLogger(__name__)

DEFAULT_MAX_TTL = 60.0
DEFAULT_MEMBER_TTL = 600.0
NBF_LEEWAY = 60.0
DENY_KINDS = ("UNAUTHORIZED", "DENIED")


class UpstreamLike(Protocol):
    """What the guard needs to know about an upstream registry."""

    url: str                      # scheme://host[:port]
    host: str                     # host[:port]
    insecure: bool
    ca_file: str | None
    verifier: TokenVerifier | None  # None when no token cert/JWKS is configured
    credentials: object           # None, (user, password), BasicCredentials or a source with get(host)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    expires_at: float
    kind: str | None = None        # DENY_KINDS when refused
    message: str = ""
    www_authenticate: str | None = None

    def enforce(self) -> None:
        if not self.allowed:
            detail = {"www_authenticate": self.www_authenticate} if self.www_authenticate else None
            raise DfError(self.kind, self.message, detail=detail)


class DecisionStore(Protocol):
    def get(self, key) -> Decision | None: ...

    def put(self, key, decision: Decision) -> None: ...


class DecisionCache:
    """In-memory decisions, dropped when they expire; the oldest go first beyond ``max_entries``."""

    def __init__(self, clock=time.time, max_entries: int = 10000):
        self._clock = clock
        self._max = max_entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> Decision | None:
        with self._lock:
            d = self._items.get(key)
            if d is None:
                return None
            if d.expires_at <= self._clock():
                del self._items[key]
                return None
            return d

    def put(self, key, decision: Decision) -> None:
        with self._lock:
            self._items[key] = decision
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def auth_fingerprint(authorization: str | None) -> str:
    """sha256 of the Authorization value: the cache key part and what logs may show (a prefix)."""
    return hashlib.sha256((authorization or "").encode()).hexdigest()


def _looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and token.startswith("eyJ")


def format_challenge(challenge: Challenge | None, repository: str, error: str | None = None) -> str | None:
    """A WWW-Authenticate value for the client, scoped to the repository."""
    if challenge is None:
        return None
    if challenge.scheme == "basic":
        return f'Basic realm="{challenge.params.get("realm") or "registry"}"'
    if challenge.scheme != "bearer" or not challenge.realm:
        return None
    parts = [f'realm="{challenge.realm}"']
    if challenge.service:
        parts.append(f'service="{challenge.service}"')
    parts.append(f'scope="repository:{repository}:pull"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


def _www_authenticate(resp) -> str | None:
    raw = getattr(resp, "raw", None)
    lines = raw.headers.getlist("WWW-Authenticate") if raw is not None and hasattr(raw, "headers") and \
        hasattr(raw.headers, "getlist") else []
    if not lines and resp.headers.get("WWW-Authenticate"):
        lines = [resp.headers["WWW-Authenticate"]]
    return ", ".join(lines) or None


class AccessGuard:
    """Decide whether a client may pull ``repository`` from ``upstream``; raise DfError when not.

    ``decision_cache``: a :class:`DecisionStore` (default in-memory); ``max_ttl``: the longest a decision lives;
    ``upstream_auth``: the :class:`UpstreamAuth` that knows configured credentials (default: a fresh one,
    which reads no docker config).
    """

    def __init__(self, decision_cache: DecisionStore | None = None, clock=time.time, session=None,
                 timeout=(5, 15), upstream_auth: UpstreamAuth | None = None, max_ttl: float = DEFAULT_MAX_TTL,
                 member_cache: DecisionStore | None = None, member_ttl: float = DEFAULT_MEMBER_TTL):
        self._clock = clock
        self.cache = decision_cache if decision_cache is not None else DecisionCache(clock)
        self.members = member_cache if member_cache is not None else DecisionCache(clock)
        self.member_ttl = float(member_ttl)
        self._timeout = timeout
        self._session = session or make_session(timeout=timeout, user_agent="dfdaemon-mirror")
        self.upstream_auth = upstream_auth or UpstreamAuth(session=self._session, timeout=timeout, clock=clock)
        self.max_ttl = float(max_ttl)

    # ------------------------------------------------------------------ public
    def check(self, upstream: UpstreamLike, repository: str, digest: str | None, headers) -> None:
        """Return when allowed; raise DfError UNAUTHORIZED/DENIED (with the origin's challenge) otherwise."""
        check_repository(repository)
        if digest is not None and not is_digest(digest):
            raise DfError("DIGEST_INVALID", f"invalid digest {digest!r}")
        authz = client_authorization(headers)
        fp = auth_fingerprint(authz)
        key = (upstream.url, repository, fp)
        decision = self.cache.get(key)
        if decision is not None:
            log.debug("access cached upstream=%s repo=%s authfp=%s allowed=%s", upstream.host, repository,
                      fp[:12] if authz else "none", decision.allowed)
        else:
            decision = self._decide(upstream, repository, digest, authz)
            if decision.expires_at > self._clock():
                self.cache.put(key, decision)
            log.info("access decided upstream=%s repo=%s authfp=%s allowed=%s reason=%s", upstream.host,
                     repository, fp[:12] if authz else "none", decision.allowed, decision.kind or "ok")
        decision.enforce()
        if digest is not None and self.members.get((upstream.url, repository, digest)) is None:
            # the mirror's cache is keyed by digest: a grant on this repository proves nothing about a
            # digest the origin never served from it. Confirm once, with the same credentials.
            log.debug("access membership upstream=%s repo=%s digest=%s", upstream.host, repository, digest)
            self._origin_decision(upstream, repository, digest, authz).enforce()

    # ------------------------------------------------------------------ decisions
    def _until(self, exp: float | None) -> float:
        now = self._clock()
        return now + (self.max_ttl if exp is None else min(self.max_ttl, exp - now))

    def _allow(self, exp: float | None = None) -> Decision:
        return Decision(True, self._until(exp))

    def _deny(self, kind: str, message: str, www: str | None, exp: float | None = None) -> Decision:
        return Decision(False, self._until(exp), kind, message, www)

    def _decide(self, upstream, repository, digest, authz) -> Decision:
        if authz is not None:
            scheme, _, credential = authz.partition(" ")
            credential = credential.strip()
            if scheme.lower() == "bearer" and _looks_like_jwt(credential):
                return self._decide_jwt(upstream, repository, digest, authz, credential)
        return self._origin_decision(upstream, repository, digest, authz)

    def _origin_decision(self, upstream, repository, digest, authz) -> Decision:
        if authz is None:
            return self._decide_for_host(upstream, repository, digest)
        return self._ask_origin(upstream, repository, digest, authz)

    def _decide_jwt(self, upstream, repository, digest, authz, token) -> Decision:
        verifier = getattr(upstream, "verifier", None)
        try:
            claims = verifier.verify(token) if verifier is not None else decode_claims(token)
        except DfError as e:
            return self._deny("UNAUTHORIZED", e.message, self._challenge(upstream, repository, "invalid_token"))
        now = self._clock()
        exp = expires_at(claims)
        if exp is None:
            return self._deny("UNAUTHORIZED", "bearer token has no exp claim",
                              self._challenge(upstream, repository, "invalid_token"))
        if now >= exp:
            return self._deny("UNAUTHORIZED", "bearer token has expired",
                              self._challenge(upstream, repository, "invalid_token"))
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and now + NBF_LEEWAY < nbf:
            return self._deny("UNAUTHORIZED", "bearer token is not valid yet",
                              self._challenge(upstream, repository, "invalid_token"), exp)
        if not allows(claims, repository, "pull"):
            return self._deny("DENIED", f"bearer token does not allow pull on {repository}",
                              self._challenge(upstream, repository, "insufficient_scope"), exp)
        if verifier is not None:
            return self._allow(exp)
        return self._ask_origin(upstream, repository, digest, authz, exp)  # unproven grant: origin confirms

    def _decide_for_host(self, upstream, repository, digest) -> Decision:
        try:
            authz = self.upstream_auth.resolve_authorization(upstream, None, repository)
        except DfError as e:
            if e.code not in DENY_KINDS:
                raise
            log.warning("configured credentials refused upstream=%s repo=%s", upstream.host, repository)
            return self._deny(e.code, e.message, self._challenge(upstream, repository))
        if authz:
            decision = self._ask_origin(upstream, repository, digest, authz)
            if not decision.allowed:
                self.upstream_auth.invalidate(upstream, repository)
            return decision
        return self._ask_origin(upstream, repository, digest, None)

    def _ask_origin(self, upstream, repository, digest, authz, exp: float | None = None) -> Decision:
        headers = {"Authorization": authz} if authz else {}
        resp = self._probe(upstream, repository, digest, headers)
        if resp.status_code == 401 and authz is None:
            first = _www_authenticate(resp)
            challenge = pick(response_challenges(resp))
            token = self.upstream_auth.anonymous_authorization(upstream, challenge, repository)
            if token is None:
                return self._deny("UNAUTHORIZED", f"registry {upstream.host} requires authentication", first)
            resp = self._probe(upstream, repository, digest, {"Authorization": token})
            if resp.status_code in (401, 403):
                return self._deny("UNAUTHORIZED", f"registry {upstream.host} requires authentication for "
                                  f"{repository}", first)
        elif resp.status_code == 401 and authz.lower().startswith("basic "):
            challenge = pick(response_challenges(resp))
            www = _www_authenticate(resp)
            token = self.upstream_auth.exchange_basic(upstream, authz, challenge, repository) \
                if challenge is not None and challenge.scheme == "bearer" else None
            if token is not None:
                resp = self._probe(upstream, repository, digest, {"Authorization": token})
                if resp.status_code == 401:
                    return self._deny("UNAUTHORIZED", f"registry {upstream.host} refused the credentials", www)
        return self._judge(upstream, repository, digest, resp, exp)

    def _judge(self, upstream, repository, digest, resp, exp) -> Decision:
        status = resp.status_code
        if 200 <= status < 400:
            if digest is not None:
                self.members.put((upstream.url, repository, digest),
                                 Decision(True, self._clock() + self.member_ttl))
            return self._allow(exp)
        if status in (401, 403):
            kind = "UNAUTHORIZED" if status == 401 else "DENIED"
            return self._deny(kind, f"registry {upstream.host} answered {status} for {repository}",
                              _www_authenticate(resp), exp)
        if status == 404:
            raise DfError("BLOB_UNKNOWN", f"{repository}: not known to registry {upstream.host}")
        if status == 429:
            raise DfError("TOO_MANY_REQUESTS", f"registry {upstream.host} rate-limited the access check")
        raise DfError("UPSTREAM_ERROR", f"registry {upstream.host} answered {status} to the access check")

    # ------------------------------------------------------------------ origin I/O
    def _probe(self, upstream, repository, digest, headers):
        """HEAD the blob (then the manifest of that digest); without a digest, GET the tag list (n=1)."""
        base = upstream.url.rstrip("/") + f"/v2/{repository}"
        if digest is None:
            return self._send("GET", base + "/tags/list?n=1", upstream, headers)
        resp = self._send("HEAD", f"{base}/blobs/{digest}", upstream, headers)
        if resp.status_code == 404:
            resp = self._send("HEAD", f"{base}/manifests/{digest}", upstream, headers)
        return resp

    def _send(self, method, url, upstream, headers):
        try:
            resp = self._session.request(method, url, headers=headers, timeout=self._timeout,
                                         verify=tls_verify(upstream), allow_redirects=False, stream=True)
        except Exception as e:
            raise DfError("UPSTREAM_ERROR", f"registry {upstream.host} unreachable: {type(e).__name__}") from None
        resp.close()
        return resp

    def _challenge(self, upstream, repository, error: str | None = None) -> str | None:
        try:
            return format_challenge(self.upstream_auth.challenge(upstream), repository, error)
        except DfError:
            return None
