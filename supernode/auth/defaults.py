"""Safe default for the supernode API: auth turns itself on when the API is reachable from other hosts.

``auth.mode`` (``SUPERNODE_AUTH_MODE``, ``--auth``, or ``auth: none`` as the whole section):

- ``on`` (or ``auth.enabled: true``): every API path needs a bearer token of its role, as configured;
- ``none``: no token anywhere, the Dragonfly 1.x protocol exactly. Unsafe on a reachable address: anyone who
  reaches the port can start preheats, change policies and list peers;
- ``auto`` (the default): off when the API binds loopback only; otherwise on, with a key pair generated once
  under ``<home_dir>/auth/`` (private key mode 0600) and an admin token written next to it (mode 0600). The
  paths and the way to use them are printed once, when they are created; the secrets are never printed or
  logged. The peer protocol (``/peer/*``, ``/task/*``) stays open so that hosts keep registering without a
  token, and every PieceInfo carries a task-scoped piece token that the piece server and the upload servers
  require (``auth.interop: true`` drops the piece tokens for Dragonfly 1.x peers, which send none).

When the key cannot be written (read-only home), the start is refused with a message naming the settings.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import sys

from dfcommon.errors import ConfigError

log = logging.getLogger(__name__)
MODES = ("auto", "on", "none")
ADMIN_TOKEN_TTL = 720 * 3600.0          # the default auth.api_token_ttl_max


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def effective_mode(config) -> str:
    """``on`` or ``none``: what ``auth.mode`` means for this config."""
    conf = config.auth
    if conf.enabled:
        return "on"
    if conf.mode == "auto":
        return "none" if is_loopback(config.listen_ip) else "on"
    return conf.mode


def generated_paths(home: str) -> tuple[str, str, str]:
    base = os.path.join(home, "auth")
    return os.path.join(base, "signing.key"), os.path.join(base, "signing.pub"), os.path.join(base, "admin.token")


def apply_safe_default(config, announce=None) -> bool:
    """Turn auth on for ``auto`` off loopback (generating the key once); True when this call turned it on.

    ``announce(text)`` receives the one-time notice (default: stderr)."""
    conf = config.auth
    if conf.enabled or conf.mode != "auto" or is_loopback(config.listen_ip):
        return False
    announce = announce or (lambda text: print(text, file=sys.stderr, flush=True))
    created = False
    if not conf.signing_key:
        key, pub, token_path = generated_paths(config.home_dir)
        if not os.path.exists(key):
            try:
                from .keys import write_key_pair
                write_key_pair(key, pub)
                created = True
            except OSError as e:
                raise ConfigError(
                    f"the API binds {config.listen_ip} (reachable from other hosts) and no auth is configured, "
                    f"so auth turns on with a key generated in {os.path.dirname(key)}, which cannot be written "
                    f"({e.strerror}): set auth.signing_key (supernode keys generate), or auth.mode: none "
                    f"(unsafe: anyone who reaches the port can start preheats), or listen_ip: 127.0.0.1") from None
        conf.signing_key = key
        if created:
            _write_admin_token(key, token_path, config)
            announce(_notice(config, key, token_path))
    conf.enabled = True
    conf.open_peer_api = True
    log.info("auth on by default listen_ip=%s signing_key=%s interop=%s", config.listen_ip, conf.signing_key,
             conf.interop)
    return True


def _write_admin_token(key_path: str, token_path: str, config) -> None:
    from dfcommon.tokens import TokenSigner
    with open(key_path, "rb") as fh:
        signer = TokenSigner(fh.read())
    ttl = config.auth.api_token_ttl_max or ADMIN_TOKEN_TTL
    token = signer.mint("admin", "generated-admin", ttl)
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(token_path, 0o600)


def _notice(config, key: str, token_path: str) -> str:
    port = config.port
    return (
        f"supernode: the API binds {config.listen_ip}:{port}, reachable from other hosts, and no auth was "
        f"configured: auth is ON.\n"
        f"  signing key (mode 0600): {key}\n"
        f"  admin token (mode 0600, valid {int((config.auth.api_token_ttl_max or ADMIN_TOKEN_TTL) // 3600)}h): "
        f"{token_path}\n"
        f"  use it:      curl -H \"Authorization: Bearer $(cat {token_path})\" http://<host>:{port}/api/v1/peers\n"
        f"  more tokens: supernode token --signing-key {key} --role admin|preheat|webhook|peer --ttl 24h\n"
        f"  Harbor:      P2P preheat instance, auth mode OAuth, token from --role preheat\n"
        f"  peers (dfget, dfdaemon) register without a token; pieces carry task-scoped tokens.\n"
        f"  auth.mode: none turns this off (unsafe); auth.interop: true for Dragonfly 1.x peers.")


def validate_mode(conf) -> None:
    if conf.mode not in MODES:
        raise ConfigError(f"auth.mode must be one of {', '.join(MODES)}, got {conf.mode!r}")
    if conf.mode == "none" and conf.enabled:
        raise ConfigError("auth.mode none contradicts auth.enabled: true (remove one)")
