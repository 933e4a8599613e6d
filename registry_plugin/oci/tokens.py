"""JWT inspection and verification for registry bearer tokens.

Inspection (no signature check) reads claims and the ``access`` list; :func:`allows` tells whether a
token grants an action on a repository. :class:`TokenVerifier` checks the signature with a configured
PEM certificate bundle, PEM public key or JWKS (``x5c`` chains are accepted when their leaf is a trusted
certificate or is issued by one), then issuer, audience, ``nbf``/``exp`` with a leeway.
"""
from __future__ import annotations

import base64
import datetime
import json
import logging
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dfcommon.errors import DfError

log = logging.getLogger(__name__)

DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")


def decode_claims(token: str) -> dict:
    """Claims of a JWT without verifying it; raise UNAUTHORIZED when it is not a JWT."""
    try:
        return jwt.decode(token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False})
    except jwt.PyJWTError as e:
        raise DfError("UNAUTHORIZED", f"malformed bearer token: {e}") from None


def decode_header(token: str) -> dict:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise DfError("UNAUTHORIZED", f"malformed bearer token: {e}") from None


def _claims(token_or_claims) -> dict:
    return token_or_claims if isinstance(token_or_claims, dict) else decode_claims(token_or_claims)


def allows(token_or_claims, repo: str, action: str = "pull", type_: str = "repository") -> bool:
    """True when the ``access`` claim grants ``action`` (or ``*``) on ``type_:repo``."""
    access = _claims(token_or_claims).get("access") or []
    if not isinstance(access, list):
        return False
    for entry in access:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") != type_ or entry.get("name") != repo:
            continue
        actions = entry.get("actions") or []
        if action in actions or "*" in actions:
            return True
    return False


def expires_at(token_or_claims) -> float | None:
    exp = _claims(token_or_claims).get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None


def is_expired(token_or_claims, leeway: float = 0.0, now: float | None = None) -> bool:
    exp = expires_at(token_or_claims)
    if exp is None:
        return False
    return (time.time() if now is None else now) > exp + leeway


def _load_certs(pem: bytes) -> list:
    return x509.load_pem_x509_certificates(pem)


class TokenVerifier:
    """Verify registry tokens against trusted keys.

    ``certs_pem``: PEM bundle of trusted certificates (the registry's ``rootcertbundle``);
    ``public_key_pem``: one PEM public key; ``jwks``: a JWKS dict or JSON string (keys matched by ``kid``).
    """

    def __init__(self, certs_pem: bytes | str | None = None, public_key_pem: bytes | str | None = None,
                 jwks=None, issuer: str | list | None = None, audience: str | None = None,
                 leeway: float = 60.0, algorithms=DEFAULT_ALGORITHMS):
        self._certs = _load_certs(_b(certs_pem)) if certs_pem else []
        self._public_key = serialization.load_pem_public_key(_b(public_key_pem)) if public_key_pem else None
        self._jwks = None
        if jwks:
            doc = json.loads(jwks) if isinstance(jwks, (str, bytes)) else jwks
            self._jwks = jwt.PyJWKSet.from_dict(doc)
        if not (self._certs or self._public_key or self._jwks):
            raise ValueError("TokenVerifier needs certs_pem, public_key_pem or jwks")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.algorithms = list(algorithms)

    @classmethod
    def from_files(cls, cert_file: str | None = None, public_key_file: str | None = None,
                   jwks_file: str | None = None, **kw) -> "TokenVerifier":
        def read(p):
            if not p:
                return None
            with open(p, "rb") as f:
                return f.read()
        return cls(certs_pem=read(cert_file), public_key_pem=read(public_key_file), jwks=read(jwks_file), **kw)

    def _candidate_keys(self, header: dict) -> list:
        x5c = header.get("x5c")
        if x5c and self._certs:
            return [self._chain_key(x5c)]
        kid = header.get("kid")
        if self._jwks is not None and kid:
            for k in self._jwks.keys:
                if k.key_id == kid:
                    return [k.key]
        keys = [c.public_key() for c in self._certs]
        if self._public_key is not None:
            keys.append(self._public_key)
        if self._jwks is not None and not kid:
            keys.extend(k.key for k in self._jwks.keys)
        return keys

    def _chain_key(self, x5c) -> object:
        """Public key of the x5c leaf when the chain (leaf first) ends at or under a trusted certificate."""
        try:
            chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in x5c]
        except Exception:
            raise DfError("UNAUTHORIZED", "invalid x5c header in bearer token") from None
        if not chain:
            raise DfError("UNAUTHORIZED", "empty x5c header in bearer token")
        now = datetime.datetime.now(datetime.timezone.utc)
        for cert in chain:
            if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
                raise DfError("UNAUTHORIZED", "bearer token certificate is outside its validity period")
        for child, parent in zip(chain, chain[1:]):
            try:
                child.verify_directly_issued_by(parent)
            except Exception:
                raise DfError("UNAUTHORIZED", "bearer token x5c chain is broken") from None
        for cert in chain:
            for trusted in self._certs:
                if cert == trusted:
                    return chain[0].public_key()
        top = chain[-1]
        for trusted in self._certs:
            try:
                top.verify_directly_issued_by(trusted)
                return chain[0].public_key()
            except Exception:
                continue
        raise DfError("UNAUTHORIZED", "bearer token certificate chain is not trusted")

    def verify(self, token: str) -> dict:
        """Return the verified claims; raise DfError UNAUTHORIZED on any failure."""
        header = decode_header(token)
        if header.get("alg") not in self.algorithms:
            raise DfError("UNAUTHORIZED", f"bearer token algorithm {header.get('alg')!r} not accepted")
        keys = self._candidate_keys(header)
        if not keys:
            raise DfError("UNAUTHORIZED", "no trusted key for bearer token")
        options = {"require": ["exp"], "verify_aud": self.audience is not None,
                   "verify_iss": False}
        last = None
        for key in keys:
            try:
                claims = jwt.decode(token, key=key, algorithms=self.algorithms, audience=self.audience,
                                    leeway=self.leeway, options=options)
                break
            except jwt.InvalidSignatureError as e:
                last = e
                continue
            except jwt.PyJWTError as e:
                raise DfError("UNAUTHORIZED", f"bearer token rejected: {e}") from None
        else:
            raise DfError("UNAUTHORIZED", f"bearer token rejected: {last}")
        if self.issuer is not None:
            allowed = [self.issuer] if isinstance(self.issuer, str) else list(self.issuer)
            if claims.get("iss") not in allowed:
                raise DfError("UNAUTHORIZED", "bearer token issuer not trusted")
        return claims


def _b(v) -> bytes:
    return v.encode() if isinstance(v, str) else v
