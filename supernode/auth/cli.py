"""``supernode token`` and ``supernode keys generate``: mint API tokens, create the signing key pair.

    supernode keys generate [--config F] [--signing-key PATH --public-key PATH] [--type ed25519|rsa] [--force]
    supernode token --role admin|preheat|peer|webhook [--ttl 24h] [--subject NAME] [--config F | --signing-key PATH]

Paths default to ``auth.signing_key`` / ``auth.public_key`` of the config. The token is printed alone on
stdout (pipe it into a file); its claims go to stderr. Exit 0 ok, 2 bad usage or configuration.
"""
from __future__ import annotations

import argparse
import json
import sys

from dfcommon.errors import ConfigError
from dfcommon.tokens import KEY_TYPES, ROLES, TokenSigner, unverified_claims
from dfcommon.units import parse_duration

DEFAULT_TTL = "24h"


def _auth_config(path: str | None, environ=None):
    from supernode.config import load_config
    return load_config(path, environ=environ).auth


def _keys_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supernode keys generate",
                                description="Create the key pair that signs API and peer tokens.")
    p.add_argument("--config", help="supernode YAML config (its auth.signing_key / auth.public_key)")
    p.add_argument("--signing-key", help="where to write the private key (PEM, mode 0600)")
    p.add_argument("--public-key", help="where to write the public key (PEM)")
    p.add_argument("--type", default="ed25519", choices=KEY_TYPES, help="key type (default ed25519)")
    p.add_argument("--force", action="store_true", help="replace existing files")
    return p


def _token_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supernode token", description="Print a signed API token.")
    p.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    p.add_argument("--ttl", default=DEFAULT_TTL, help=f"lifetime, e.g. 1h, 24h, 30d (default {DEFAULT_TTL})")
    p.add_argument("--subject", default="", help="who holds it (default: the role)")
    p.add_argument("--config", help="supernode YAML config (its auth.signing_key)")
    p.add_argument("--signing-key", help="the private key (PEM); overrides the config")
    return p


def keys_main(argv: list[str]) -> int:
    if argv[:1] != ["generate"]:
        print("usage: supernode keys generate [--config F] [--signing-key P --public-key P] [--type T]",
              file=sys.stderr)
        return 2
    args = _keys_parser().parse_args(argv[1:])
    from .keys import write_key_pair
    try:
        conf = _auth_config(args.config) if args.config else None
        private = args.signing_key or (conf.signing_key if conf else "")
        public = args.public_key or (conf.public_key if conf else "") or (private + ".pub" if private else "")
        if not private:
            raise ConfigError("give --signing-key (or --config with auth.signing_key)")
        write_key_pair(private, public, args.type, args.force)
    except (ConfigError, OSError) as e:
        print(f"supernode keys: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"signing_key": private, "public_key": public, "type": args.type}))
    return 0


def token_main(argv: list[str]) -> int:
    args = _token_parser().parse_args(argv)
    try:
        ttl = parse_duration(args.ttl)
        conf = _auth_config(args.config) if args.config else None
        key_path = args.signing_key or (conf.signing_key if conf else "")
        if not key_path:
            raise ConfigError("give --signing-key (or --config with auth.signing_key)")
        if conf is not None and conf.api_token_ttl_max and ttl > conf.api_token_ttl_max:
            raise ConfigError(f"--ttl {args.ttl} exceeds auth.api_token_ttl_max; the supernode would refuse it")
        with open(key_path, "rb") as fh:
            signer = TokenSigner(fh.read())
        token = signer.mint(args.role, args.subject or args.role, ttl)
    except (ConfigError, ValueError) as e:
        print(f"supernode token: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"supernode token: cannot read {key_path}: {e.strerror}", file=sys.stderr)
        return 2
    print(token)
    claims = unverified_claims(token)
    print(json.dumps({k: claims.get(k) for k in ("sub", "role", "aud", "exp")}), file=sys.stderr)
    return 0
