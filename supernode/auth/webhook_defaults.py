"""Safe default for the webhook receivers: a receiver reachable from other hosts checks an Authorization value.

``webhooks.auth_mode`` (``--webhook-auth``, ``SUPERNODE_WEBHOOKS_AUTH_MODE``):

- ``auto`` (default): when the API binds a non-loopback address and ``webhooks.harbor_auth`` /
  ``webhooks.registry_auth`` is empty, that receiver accepts ``Bearer <secret>`` only, the secret generated
  once into ``<home_dir>/auth/webhook.secret`` (mode 0600) and reused after restarts;
- ``on``: the same on a loopback bind too;
- ``none``: receivers without values accept any delivery (unsafe off loopback: anyone can queue preheats).

The exact Harbor and registry:2 settings are printed once, when the secret is created, with the file to read
the value from: the secret itself is never printed nor logged.
"""
from __future__ import annotations

import logging
import os
import secrets
import sys

from dfcommon.errors import ConfigError

from .defaults import is_loopback

log = logging.getLogger(__name__)
SECRET_FILE = "webhook.secret"


def secret_path(home: str) -> str:
    return os.path.join(home, "auth", SECRET_FILE)


def _read_or_create(path: str) -> tuple[str, bool]:
    try:
        with open(path, encoding="ascii") as fh:
            value = fh.read().strip()
        if value:
            return value, False
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)
    return value, True


def apply_webhook_default(config, announce=None) -> list[str]:
    """Give receivers without Authorization values the generated secret; returns the receivers changed."""
    w = getattr(config, "webhooks", None)
    if w is None or not w.enabled or w.auth_mode == "none":
        return []
    if w.auth_mode == "auto" and is_loopback(config.listen_ip):
        return []
    missing = [name for name in ("harbor", "registry") if not getattr(w, f"{name}_auth")]
    if not missing:
        return []
    path = secret_path(config.home_dir)
    try:
        value, created = _read_or_create(path)
    except OSError as e:
        raise ConfigError(f"the webhook receivers are reachable from other hosts ({config.listen_ip}) and "
                          f"webhooks.harbor_auth/webhooks.registry_auth are not set, so a secret is generated in "
                          f"{path}, which cannot be written ({e.strerror}): set webhooks.harbor_auth and "
                          f"webhooks.registry_auth (--harbor-auth, --registry-auth), or webhooks.auth_mode: none "
                          f"(unsafe)") from None
    for name in missing:
        setattr(w, f"{name}_auth", [f"Bearer {value}"])
    log.info("webhook auth on by default receivers=%s secret_file=%s", ",".join(missing), path)
    if created:
        (announce or (lambda text: print(text, file=sys.stderr, flush=True)))(_notice(config, missing, path))
    return missing


def _notice(config, receivers, path: str) -> str:
    base = f"http://<this host>:{config.port}/api/v1/webhooks"
    lines = [f"supernode: the webhook receivers ({', '.join(receivers)}) are reachable from other hosts and had no "
             f"Authorization value: they accept only 'Bearer <secret>', the secret in {path} (mode 0600)."]
    if "harbor" in receivers:
        lines += ["  Harbor (project > Webhooks > New webhook):",
                  f"    Endpoint URL: {base}/harbor",
                  f"    Auth Header:  Bearer <the content of {path}>"]
    if "registry" in receivers:
        lines += ["  registry:2 (config.yml):",
                  "    notifications:",
                  "      endpoints:",
                  "        - name: dragonfly",
                  f"          url: {base}/registry",
                  "          headers:",
                  f"            Authorization: [\"Bearer <the content of {path}>\"]"]
    lines.append("  webhooks.harbor_auth / webhooks.registry_auth (--harbor-auth, --registry-auth) set your own "
                 "values; webhooks.auth_mode: none accepts any delivery (unsafe).")
    return "\n".join(lines)
