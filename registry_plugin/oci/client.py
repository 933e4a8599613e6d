"""RegistryClient: the pull side of the OCI distribution API with token/Basic auth.

Every call has (connect, read) timeouts. A 401 with a challenge is answered once (token from the realm,
or Basic); the challenge is remembered so later calls send a cached token at once. Redirects are followed
by hand so the registry's ``Authorization`` never reaches another host (presigned storage URLs).
"""
from __future__ import annotations

import hashlib
import logging
from urllib.parse import urljoin, urlsplit

import requests

from dfcommon.digest import is_digest
from dfcommon.errors import DfError
from dfcommon.http import make_session

from . import mediatypes as mt
from .auth import Authenticator
from .challenge import Challenge, pick, response_challenges
from .credentials import as_source
from .errors import error_from_response
from .reference import check_repository
from .responses import BLOCK, BlobStream, ContentInfo, ManifestResponse
from .scope import parse_scopes, repository_scope

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)
MAX_MANIFEST = 4 << 20


def _has_auth(headers: dict | None) -> bool:
    return bool(headers) and any(k.lower() == "authorization" for k in headers)


def _range_header(rng) -> str | None:
    if rng is None:
        return None
    if isinstance(rng, str):
        return rng if rng.startswith("bytes=") else f"bytes={rng}"
    start, end = rng
    return f"bytes={int(start)}-" + ("" if end is None else str(int(end)))


