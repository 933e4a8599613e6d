"""Small checks shared by the interoperability tests."""
from __future__ import annotations

import hashlib
import re

MiB = 1 << 20


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def md5_file(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def registered_piece_size(client_log: str) -> int:
    """The piece size the supernode gave in its registration reply, from a Go dfget's client log."""
    m = re.search(r'do register result:.*?"pieceSize":(\d+)', client_log)
    if not m:
        raise AssertionError("no registration reply in the Go dfget's log")
    return int(m.group(1))
