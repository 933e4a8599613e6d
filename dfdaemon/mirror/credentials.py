"""Which ``Authorization`` the mirror sends to an origin registry.

:class:`UpstreamAuth` answers ``resolve_authorization``: the client's own ``Authorization`` when it sent one
(it travels to the origin only for the request it came with); otherwise the credentials configured for that
upstream (dfdaemon config) or the docker ``config.json`` entry for its host, turned into a Bearer token
through the registry's challenge (token servers) or sent as Basic (Basic-only registries); otherwise None.
Challenges are discovered with an anonymous ``GET /v2/`` and remembered for a while per upstream.
"""
from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from dfcommon.errors import DfError
from dfcommon.http import make_session
from registry_plugin.oci.auth import Authenticator, TokenCache
from registry_plugin.oci.challenge import Challenge, pick, response_challenges
from registry_plugin.oci.credentials import BasicCredentials, as_source, normalize_host
from registry_plugin.oci.scope import repository_scope

if TYPE_CHECKING:  # pragma: no cover
    from .access import UpstreamLike

log = logging.getLogger(__name__)

CHALLENGE_TTL = 300.0


def client_authorization(headers) -> str | None:
    """The ``Authorization`` value of a header mapping (dict, werkzeug Headers or (name, value) pairs)."""
    if not headers:
        return None
    items = headers.items() if hasattr(headers, "items") else headers
    for name, value in items:
        if str(name).lower() == "authorization" and value and str(value).strip():
            return str(value).strip()
    return None


def tls_verify(upstream) -> bool | str:
    """The ``verify`` argument of requests for an upstream: False, a CA file, or True."""
    if getattr(upstream, "insecure", False):
        return False
    return getattr(upstream, "ca_file", None) or True


