"""Component auth of the supernode: bearer tokens with roles, peer tokens, TLS (see docs/security.md)."""
from .config import AuthConfig, validate_auth
from .guard import ApiGuard, required_roles
from .keys import AuthKeys, load_keys, write_key_pair
from .pieces import PieceInfoExtras, PieceServerGuard
from .wiring import AuthWiring, auth_of, install_auth

__all__ = ["AuthConfig", "validate_auth", "ApiGuard", "required_roles", "AuthKeys", "load_keys", "write_key_pair",
           "PieceInfoExtras", "PieceServerGuard", "AuthWiring", "auth_of", "install_auth"]
