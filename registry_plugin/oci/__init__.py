"""OCI registry client: challenges, token auth, JWT checks, manifests, references."""
from .auth import Authenticator, Token, TokenCache
from .challenge import Challenge, parse_challenges
from .client import RegistryClient
from .credentials import (BasicCredentials, ChainCredentials, DockerConfigCredentials, HostCredentials,
                          StaticCredentials)
from .manifest import Descriptor, ImageIndex, ImageManifest, Platform, parse_manifest, walk
from .reference import Reference, parse_reference, valid_repository
from .responses import BlobStream, ContentInfo, ManifestResponse
from .scope import Scope, parse_scope, parse_scopes
from .tokens import TokenVerifier, allows, decode_claims, expires_at, is_expired

__all__ = [
    "Authenticator", "Token", "TokenCache", "Challenge", "parse_challenges", "RegistryClient",
    "BasicCredentials", "ChainCredentials", "DockerConfigCredentials", "HostCredentials", "StaticCredentials",
    "Descriptor", "ImageIndex", "ImageManifest", "Platform", "parse_manifest", "walk",
    "Reference", "parse_reference", "valid_repository", "BlobStream", "ContentInfo", "ManifestResponse",
    "Scope", "parse_scope", "parse_scopes", "TokenVerifier", "allows", "decode_claims", "expires_at", "is_expired",
]
