"""The supernodes' token keys as this host's upload server sees them: ``<workHome>/meta/trusted-keys/``.

After registering, the downloader asks the supernode for ``/api/v1/auth/keys`` (at most once per
``refresh`` seconds per node) and stores the JWKS as ``<host>_<port>.json``; an empty key list (auth off)
or an old supernode without the endpoint removes that file. The upload server verifies peer tokens with
every key in the directory, and serves without tokens when it is empty. Files are replaced atomically.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time

log = logging.getLogger(__name__)

DIR_NAME = "trusted-keys"
REFRESH = 300.0


def trusted_keys_dir(work_home: str) -> str:
    return os.path.join(work_home, "meta", DIR_NAME)


def file_for(directory: str, node: str) -> str:
    return os.path.join(directory, re.sub(r"[^A-Za-z0-9.-]", "_", node) + ".json")


class KeyTrust:
    """Keeps the trusted-keys directory in step with the supernodes this process registers with."""

    def __init__(self, directory: str, client, refresh: float = REFRESH, clock=time.monotonic):
        self.directory, self.client, self.refresh, self.clock = directory, client, refresh, clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def update(self, node: str) -> bool:
        """Fetch and store ``node``'s keys unless done recently; True when keys are stored for it."""
        with self._lock:
            last = self._seen.get(node)
            if last is not None and self.clock() - last < self.refresh:
                return os.path.exists(file_for(self.directory, node))
            self._seen[node] = self.clock()
        doc = self.client.auth_keys(node)
        path = file_for(self.directory, node)
        if doc is None or not doc.get("keys"):
            if os.path.exists(path):
                os.unlink(path)
                log.info("supernode keys removed node=%s (auth off)", node)
            return False
        os.makedirs(self.directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"keys": doc["keys"], "node": node}, fh)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        log.info("supernode keys stored node=%s keys=%d", node, len(doc["keys"]))
        return True
