"""Signed JWTs between components: API tokens with roles, task-scoped peer tokens.

The supernode signs with an Ed25519 (``EdDSA``) or RSA (``RS256``) private key; anybody holding
the public key verifies. Claims: ``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``role`` (peer |
preheat | admin | webhook) and, on peer tokens, ``task`` (task id), ``dst`` (cid of the serving
peer, or ``supernode``) and ``path`` (the served file's path on that peer).

Two audiences keep the uses apart: :data:`AUD_API` for the supernode API and :data:`AUD_PEER` for
piece downloads, so a piece token never opens the API and an API token never fetches a piece.
Verification failures raise :class:`TokenError` with the HTTP status to answer (401 for a missing,
malformed, forged or expired token; 403 for a valid token that does not cover the request).
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ROLES = ("peer", "preheat", "admin", "webhook")
ISSUER = "supernode"
AUD_API = "supernode-api"
AUD_PEER = "dragonfly-peer"
DST_SUPERNODE = "supernode"
DEFAULT_LEEWAY = 30.0
KEY_TYPES = ("ed25519", "rsa")


class TokenError(Exception):
    """A token was refused; ``status`` is 401 (authenticate again) or 403 (not allowed)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Claims:
    sub: str
    role: str
    aud: str
    exp: float
    iat: float
    iss: str = ISSUER
    task: str = ""
    dst: str = ""
    path: str = ""
    raw: dict = field(default_factory=dict, repr=False)


# --- keys --------------------------------------------------------------------------------------------------------

def generate_key_pair(kind: str = "ed25519") -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a new key pair."""
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"key type must be one of {', '.join(KEY_TYPES)}, got {kind!r}")
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return private, public_pem(key.public_key())


def public_pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes):
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        raise ValueError("the signing key must be Ed25519 or RSA")
    return key


def load_public_keys(pem: bytes) -> list:
    """Every public key in a PEM bundle (one or more ``PUBLIC KEY`` blocks)."""
    keys, marker = [], b"-----BEGIN PUBLIC KEY-----"
    for chunk in pem.split(marker)[1:]:
        try:
            key = serialization.load_pem_public_key(marker + chunk)
        except ValueError as e:
            raise ValueError(f"not a PEM public key: {e}") from None
        if not isinstance(key, (ed25519.Ed25519PublicKey, rsa.RSAPublicKey)):
            raise ValueError("public keys must be Ed25519 or RSA")
        keys.append(key)
    if not keys:
        raise ValueError("no PEM public key found")
    return keys


def algorithm_of(key) -> str:
    return "EdDSA" if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)) else "RS256"


def key_id(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def to_jwk(public_key) -> dict:
    """A JWK (RFC 7517/8037) of a public key, with ``kid``, ``alg`` and ``use``."""
    doc = {"kid": key_id(public_key), "alg": algorithm_of(public_key), "use": "sig"}
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        doc.update(kty="OKP", crv="Ed25519", x=_b64(raw))
    else:
        nums = public_key.public_numbers()
        doc.update(kty="RSA", n=_b64(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                   e=_b64(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")))
    return doc


def from_jwk(doc: dict):
    kty = doc.get("kty")
    if kty == "OKP" and doc.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(doc["x"]))
    if kty == "RSA":
        n, e = (int.from_bytes(_unb64(doc[k]), "big") for k in ("n", "e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    raise ValueError(f"unsupported JWK kty={kty!r} crv={doc.get('crv')!r}")


def jwks(public_keys: Iterable) -> dict:
    return {"keys": [to_jwk(k) for k in public_keys]}


def keys_from_jwks(doc) -> list:
    """Public keys of a JWKS document (``{"keys": [...]}``); entries of unknown types are skipped."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("a JWKS document is an object with a 'keys' list")
    out = []
    for entry in doc["keys"]:
        try:
            out.append(from_jwk(entry))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def unverified_claims(token: str) -> dict:
    """The payload without any check (for display only, never for a decision)."""
    try:
        return json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError):
        return {}


# --- sign and verify ---------------------------------------------------------------------------------------------

