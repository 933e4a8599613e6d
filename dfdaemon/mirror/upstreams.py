"""Which upstream registry a mirror request is for, and the repository name on that registry.

Rules, first match wins:

1. containerd's ``?ns=<registry host[:port]>`` query parameter;
2. the ``X-Dragonfly-Registry`` header (a URL, or a bare host);
3. a path prefix naming a configured registry or looking like a host
   (``/v2/<registry-host>/<repo>/...``, as CRI-O/podman/skopeo mirrors send);
4. the default upstream (``registry_mirror.remote``, Docker Hub when unset).

Hosts that are not configured are accepted only with ``registry_mirror.dynamic`` and are
reached over HTTPS. Every value is validated; a bad one is a 400 in the OCI envelope.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dfcommon.errors import DfError
from registry_plugin.oci.reference import DOMAIN_RE, check_repository

HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
HUB_API = "https://registry-1.docker.io"
REGISTRY_HEADER = "X-Dragonfly-Registry"
_MAX_HOST = 253


@dataclass(frozen=True)
class Upstream:
    name: str                       # canonical name (docker.io for the Hub)
    url: str                        # scheme://host[:port], no trailing slash
    insecure: bool = False
    ca_files: tuple = ()
    username: str = ""
    password: str = field(default="", repr=False)
    token_cert: str = ""
    jwks: str = ""
    token_issuer: str = ""
    token_service: str = ""
    configured: bool = True
    verifier: object = field(default=None, compare=False, repr=False)    # TokenVerifier or None

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def credentials(self):
        """Configured credentials (a BasicCredentials) or None."""
        if not (self.username or self.password):
            return None
        from registry_plugin.oci.credentials import BasicCredentials
        return BasicCredentials(self.username, self.password)

    @property
    def ca_file(self) -> str | None:
        return self.ca_files[0] if self.ca_files else None

    @property
    def is_hub(self) -> bool:
        return self.name in HUB_NAMES or self.host in HUB_NAMES

    def blob_url(self, repository: str, digest: str) -> str:
        """The P2P task URL: no ``ns``, so a preheated blob has the same task id."""
        return f"{self.url}/v2/{repository}/blobs/{digest}"


@dataclass(frozen=True)
class Target:
    upstream: Upstream
    repository: str                 # name on the upstream ("" for /v2/)
    rule: str                       # ns | header | path | default


def canonical(host: str) -> str:
    h = host.strip().lower().rstrip("/")
    return "docker.io" if h in HUB_NAMES else h


def check_host(value: str, what: str) -> str:
    """A registry host[:port]; anything else (paths, userinfo, control chars) is NAME_INVALID."""
    if not value or len(value) > _MAX_HOST or not DOMAIN_RE.match(value):
        raise DfError("NAME_INVALID", f"invalid registry {what} {value!r}")
    port = value.rsplit(":", 1)[1] if not value.endswith("]") and ":" in value else ""
    if port and not 0 < int(port) < 65536:
        raise DfError("NAME_INVALID", f"invalid registry {what} {value!r}: bad port")
    return value


class UpstreamSelector:
    def __init__(self, default: Upstream, upstreams=(), dynamic: bool = True):
        self.default = default
        self.dynamic = dynamic
        self._by_name: dict[str, Upstream] = {}
        for up in (default, *upstreams):
            self._register(up.name, up)
            self._register(up.host, up)
        self._configured = list(upstreams)

    def _register(self, key: str, up: Upstream) -> None:
        self._by_name.setdefault(canonical(key), up)

    def add_alias(self, alias: str, up: Upstream) -> None:
        self._register(alias, up)

    @property
    def upstreams(self) -> list:
        return [self.default, *self._configured]

    def lookup(self, host: str) -> Upstream | None:
        return self._by_name.get(canonical(host))

    # -- the four rules ------------------------------------------------------------------
    def select(self, name: str, ns: str | None = None, header: str | None = None) -> Target:
        """``name`` is the path between ``/v2/`` and ``/manifests|blobs|tags`` ("" for ``/v2/``)."""
        if ns is not None:
            return self._finish(self._by_host(check_host(ns, "ns value"), "ns"), name, "ns")
        if header:
            return self._finish(self._by_header(header), name, "header")
        first, sep, rest = name.partition("/")
        if sep and rest and self._looks_like_registry(first):
            up = self.lookup(first)
            if up is None:
                up = self._by_host(check_host(first, "path prefix"), "path prefix")
            return self._finish(up, rest, "path")
        return self._finish(self.default, name, "default")

    def _looks_like_registry(self, first: str) -> bool:
        return self.lookup(first) is not None or "." in first or ":" in first or first == "localhost"

    def _by_host(self, host: str, what: str) -> Upstream:
        up = self.lookup(host)
        if up is not None:
            return up
        if not self.dynamic:
            raise DfError("DENIED", f"registry {host!r} is not configured on this mirror")
        name = canonical(host)
        url = HUB_API if name == "docker.io" else f"https://{host.lower()}"
        return Upstream(name=name, url=url, configured=False)

    def _by_header(self, value: str) -> Upstream:
        value = value.strip()
        if "://" not in value:
            return self._by_host(check_host(value, "header"), "header")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
                or parts.query or "@" in parts.netloc:
            raise DfError("NAME_INVALID", f"invalid {REGISTRY_HEADER} value {value!r}")
        check_host(parts.netloc, "header")
        up = self.lookup(parts.netloc)
        if up is not None:
            return up
        if not self.dynamic:
            raise DfError("DENIED", f"registry {parts.netloc!r} is not configured on this mirror")
        return Upstream(name=canonical(parts.netloc), url=f"{parts.scheme}://{parts.netloc.lower()}",
                        configured=False)

    @staticmethod
    def _finish(up: Upstream, name: str, rule: str) -> Target:
        if name:
            check_repository(name)
            if up.is_hub and "/" not in name:
                name = "library/" + name
        return Target(up, name, rule)


def upstream_from_config(conf, default_ca=(), default_insecure: bool = False, remote: str | None = None) -> Upstream:
    """An :class:`Upstream` from an ``UpstreamConfig`` (or the default from ``registry_mirror``)."""
    if remote is not None:
        host = urlsplit(remote).netloc
        return Upstream(name=canonical(host), url=remote.rstrip("/"), insecure=default_insecure,
                        ca_files=tuple(default_ca))
    host = urlsplit(conf.url).netloc
    return Upstream(name=canonical(conf.name or host), url=conf.url.rstrip("/"), insecure=conf.insecure,
                    ca_files=(conf.ca_file,) if conf.ca_file else (), username=conf.username,
                    password=conf.password, token_cert=conf.token_cert, jwks=conf.jwks,
                    token_issuer=conf.token_issuer, token_service=conf.token_service, verifier=_verifier(conf))


def _verifier(conf):
    """A TokenVerifier for the registry's token signatures, when a certificate or JWKS file is configured."""
    if not (conf.token_cert or conf.jwks):
        return None
    from dfcommon.errors import ConfigError
    from registry_plugin.oci.tokens import TokenVerifier
    try:
        return TokenVerifier.from_files(cert_file=conf.token_cert or None, jwks_file=conf.jwks or None,
                                        issuer=conf.token_issuer or None, audience=conf.token_service or None)
    except (OSError, ValueError) as e:
        raise ConfigError(f"registry {conf.name or conf.url}: cannot load the token key: {e}") from None


def build_selector(config) -> UpstreamSelector:
    mirror = config.registry_mirror
    default = upstream_from_config(None, mirror.certs, mirror.insecure, remote=config.default_remote)
    ups = [upstream_from_config(r) for r in config.registries]
    # a configured entry for the default's host carries its credentials: use it as the default
    for up in ups:
        if canonical(up.host) == canonical(default.host) or up.name == default.name:
            default = up
    ups = [u for u in ups if u is not default]
    selector = UpstreamSelector(default, ups, dynamic=mirror.dynamic)
    for r in config.registries:
        target = selector.lookup(urlsplit(r.url).netloc)
        for alias in r.aliases:
            selector.add_alias(alias, target)
    return selector
