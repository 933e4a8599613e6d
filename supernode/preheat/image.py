"""The image side of a preheat: parse the manifest URL, walk the image with the given headers and
list its blobs (config + layers, every selected platform of an index) as blob URLs."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from dfcommon.errors import DfError
from registry_plugin.oci import RegistryClient, is_expired, walk
from registry_plugin.oci.scope import repository_scope

log = logging.getLogger(__name__)

IMAGE_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/]+)/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")


class ImageError(Exception):
    """The image could not be listed; the message says why (expired token, unknown manifest, ...)."""


@dataclass(frozen=True)
class ImageRef:
    scheme: str
    host: str
    repo: str
    ref: str

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def blob_url(self, digest: str) -> str:
        return f"{self.base_url}/v2/{self.repo}/blobs/{digest}"


def parse_image_url(url: str) -> ImageRef:
    m = IMAGE_URL.match(url or "")
    if m is None:
        raise DfError("INVALID_PARAM",
                      "an image preheat url must look like <scheme>://<host>/v2/<repo>/manifests/<ref>")
    return ImageRef(m["scheme"], m["host"], m["repo"], m["ref"])


class _WithHeaders:
    """Gives every manifest request the caller's headers (Harbor's bearer token is used as is)."""

    def __init__(self, client: RegistryClient, headers: dict):
        self.client, self.headers = client, headers

    def get_manifest(self, repo, ref, **kw):
        return self.client.get_manifest(repo, ref, headers=dict(self.headers) or None, **kw)


def _bearer_expired(headers: dict) -> bool:
    for k, v in headers.items():
        if k.lower() == "authorization" and v.lower().startswith("bearer "):
            try:
                return is_expired(v.split(None, 1)[1])
            except Exception:
                return False
    return False


def explain(e: DfError, ref: ImageRef, headers: dict, configured: bool = False) -> str:
    where = f"{ref.host}/{ref.repo}:{ref.ref}"
    has_auth = any(k.lower() == "authorization" for k in headers)
    if e.code in ("UNAUTHORIZED", "DENIED") and not has_auth and not configured:
        return f"the registry requires authentication for {where} and no credentials were given ({e.message})"
    if e.code == "UNAUTHORIZED":
        if _bearer_expired(headers):
            return f"the registry refused the token for {where}: the bearer token has expired ({e.message})"
        return f"the registry refused the token for {where}: missing, expired or invalid ({e.message})"
    if e.code == "DENIED":
        return f"access denied to {where}: the credentials lack pull access ({e.message})"
    if e.code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"):
        return f"manifest unknown: {where} does not exist ({e.message})"
    if e.code == "UPSTREAM_ERROR" and "unreachable" in e.message:
        return f"registry unreachable: {e.message}"
    return f"cannot read the manifest of {where}: {e.message}"


def list_blobs(client: RegistryClient, ref: ImageRef, headers: dict, platforms=None) -> list[str]:
    """Blob URLs of the image (distinct digests, config first per manifest)."""
    try:
        return [ref.blob_url(d.digest) for d in walk(_WithHeaders(client, headers), ref.repo, ref.ref,
                                                      platforms=platforms or None)]
    except DfError as e:
        raise ImageError(explain(e, ref, headers, configured=bool(client.credentials))) from None


def blob_authorization(client: RegistryClient, ref: ImageRef) -> str | None:
    """The Authorization the client used for ``ref.repo`` (token or Basic from its own credentials), for
    the CDN to fetch the blobs with; None when the registry asked for none."""
    challenge = getattr(client, "_challenge", None)
    creds = client.credentials.get(client.host) if client.credentials else None
    if challenge is None:
        return None
    try:
        return client.auth.authorization(challenge, [repository_scope(ref.repo, "pull")], creds)
    except DfError as e:
        raise ImageError(f"cannot get a token for the blobs of {ref.host}/{ref.repo}: {e.message}") from None
