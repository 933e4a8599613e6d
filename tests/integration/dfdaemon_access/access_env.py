"""Shared pieces of the access-guard tests: an upstream record, token minting and an image layout."""
from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass

import jwt
import requests

from tests.fixtures.tokenserver import make_cert

PRIVATE = "acc/private"
PUBLIC = "acc/public"
OTHER = "acc/other"


@dataclass
class Up:
    """The attributes the guard reads from a mirror upstream (UpstreamLike)."""

    url: str
    insecure: bool = False
    ca_file: str | None = None
    verifier: object = None
    credentials: object = None

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]


def private_permissions(ts) -> None:
    """Anonymous may pull acc/public only; testuser may do everything."""
    ts.permissions = {"": {PUBLIC: ["pull"]}, "testuser": {"*": ["pull", "push"]}}


def fetch_token(ts, repo: str, creds=("testuser", "testpass")) -> str:
    """A real token from the token server (GET with Basic), for ``repository:<repo>:pull``."""
    auth = (creds[0], creds[1]) if creds else None
    r = requests.get(ts.realm, params={"service": ts.service, "scope": f"repository:{repo}:pull"}, auth=auth,
                     timeout=(5, 15))
    r.raise_for_status()
    return r.json()["token"]


def expired_token(ts, repo: str) -> str:
    ts.settings.lifetime = -300
    try:
        return fetch_token(ts, repo)
    finally:
        ts.settings.lifetime = None


def forged_token(ts, repo: str) -> str:
    """A token granting pull on ``repo`` signed by a key the registry does not trust."""
    key_pem, _, cert_der = make_cert("forger")
    now = int(time.time())
    claims = {"iss": ts.issuer, "sub": "testuser", "aud": ts.service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": str(uuid.uuid4()),
              "access": [{"type": "repository", "name": repo, "actions": ["pull"]}]}
    return jwt.encode(claims, key_pem, algorithm="RS256", headers={"x5c": [base64.b64encode(cert_der).decode()]})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