class TokenSigner:
    """Mints tokens with one private key."""

    def __init__(self, private_key, issuer: str = ISSUER, clock=time.time):
        self.key = load_private_key(private_key) if isinstance(private_key, bytes) else private_key
        self.public_key = self.key.public_key()
        self.algorithm = algorithm_of(self.key)
        self.kid = key_id(self.public_key)
        self.issuer, self.clock = issuer, clock

    def mint(self, role: str, subject: str, ttl: float, audience: str = AUD_API, **extra) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        now = int(self.clock())
        claims = {"iss": self.issuer, "sub": subject, "aud": audience, "iat": now, "exp": now + int(ttl),
                  "role": role, **{k: v for k, v in extra.items() if v is not None}}
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid})

    def peer_token(self, task: str, subject: str, dst: str, ttl: float, path: str = "") -> str:
        """A piece token: ``subject`` (the downloading cid) may fetch ``task`` pieces from ``dst``."""
        return self.mint("peer", subject, ttl, AUD_PEER, task=task, dst=dst, path=path or None)


class TokenVerifier:
    """Checks signature, issuer, audience, ``exp``/``iat`` (with leeway), role and peer scope."""

    def __init__(self, public_keys: Iterable, issuer: str = ISSUER, leeway: float = DEFAULT_LEEWAY,
                 max_ttl: float = 0.0, clock=time.time):
        self.keys = {key_id(k): k for k in public_keys}
        self.issuer, self.leeway, self.max_ttl, self.clock = issuer, leeway, max_ttl, clock

    def __bool__(self) -> bool:
        return bool(self.keys)

    def _candidates(self, token: str) -> list:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        if header.get("alg") not in ("EdDSA", "RS256"):
            raise TokenError(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if kid and kid in self.keys:
            return [self.keys[kid]]
        return [k for k in self.keys.values() if algorithm_of(k) == header["alg"]]

    def verify(self, token: str | None, audience: str = AUD_API, roles: Iterable[str] | None = None,
               task: str | None = None, dst: str | None = None, path: str | None = None) -> Claims:
        if not token:
            raise TokenError("a bearer token is required")
        if not self.keys:
            raise TokenError("no verification key is configured")
        payload, last = None, "token signature does not verify"
        for key in self._candidates(token):
            try:
                payload = jwt.decode(token, key, algorithms=[algorithm_of(key)], audience=audience,
                                     issuer=self.issuer, leeway=self.leeway,
                                     options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iat": False})
                break
            except jwt.ExpiredSignatureError:
                raise TokenError("token has expired") from None
            except jwt.InvalidAudienceError:
                raise TokenError(f"token is not meant for {audience}") from None
            except jwt.InvalidIssuerError:
                raise TokenError("token issuer is not trusted") from None
            except jwt.MissingRequiredClaimError as e:
                raise TokenError(f"token lacks the {e.claim!r} claim") from None
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as e:
                last = f"invalid token: {e}"
        if payload is None:
            raise TokenError(last)
        claims = self._claims(payload)
        if claims.iat > self.clock() + self.leeway:
            raise TokenError("token is issued in the future")
        if self.max_ttl and claims.exp - claims.iat > self.max_ttl + 1:
            raise TokenError("token lifetime exceeds the allowed maximum")
        if roles is not None and claims.role not in tuple(roles):
            raise TokenError(f"role {claims.role!r} is not allowed here (needs {' or '.join(roles)})", 403)
        for name, want in (("task", task), ("dst", dst), ("path", path)):
            if want is not None and getattr(claims, name) != want:
                raise TokenError(f"token is not valid for this {name}", 403)
        return claims

    @staticmethod
    def _claims(p: dict) -> Claims:
        role = p.get("role")
        if role not in ROLES:
            raise TokenError(f"token role {role!r} is unknown")
        try:
            return Claims(sub=str(p["sub"]), role=role, aud=str(p["aud"]), exp=float(p["exp"]),
                          iat=float(p["iat"]), iss=str(p["iss"]), task=str(p.get("task") or ""),
                          dst=str(p.get("dst") or ""), path=str(p.get("path") or ""), raw=p)
        except (TypeError, ValueError):
            raise TokenError("token claims have the wrong types") from None
