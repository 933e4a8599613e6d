"""The API's bearer-token check (a ``before_request`` hook), installed when ``auth.enabled``.

Which roles a request needs is decided from its path and method by :func:`required_roles`:

- open paths (``auth.open_paths``, and ``/api/v1/auth/keys``): no token;
- the peer protocol (``/peer/*``, ``/task/*``, ``/api/v1/peer/*``, piece error reports): peer or admin;
- preheat (``/preheats``, ``/api/v1/preheats``) and the Harbor provider API (``/oapi/*``): Harbor's provider
  scheme when ``preheat.auth_mode`` is set, else preheat or admin (Harbor's OAuth mode sends such a token);
- webhooks: their own ``Authorization`` values when configured, else webhook or admin;
- policies and runs: reading and running need preheat or admin, changing them admin;
- everything else (``/api/v1/peers``, ``/api/v1/tasks``, ...): admin.

A refusal is 401 (no, malformed, forged or expired token) or 403 (a valid token of the wrong role) with
``WWW-Authenticate: Bearer``; the body is Dragonfly's envelope on peer paths, a JSON problem elsewhere.
"""
from __future__ import annotations

import logging

from flask import g, request

from dfcommon.errors import DfError
from dfcommon.tokens import AUD_API, TokenError, bearer_of

log = logging.getLogger(__name__)

PEER = ("peer", "admin")
PREHEAT = ("preheat", "admin")
WEBHOOK = ("webhook", "admin")
ADMIN = ("admin",)
OWN_SCHEME = "own"                       # the route checks its own credentials
KEYS_PATH = "/api/v1/auth/keys"
PEER_PREFIXES = ("/peer/", "/task/", "/api/v1/peer/")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def required_roles(method: str, path: str, open_paths=(), provider_scheme: bool = False,
                   webhook_schemes: dict | None = None, open_peer_api: bool = False):
    """None (open), OWN_SCHEME, or the tuple of roles that may call ``method path``."""
    if path in open_paths or path == KEYS_PATH:
        return None
    if path.startswith(PEER_PREFIXES) or (path.startswith("/api/v1/tasks/") and path.endswith("/error")):
        return None if open_peer_api else PEER
    if path.startswith(("/preheats", "/api/v1/preheats", "/oapi/")):
        return OWN_SCHEME if provider_scheme else PREHEAT
    if path.startswith("/api/v1/webhooks/"):
        receiver = path[len("/api/v1/webhooks/"):].split("/", 1)[0]
        return OWN_SCHEME if (webhook_schemes or {}).get(receiver) else WEBHOOK
    if path.startswith("/api/v1/runs"):
        return PREHEAT
    if path.startswith("/api/v1/policies"):
        if method in READ_METHODS or (method == "POST" and path.endswith("/run")):
            return PREHEAT
        return ADMIN
    return ADMIN


class ApiGuard:
    def __init__(self, verifier, open_paths=(), provider_scheme: bool = False, webhook_schemes=None,
                 open_peer_api: bool = False):
        self.verifier = verifier
        self.open_peer_api = open_peer_api
        self.open_paths = tuple(open_paths)
        self.provider_scheme = provider_scheme
        self.webhook_schemes = dict(webhook_schemes or {})

    @classmethod
    def from_config(cls, config, verifier) -> "ApiGuard":
        webhooks = getattr(config, "webhooks", None)
        schemes = {"harbor": bool(getattr(webhooks, "harbor_auth", None)),
                   "registry": bool(getattr(webhooks, "registry_auth", None))}
        preheat = getattr(config, "preheat", None)
        provider = (getattr(preheat, "auth_mode", "none") or "none") != "none"
        return cls(verifier, config.auth.open_paths, provider, schemes, config.auth.open_peer_api)

    def check(self):
        """The ``before_request`` hook: None when allowed, else the 401/403 response."""
        roles = required_roles(request.method, request.path, self.open_paths, self.provider_scheme,
                               self.webhook_schemes, self.open_peer_api)
        if roles is None or roles == OWN_SCHEME:
            return None
        try:
            g.auth = self.verifier.verify(bearer_of(request.headers.get("Authorization")), AUD_API, roles)
            return None
        except TokenError as e:
            return self.refuse(e, roles)

    def refuse(self, err: TokenError, roles):
        from supernode.api.errors import render
        log.info("api request refused path=%s method=%s status=%d reason=%s", request.path, request.method,
                 err.status, err.message)
        kind = "UNAUTHORIZED" if err.status == 401 else "DENIED"
        need = " or ".join(roles)
        message = f"{'authentication required' if err.status == 401 else 'access denied'}: {err.message} " \
                  f"(this endpoint needs a bearer token with role {need})"
        body, status = render(DfError(kind, message))
        body.status_code = status
        error = "invalid_token" if err.status == 401 else "insufficient_scope"
        body.headers["WWW-Authenticate"] = f'Bearer realm="supernode", error="{error}"'
        return body


def install_guard(app, config, verifier) -> ApiGuard:
    guard = ApiGuard.from_config(config, verifier)
    app.before_request(guard.check)
    return guard
