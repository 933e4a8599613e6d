"""Wire auth and TLS into a supernode: keys, the API guard, ``/api/v1/auth/keys``, PieceInfo extras.

Called by the composition root (:func:`supernode.app.create_app`); the result is kept on
``services.extras["auth"]`` so the server can guard the piece server and pick its TLS context.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, jsonify

from .keys import AuthKeys, load_keys
from .pieces import PieceInfoExtras, PieceServerGuard


@dataclass
class AuthWiring:
    config: object                    # the AuthConfig section
    keys: AuthKeys | None             # None when auth is off

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    @property
    def tls(self) -> bool:
        return bool(self.config.tls_cert)

    def server_context(self):
        from dfcommon.tls import server_context
        return server_context(self.config.tls_cert, self.config.tls_key) if self.tls else None

    @property
    def piece_tokens(self) -> bool:
        """Task-scoped tokens in PieceInfos and on piece requests (not in interop mode)."""
        return self.enabled and not self.config.interop

    def guard_pieces(self, piece_app):
        return PieceServerGuard(piece_app, self.keys.peer_verifier) if self.piece_tokens else piece_app


def keys_blueprint(wiring: AuthWiring) -> Blueprint:
    bp = Blueprint("auth_keys", __name__)

    @bp.get("/api/v1/auth/keys")
    def keys():
        """The keys that verify this supernode's tokens (JWKS); ``{"keys": []}`` when auth is off."""
        # upload servers require piece tokens once they hold a key: none in interop mode
        doc = wiring.keys.jwks() if wiring.piece_tokens else {"keys": []}
        doc["issuer"] = "supernode"
        doc["enabled"] = wiring.enabled
        return jsonify(doc)

    return bp


def install_auth(app, services) -> AuthWiring:
    config = services.config
    conf = config.auth
    wiring = AuthWiring(conf, load_keys(conf) if conf.enabled else None)
    services.extras["auth"] = wiring
    app.register_blueprint(keys_blueprint(wiring))
    if wiring.enabled or wiring.tls:
        services.manager.piece_extras = PieceInfoExtras(
            wiring.keys.signer if wiring.piece_tokens else None, conf.peer_token_ttl,
            "https" if wiring.tls else "http")
    if wiring.enabled:
        from .guard import install_guard
        install_guard(app, config, wiring.keys.verifier)
    return wiring


def auth_of(services) -> AuthWiring | None:
    return services.extras.get("auth")
