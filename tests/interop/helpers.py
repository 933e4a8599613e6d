"""Small checks shared by the interoperability tests."""
from __future__ import annotations

import hashlib
import re

from tests.helpers import sha256_file  # noqa: F401 - re-exported for the interop tests

MiB = 1 << 20


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


def peer_pieces(sn) -> dict[tuple[str, str], float]:
    """{(from_version, to_version): pieces} from our supernode's ``dragonfly_supernode_peer_pieces_total``."""
    out = {}
    for key, value in sn.metrics().items():
        name, _, labels = key.partition("{")
        if name == "dragonfly_supernode_peer_pieces_total":
            pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(","))
            out[(pairs["from_version"].strip('"'), pairs["to_version"].strip('"'))] = value
    return out