class RegistryClient:
    """Client of one registry (``base_url`` such as ``https://registry.example`` or ``http://127.0.0.1:5000``).

    ``credentials``: None, ``(user, password)``, BasicCredentials, a ``{host: (user, pw)}`` mapping or a
    credential source with ``get(host)``. ``insecure`` disables TLS verification; ``ca_file`` trusts a CA.
    """

    def __init__(self, base_url: str, credentials=None, insecure: bool = False, ca_file: str | None = None,
                 timeout=(5.0, 30.0), session: requests.Session | None = None,
                 authenticator: Authenticator | None = None, token_method: str = "auto",
                 user_agent: str = "dfpy-registry-client", max_redirects: int = 5):
        if "://" not in base_url:
            base_url = "https://" + base_url
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DfError("INVALID_PARAM", f"invalid registry url {base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.timeout = timeout
        self.verify = False if insecure else (ca_file or True)
        self.session = session or make_session(timeout=timeout, user_agent=user_agent)
        self.credentials = as_source(credentials)
        self.auth = authenticator or Authenticator(self.session, method=token_method, timeout=timeout)
        self.max_redirects = max_redirects
        self._challenge: Challenge | None = None

    # ------------------------------------------------------------------ auth + transport
    def _creds(self):
        return self.credentials.get(self.host) if self.credentials else None

    def _authorization(self, challenge: Challenge | None, scopes) -> str | None:
        if challenge is None:
            return None
        return self.auth.authorization(challenge, scopes, self._creds())

    def _send(self, method: str, url: str, headers: dict, stream: bool, params=None) -> requests.Response:
        origin = urlsplit(url).netloc
        for _ in range(self.max_redirects + 1):
            try:
                resp = self.session.request(method, url, headers=headers, params=params, stream=stream,
                                            allow_redirects=False, timeout=self.timeout, verify=self.verify)
            except requests.RequestException as e:
                raise DfError("UPSTREAM_ERROR", f"registry {self.host} unreachable: {type(e).__name__}",
                              detail={"url": url}) from None
            location = resp.headers.get("Location")
            if resp.status_code not in REDIRECTS or not location:
                return resp
            resp.close()
            url, params = urljoin(url, location), None
            if method not in ("GET", "HEAD"):
                method = "GET"
            if urlsplit(url).netloc != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            log.debug("registry redirect host=%s to=%s", self.host, urlsplit(url).netloc)
        raise DfError("UPSTREAM_ERROR", f"registry {self.host}: too many redirects")

    def _request(self, method: str, path: str, repo: str | None, not_found: str, what: str,
                 headers: dict | None = None, params=None, stream: bool = False,
                 ok=(200,)) -> requests.Response:
        url = self.base_url + path
        headers = dict(headers or {})
        caller_auth = _has_auth(headers)
        scopes = [repository_scope(repo, "pull")] if repo else []
        challenge = self._challenge
        sent = None
        if not caller_auth:
            sent = self._authorization(challenge, scopes)
            if sent:
                headers["Authorization"] = sent
        resp = self._send(method, url, headers, stream, params)
        if resp.status_code == 401 and not caller_auth:
            fresh = pick(response_challenges(resp))
            if fresh is not None:
                use_scopes = scopes or parse_scopes(fresh.scope)
                if sent and challenge is not None:
                    self.auth.invalidate(challenge, scopes, self._creds())
                self._challenge = fresh
                retry = self._authorization(fresh, use_scopes)
                if retry and retry != sent:
                    resp.close()
                    headers["Authorization"] = retry
                    sent = retry
                    resp = self._send(method, url, headers, stream, params)
        if resp.status_code not in ok:
            raise error_from_response(resp, not_found, what, sent_token=bool(sent) or caller_auth)
        return resp

    # ------------------------------------------------------------------ API
    def ping(self, headers: dict | None = None) -> bool:
        """``GET /v2/``; authenticates when challenged. True on 200, DfError otherwise."""
        self._request("GET", "/v2/", None, "NOT_FOUND", f"ping {self.host}", headers=headers).close()
        return True

    def get_manifest(self, repo: str, ref: str, accept=mt.DEFAULT_ACCEPT,
                     headers: dict | None = None) -> ManifestResponse:
        """The manifest bytes unchanged; a digest ``ref`` is verified against the bytes."""
        check_repository(repo)
        h = self._accept_headers(accept, headers)
        resp = self._request("GET", f"/v2/{repo}/manifests/{ref}", repo, "MANIFEST_UNKNOWN",
                             f"manifest {repo}:{ref}", headers=h, stream=True)
        try:
            content = self._read_capped(resp, MAX_MANIFEST, f"manifest {repo}:{ref}")
        finally:
            resp.close()
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        if is_digest(ref) and ref.startswith("sha256:") and ref != digest:
            raise DfError("DIGEST_INVALID", f"manifest {repo}@{ref}: registry sent bytes hashing to {digest}")
        media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        return ManifestResponse(content, media, digest, resp.headers.get("Docker-Content-Digest"),
                                dict(resp.headers))

    def head_manifest(self, repo: str, ref: str, accept=mt.DEFAULT_ACCEPT,
                      headers: dict | None = None) -> ContentInfo:
        check_repository(repo)
        resp = self._request("HEAD", f"/v2/{repo}/manifests/{ref}", repo, "MANIFEST_UNKNOWN",
                             f"manifest {repo}:{ref}", headers=self._accept_headers(accept, headers))
        resp.close()
        return self._info(resp)

    def resolve(self, repo: str, ref: str, accept=mt.DEFAULT_ACCEPT) -> ContentInfo:
        """Digest, media type and size of ``repo:ref``: HEAD, falling back to GET + hashing."""
        info = self.head_manifest(repo, ref, accept=accept)
        if info.digest and info.size is not None and (not is_digest(ref) or info.digest == ref):
            return info
        got = self.get_manifest(repo, ref, accept=accept)
        return ContentInfo(got.media_type, got.digest, got.size)

    def get_blob(self, repo: str, digest: str, range=None, stream: bool = True,
                 headers: dict | None = None) -> BlobStream:
        """Open a blob (``range``: ``(start, end)`` inclusive, ``(start, None)`` or ``"bytes=a-b"``).

        Returns a :class:`BlobStream` (status 200, or 206 when the range was honoured).
        """
        check_repository(repo)
        if not is_digest(digest):
            raise DfError("DIGEST_INVALID", f"invalid digest {digest!r}")
        h = dict(headers or {})
        rh = _range_header(range)
        if rh:
            h["Range"] = rh
        resp = self._request("GET", f"/v2/{repo}/blobs/{digest}", repo, "BLOB_UNKNOWN",
                             f"blob {repo}@{digest}", headers=h, stream=stream, ok=(200, 206))
        return BlobStream(resp, digest)

    def head_blob(self, repo: str, digest: str, headers: dict | None = None) -> ContentInfo:
        check_repository(repo)
        resp = self._request("HEAD", f"/v2/{repo}/blobs/{digest}", repo, "BLOB_UNKNOWN",
                             f"blob {repo}@{digest}", headers=headers)
        resp.close()
        info = self._info(resp)
        return ContentInfo(info.media_type, info.digest or digest, info.size)

    def iter_tags(self, repo: str, n: int | None = None, last: str | None = None):
        """Yield every tag, following ``Link: <...>; rel="next"`` pages."""
        check_repository(repo)
        params = {k: v for k, v in (("n", n), ("last", last)) if v is not None}
        path = f"/v2/{repo}/tags/list"
        for _ in range(100000):
            resp = self._request("GET", path, repo, "NAME_UNKNOWN", f"tags of {repo}", params=params or None)
            try:
                doc = resp.json()
            except ValueError:
                raise DfError("UPSTREAM_ERROR", f"tags of {repo}: registry sent invalid JSON") from None
            finally:
                resp.close()
            yield from (doc.get("tags") or []) if isinstance(doc, dict) else []
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return
            full = urljoin(self.base_url + path, nxt)
            if urlsplit(full).netloc != self.host:
                raise DfError("UPSTREAM_ERROR", f"tags of {repo}: pagination link leaves the registry")
            parts = urlsplit(full)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            params = None

    def list_tags(self, repo: str, n: int | None = None, last: str | None = None) -> list[str]:
        return list(self.iter_tags(repo, n=n, last=last))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _accept_headers(accept, headers: dict | None) -> dict:
        h = dict(headers or {})
        if accept and not any(k.lower() == "accept" for k in h):
            h["Accept"] = accept if isinstance(accept, str) else ", ".join(accept)
        return h

    @staticmethod
    def _info(resp) -> ContentInfo:
        length = resp.headers.get("Content-Length")
        return ContentInfo((resp.headers.get("Content-Type") or "").split(";")[0].strip(),
                           resp.headers.get("Docker-Content-Digest"),
                           int(length) if length and length.isdigit() else None)

    @staticmethod
    def _read_capped(resp, cap: int, what: str) -> bytes:
        out, total = [], 0
        for chunk in resp.raw.stream(BLOCK, decode_content=True):
            total += len(chunk)
            if total > cap:
                raise DfError("UPSTREAM_ERROR", f"{what}: larger than {cap} bytes")
            out.append(chunk)
        return b"".join(out)
