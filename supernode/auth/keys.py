"""The supernode's token keys: loaded once by the composition root from the ``auth:`` config."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from dfcommon import tokens as T
from dfcommon.errors import ConfigError

log = logging.getLogger(__name__)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None


@dataclass
class AuthKeys:
    signer: T.TokenSigner
    verifier: T.TokenVerifier          # API tokens (with the api_token_ttl_max check)
    peer_verifier: T.TokenVerifier     # piece tokens (the piece server)

    @property
    def public_keys(self) -> list:
        return list(self.verifier.keys.values())

    def jwks(self) -> dict:
        return T.jwks(self.public_keys)


def load_keys(conf) -> AuthKeys:
    """Signer and verifiers from ``auth.signing_key`` (+ ``auth.public_key``); ConfigError when unusable."""
    try:
        signer = T.TokenSigner(_read(conf.signing_key, "auth.signing_key"))
    except ValueError as e:
        raise ConfigError(f"auth.signing_key {conf.signing_key}: {e}") from None
    public = [signer.public_key]
    if conf.public_key:
        try:
            extra = T.load_public_keys(_read(conf.public_key, "auth.public_key"))
        except ValueError as e:
            raise ConfigError(f"auth.public_key {conf.public_key}: {e}") from None
        public += [k for k in extra if T.key_id(k) != signer.kid]
    verifier = T.TokenVerifier(public, leeway=conf.leeway, max_ttl=conf.api_token_ttl_max)
    peer_verifier = T.TokenVerifier(public, leeway=conf.leeway)
    log.info("auth keys loaded kid=%s algorithm=%s verification_keys=%d", signer.kid, signer.algorithm, len(public))
    return AuthKeys(signer, verifier, peer_verifier)


def write_key_pair(private_path: str, public_path: str, kind: str = "ed25519", force: bool = False) -> None:
    """Write a new pair; the private key is created with mode 0600. Refuses to overwrite unless ``force``."""
    for path in (private_path, public_path):
        if os.path.exists(path) and not force:
            raise ConfigError(f"{path} exists (use --force to replace it)")
    private, public = T.generate_key_pair(kind)
    for path, data, mode in ((private_path, private, 0o600), (public_path, public, 0o644)):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
