"""Registry credential sources.

A source answers ``get(host)`` with :class:`BasicCredentials` or ``None``. Sources: a static pair,
a per-host mapping, a docker ``config.json`` (``auths``: ``auth`` base64 or ``username``/``password``,
``identitytoken`` as a refresh token), and a chain trying several sources in order.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True)
class BasicCredentials:
    username: str = ""
    password: str = ""
    refresh_token: str | None = None  # docker "identitytoken"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def fingerprint(self) -> str:
        """Identity of the secret for cache keys; never the secret itself."""
        h = hashlib.sha256(f"{self.username}\0{self.password}\0{self.refresh_token or ''}".encode())
        return f"{self.username}:{h.hexdigest()[:16]}"

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password=***)"


class CredentialSource(Protocol):
    def get(self, host: str) -> BasicCredentials | None: ...


def normalize_host(value: str) -> str:
    """``https://host:port/v1/`` or ``host:port`` -> ``host:port``; Docker Hub aliases -> ``docker.io``."""
    v = value.strip()
    if "://" in v:
        v = urlsplit(v).netloc
    v = v.split("/", 1)[0].lower()
    return "docker.io" if v in DOCKER_HUB_ALIASES else v


class StaticCredentials:
    """The same credentials for every host."""

    def __init__(self, username: str | BasicCredentials, password: str = ""):
        self._creds = username if isinstance(username, BasicCredentials) else BasicCredentials(username, password)

    def get(self, host: str) -> BasicCredentials | None:
        return self._creds


class HostCredentials:
    """Credentials per registry host: ``{"host:port": ("user", "pass")}`` or BasicCredentials values."""

    def __init__(self, mapping: dict):
        self._map = {}
        for host, v in (mapping or {}).items():
            creds = v if isinstance(v, BasicCredentials) else BasicCredentials(*v)
            self._map[normalize_host(host)] = creds

    def get(self, host: str) -> BasicCredentials | None:
        return self._map.get(normalize_host(host))


class DockerConfigCredentials(HostCredentials):
    """Credentials from a docker ``config.json`` (only the ``auths`` section; helpers are not run)."""

    def __init__(self, path: str | None = None, doc: dict | None = None):
        if doc is None:
            path = path or os.path.join(os.environ.get("DOCKER_CONFIG") or
                                        os.path.join(os.path.expanduser("~"), ".docker"), "config.json")
            try:
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
            except FileNotFoundError:
                doc = {}
        super().__init__({host: _entry(e) for host, e in (doc.get("auths") or {}).items() if _entry(e)})


def _entry(e: dict) -> BasicCredentials | None:
    if not isinstance(e, dict):
        return None
    user, pw = e.get("username") or "", e.get("password") or ""
    if e.get("auth"):
        try:
            user, _, pw = base64.b64decode(e["auth"]).decode().partition(":")
        except Exception:
            return None
    token = e.get("identitytoken") or None
    if not (user or pw or token):
        return None
    return BasicCredentials(user, pw, token)


class ChainCredentials:
    """Try several sources in order; the first answer wins."""

    def __init__(self, *sources):
        self._sources = [s for s in sources if s is not None]

    def get(self, host: str) -> BasicCredentials | None:
        for s in self._sources:
            c = s.get(host)
            if c is not None:
                return c
        return None


def as_source(credentials) -> CredentialSource | None:
    """Accept None, a (user, pass) tuple, BasicCredentials, or any object with ``get(host)``."""
    if credentials is None:
        return None
    if isinstance(credentials, BasicCredentials):
        return StaticCredentials(credentials)
    if isinstance(credentials, dict):
        return HostCredentials(credentials)
    if isinstance(credentials, (tuple, list)) and len(credentials) == 2:
        return StaticCredentials(*credentials)
    if hasattr(credentials, "get"):
        return credentials
    raise TypeError(f"unsupported credentials object {type(credentials).__name__}")