class DockerConfigSource:
    """Credentials from a docker ``config.json`` read with the docker SDK (``auths``, credential helpers).

    The file is re-read when its modification time changes. A missing or unreadable file gives no credentials.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._mtime = None
        self._config = None

    def _load(self):
        import docker.auth  # imported lazily: the SDK is only needed when a config file is configured

        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return None
        with self._lock:
            if self._config is None or mtime != self._mtime:
                try:
                    self._config = docker.auth.load_config(config_path=self.path)
                except Exception as e:  # malformed file: say so without echoing its content
                    log.warning("docker config unreadable path=%s error=%s", self.path, type(e).__name__)
                    self._config = None
                    return None
                self._mtime = mtime
            return self._config

    def get(self, host: str) -> BasicCredentials | None:
        import docker.auth

        config = self._load()
        if config is None:
            return None
        try:
            entry = docker.auth.resolve_authconfig(config, registry=normalize_host(host))
        except Exception as e:  # a failing credential helper must not break the mirror
            log.warning("docker credential lookup failed host=%s error=%s", host, type(e).__name__)
            return None
        if not entry:
            return None
        user = entry.get("username") or entry.get("Username") or ""
        password = entry.get("password") or entry.get("Password") or ""
        token = entry.get("IdentityToken") or entry.get("identitytoken") or None
        if not (user or password or token):
            return None
        return remember_secret(BasicCredentials(user, password, token))


class UpstreamAuth:
    """Resolve the ``Authorization`` value the mirror sends to an upstream registry.

    ``authenticator``: a registry_plugin :class:`Authenticator` shared by every upstream (its session's TLS
    settings apply); when None, one is built per TLS setting (``insecure``/``ca_file``) with a shared token cache.
    ``docker_config_path``: a docker ``config.json`` to read credentials from; None reads none.
    ``providers``: ``(name, source)`` pairs of credential provider plug-ins (``dragonfly.credentials``), asked
    in order after the configured credentials and before the docker config.
    """

    def __init__(self, authenticator: Authenticator | None = None, docker_config_path: str | None = None,
                 session=None, timeout=(5.0, 15.0), clock=time.time, challenge_ttl: float = CHALLENGE_TTL,
                 providers=()):
        self._authenticator = authenticator
        self._docker = DockerConfigSource(docker_config_path) if docker_config_path else None
        self._providers = list(providers)        # credential provider plug-ins: (name, source with get(host))
        self._timeout = timeout
        self._clock = clock
        self._challenge_ttl = challenge_ttl
        self._session = session or make_session(timeout=timeout, user_agent="dfdaemon-mirror")
        self._token_cache = TokenCache(clock=clock)
        self._authenticators: dict = {}
        self._challenges: dict = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ credentials
    def configured_credentials(self, upstream: "UpstreamLike") -> BasicCredentials | None:
        """The dfdaemon-configured credentials for the upstream, else the first credential provider plug-in
        that knows its host, else its docker config.json entry."""
        source = as_source(getattr(upstream, "credentials", None))
        creds = source.get(upstream.host) if source is not None else None
        if creds is not None and (creds.username or creds.password or creds.refresh_token):
            return remember_secret(creds)
        for name, provider in self._providers:
            try:
                found = provider.get(upstream.host)
            except Exception as e:      # noqa: BLE001 - a failing plug-in must not break the mirror
                log.warning("credential provider failed provider=%s host=%s error=%s", name, upstream.host,
                            type(e).__name__)
                continue
            if found is not None and (found.username or found.password or found.refresh_token):
                return remember_secret(found)
        if self._docker is not None:
            return self._docker.get(upstream.host)
        return None

    def resolve_authorization(self, upstream: "UpstreamLike", headers, repository: str,
                              actions=("pull",)) -> str | None:
        """The client's Authorization, else one made from configured credentials, else None."""
        own = client_authorization(headers)
        if own:
            return own
        creds = self.configured_credentials(upstream)
        if creds is None:
            return None
        challenge = self.challenge(upstream)
        if challenge is None:
            return None  # the origin asks for nothing: the credentials stay home
        return self.authenticator_for(upstream).authorization(
            challenge, [repository_scope(repository, *actions)], creds)

    def anonymous_authorization(self, upstream: "UpstreamLike", challenge: Challenge, repository: str,
                                actions=("pull",)) -> str | None:
        """An anonymous bearer token for a Bearer challenge; None for Basic challenges."""
        if challenge is None or challenge.scheme != "bearer" or not challenge.realm:
            return None
        return self.authenticator_for(upstream).authorization(
            challenge, [repository_scope(repository, *actions)], None)

    def exchange_basic(self, upstream: "UpstreamLike", basic_header: str, challenge: Challenge,
                       repository: str, actions=("pull",)) -> str | None:
        """Turn a client's ``Basic`` Authorization into a bearer token at the origin's own token realm."""
        creds = parse_basic(basic_header)
        if creds is None or challenge is None or challenge.scheme != "bearer" or not challenge.realm:
            return None
        return self.authenticator_for(upstream).authorization(
            challenge, [repository_scope(repository, *actions)], creds)

    def invalidate(self, upstream: "UpstreamLike", repository: str, actions=("pull",)) -> None:
        """Forget the token minted from configured credentials (after the origin refused it)."""
        challenge = self.cached_challenge(upstream)
        creds = self.configured_credentials(upstream)
        if challenge is not None and creds is not None:
            self.authenticator_for(upstream).invalidate(challenge, [repository_scope(repository, *actions)], creds)

    # ------------------------------------------------------------------ challenges
    def cached_challenge(self, upstream: "UpstreamLike") -> Challenge | None:
        with self._lock:
            hit = self._challenges.get(upstream.url)
        return hit[0] if hit and hit[1] > self._clock() else None

    def challenge(self, upstream: "UpstreamLike") -> Challenge | None:
        """The origin's challenge from an anonymous ``GET /v2/`` (None when it asks for nothing)."""
        with self._lock:
            hit = self._challenges.get(upstream.url)
        if hit and hit[1] > self._clock():
            return hit[0]
        url = upstream.url.rstrip("/") + "/v2/"
        try:
            resp = self._session.get(url, timeout=self._timeout, verify=tls_verify(upstream),
                                     allow_redirects=False)
        except Exception as e:
            raise DfError("UPSTREAM_ERROR", f"registry {upstream.host} unreachable: {type(e).__name__}") from None
        try:
            found = pick(response_challenges(resp)) if resp.status_code == 401 else None
            if resp.status_code >= 500:
                raise DfError("UPSTREAM_ERROR", f"registry {upstream.host} answered {resp.status_code} to /v2/")
        finally:
            resp.close()
        with self._lock:
            self._challenges[upstream.url] = (found, self._clock() + self._challenge_ttl)
        log.debug("registry challenge upstream=%s scheme=%s", upstream.host, found.scheme if found else "none")
        return found

    def authenticator_for(self, upstream: "UpstreamLike") -> Authenticator:
        if self._authenticator is not None:
            return self._authenticator
        verify = tls_verify(upstream)
        with self._lock:
            auth = self._authenticators.get(verify)
            if auth is None:
                session = make_session(timeout=self._timeout, user_agent="dfdaemon-mirror")
                session.verify = verify
                auth = Authenticator(session, cache=self._token_cache, timeout=self._timeout)
                self._authenticators[verify] = auth
            return auth


def remember_secret(creds: BasicCredentials) -> BasicCredentials:
    """Tell the installed log redaction (if any) about secrets read at run time."""
    from .redact import installed_redactor

    redactor = installed_redactor()
    if redactor is not None:
        redactor.add_secret(creds.password)
        redactor.add_secret(creds.refresh_token)
    return creds


def parse_basic(header: str) -> BasicCredentials | None:
    """``Basic base64(user:pass)`` -> BasicCredentials, or None when it is not a valid Basic value."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return BasicCredentials(user, password) if sep else None
