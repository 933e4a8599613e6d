"""The ``auth:`` section of the supernode config: bearer tokens with roles, peer tokens, TLS.

Environment overrides: ``SUPERNODE_AUTH_<KEY>`` (``SUPERNODE_AUTH_ENABLED=true``). With ``enabled``
false (the default) the API and the piece server behave as Dragonfly 1.x: no token is asked for,
none is handed out. ``tls_cert``/``tls_key`` work on their own: TLS without tokens is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dfcommon.errors import ConfigError
from dfcommon.tls import check_pair
from dfcommon.units import parse_duration

DURATION = {"parse": parse_duration}
DEFAULT_OPEN_PATHS = ["/_ping", "/healthy", "/metrics", "/version"]


@dataclass
class AuthConfig:
    enabled: bool = False                 # require bearer tokens on the API, hand out peer tokens
    signing_key: str = ""                 # PEM private key (Ed25519 or RSA); `supernode keys generate` writes one
    public_key: str = ""                  # PEM public key(s) also accepted (key rotation); "" = the signing key's
    peer_token_ttl: float = field(default="10m", metadata=DURATION)        # lifetime of piece tokens
    api_token_ttl_max: float = field(default="720h", metadata=DURATION)    # longest API token accepted (0 = any)
    leeway: float = field(default="30s", metadata=DURATION)                # clock skew allowed on exp/iat
    open_paths: list = field(default_factory=lambda: list(DEFAULT_OPEN_PATHS))   # served without a token
    tls_cert: str = ""                    # PEM certificate: TLS on the API and the piece server
    tls_key: str = ""                     # its PEM key
    # auto: on (generated key under home_dir/auth) when the API binds a non-loopback address; on; none (unsafe)
    mode: str = "auto"
    interop: bool = False                 # no piece tokens (Dragonfly 1.x peers send none); the API stays guarded
    open_peer_api: bool = False           # /peer/* and /task/* without a token (set by the auto mode)


def validate_auth(conf: AuthConfig) -> AuthConfig:
    from .defaults import validate_mode
    check_pair(conf.tls_cert, conf.tls_key, "auth.tls_cert/auth.tls_key")
    validate_mode(conf)
    if conf.mode == "on":
        conf.enabled = True
    if conf.enabled and not conf.signing_key:
        raise ConfigError("auth.enabled needs auth.signing_key (create a pair with `supernode keys generate`)")
    if conf.peer_token_ttl <= 0:
        raise ConfigError("auth.peer_token_ttl must be positive")
    if conf.api_token_ttl_max < 0 or conf.leeway < 0:
        raise ConfigError("auth.api_token_ttl_max and auth.leeway cannot be negative")
    for path in conf.open_paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"auth.open_paths: {path!r} must be a path starting with /")
    return conf
