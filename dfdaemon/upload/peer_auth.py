"""Peer tokens on the upload server: the ``authorize`` hook of :class:`~dfdaemon.upload.app.UploadApp`.

The keys come from a directory (``<workHome>/meta/trusted-keys/``): JWKS files (``*.json``, written by
the downloader after it registers with a supernode that has auth on) and PEM public keys (``*.pem``, put
there by an operator). The directory is re-read when its listing or a file's mtime changes (checked at
most every ``recheck`` seconds). No key at all means auth is off: every piece request is allowed.

With keys, a piece request needs ``Authorization: Bearer <peer token>`` signed by one of them, not
expired, with audience ``dragonfly-peer``, role peer, ``path`` equal to the requested path and, once
the file's task is known (``/client/finish``), ``task`` and ``dst`` equal to its task id and cid.
Missing, malformed, forged or expired tokens get 401; a valid token for another file or task 403.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time

from dfcommon.errors import DfError
from dfcommon.tokens import AUD_PEER, DEFAULT_LEEWAY, TokenError, TokenVerifier, bearer_of, keys_from_jwks, \
    load_public_keys

log = logging.getLogger(__name__)


class TrustedKeys:
    """The public keys found in a directory, reloaded when it changes."""

    def __init__(self, directory: str, recheck: float = 1.0, leeway: float = DEFAULT_LEEWAY, clock=time.monotonic):
        self.directory, self.recheck, self.leeway, self.clock = directory, recheck, leeway, clock
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._checked = -1e18
        self._verifier = TokenVerifier([], leeway=leeway)

    def _listing(self) -> tuple:
        try:
            names = sorted(n for n in os.listdir(self.directory) if n.endswith((".json", ".pem")))
        except OSError:
            return ()
        out = []
        for name in names:
            try:
                st = os.stat(os.path.join(self.directory, name))
                out.append((name, st.st_mtime_ns, st.st_size))
            except OSError:
                continue
        return tuple(out)

    def _load(self, listing: tuple) -> list:
        keys = []
        for name, _, _ in listing:
            path = os.path.join(self.directory, name)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                keys += keys_from_jwks(json.loads(data)) if name.endswith(".json") else load_public_keys(data)
            except (OSError, ValueError) as e:
                log.warning("trusted key file skipped file=%s error=%s", path, e)
        return keys

    def verifier(self) -> TokenVerifier:
        with self._lock:
            now = self.clock()
            if now - self._checked >= self.recheck:
                self._checked = now
                listing = self._listing()
                if listing != self._stamp:
                    self._stamp = listing
                    self._verifier = TokenVerifier(self._load(listing), leeway=self.leeway)
                    log.info("trusted keys loaded dir=%s keys=%d", self.directory, len(self._verifier.keys))
            return self._verifier


class PeerTokenAuthorizer:
    """``authorize(request) -> bool``; raises DfError(UNAUTHORIZED) for a 401, returns False for a 403."""

    def __init__(self, keys: TrustedKeys, service=None):
        self.keys, self.service = keys, service

    def __call__(self, request) -> bool:
        verifier = self.keys.verifier()
        if not verifier:
            return True                          # no supernode key known: auth is off
        name = request.path.rsplit("/", 1)[-1]
        rec = self.service.tasks.get(name) if self.service is not None else None
        try:
            verifier.verify(bearer_of(request.headers.get("Authorization")), AUD_PEER, ("peer",),
                            task=rec.task_id if rec and rec.task_id else None,
                            dst=rec.cid if rec and rec.cid else None, path=request.path)
        except TokenError as e:
            log.info("piece request refused file=%s status=%d reason=%s", name, e.status, e.message)
            if e.status == 401:
                raise DfError("UNAUTHORIZED", f"unauthorized: {e.message}") from None
            raise DfError("DENIED", f"forbidden: {e.message}") from None
        return True


def peer_authorizer(directory: str, service=None) -> PeerTokenAuthorizer:
    return PeerTokenAuthorizer(TrustedKeys(directory), service)
