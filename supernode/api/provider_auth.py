"""Auth of Harbor's P2P provider instance on the preheat APIs (``preheat.auth_*`` config).

Modes: ``none``; ``basic`` (Harbor sends Basic of the *first* key of its auth map, so both
``<username>:<password>``, ``username:<username>`` and ``password:<password>`` are accepted);
``bearer`` (Harbor's OAUTH mode: ``Authorization: Bearer <token>``); ``custom`` (header
``auth_header`` must carry ``auth_token``). Every compare is constant-time; a wrong or missing
value gets 401 JSON. Values are never logged.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import logging

from flask import jsonify, request

log = logging.getLogger(__name__)


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class ProviderAuth:
    def __init__(self, mode: str = "none", username: str = "", password: str = "", token: str = "",
                 header: str = ""):
        self.mode = "bearer" if mode == "oauth" else (mode or "none")
        self.username, self.password, self.token, self.header = username, password, token, header

    @classmethod
    def from_config(cls, conf) -> "ProviderAuth":
        return cls(conf.auth_mode, conf.auth_username, conf.auth_password, conf.auth_token, conf.auth_header)

    def allows(self, headers) -> bool:
        if self.mode == "none":
            return True
        if self.mode == "custom":
            return _eq(headers.get(self.header) or "", self.token)
        value = headers.get("Authorization") or ""
        scheme, _, cred = value.partition(" ")
        if self.mode == "bearer":
            ok = _eq(cred.strip(), self.token)
            return scheme.lower() == "bearer" and ok
        if self.mode == "basic":
            if scheme.lower() != "basic":
                return False
            try:
                user, _, pw = base64.b64decode(cred.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return False
            plain = _eq(user, self.username) & _eq(pw, self.password)
            by_user_key = _eq(user, "username") & _eq(pw, self.username)
            by_password_key = _eq(user, "password") & _eq(pw, self.password)
            return bool(plain | by_user_key | by_password_key)
        return False

    def challenge(self) -> str | None:
        return {"basic": 'Basic realm="supernode"', "bearer": 'Bearer realm="supernode"'}.get(self.mode)

    def check(self):
        """A ``before_request`` hook: None when allowed, else the 401 response."""
        if self.allows(request.headers):
            return None
        log.info("preheat api auth failed path=%s mode=%s", request.path, self.mode)
        resp = jsonify({"code": 401, "message": "unauthorized: wrong or missing provider credentials"})
        resp.status_code = 401
        if self.challenge():
            resp.headers["WWW-Authenticate"] = self.challenge()
        return resp
