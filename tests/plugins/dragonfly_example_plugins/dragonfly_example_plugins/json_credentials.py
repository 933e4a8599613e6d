"""``json-file``: a registry credential provider reading ``<work_home>/example-credentials.json``.

The file maps a registry host (``host[:port]`` as the dfdaemon's upstream names it) to ``{"username": ...,
"password": ...}``; it is read again on every look-up, so a rotated password applies at once. It implements the
``get(host)`` source a ``dragonfly.credentials`` plug-in returns.
"""
from __future__ import annotations

import json
import os

from registry_plugin.oci.credentials import BasicCredentials, normalize_host

FILE_NAME = "example-credentials.json"


class JsonFileCredentials:
    def __init__(self, path: str):
        self.path = path

    def get(self, host: str) -> BasicCredentials | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                entries = json.load(f)
        except FileNotFoundError:
            return None
        entry = entries.get(normalize_host(host)) or entries.get(host)
        if not entry:
            return None
        return BasicCredentials(entry.get("username", ""), entry.get("password", ""))


def create(config) -> JsonFileCredentials:
    """The entry point: the dfdaemon calls it with its config."""
    return JsonFileCredentials(os.path.join(os.path.expanduser(config.work_home), FILE_NAME))
