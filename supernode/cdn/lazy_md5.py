"""Lazy md5: the protocol's md5s computed from the CDN file when someone needs them, not while writing.

With ``fast_digest`` on, the CDN hashes each byte it writes once, with XXH3-128 (the digest our own clients
check). The Dragonfly 1.x protocol's digests, a piece's ``md5(header|content|tail):len`` and the whole-file
md5 of the source bytes, are then computed here, from the stored file, only when a peer asks for them (a
Dragonfly 1.x dfget, or one of ours that offered no fast digest). Every piece read back is also checked
against the XXH3-128 kept when it was written, so a piece corrupted on disk after it was written gets no md5
of its corrupt bytes: the caller collects the task instead.

These functions do file I/O and hashing only (no gevent objects): callers run them through
:func:`dfcommon.offload.offload`.
"""
from __future__ import annotations

import hashlib

from dfcommon import piece_digest, pieces

from .verify import read_piece

# the .md5 file of a lazy task keeps each piece's fast digest (``xxh3-128:<hex>``) where an eager one keeps
# its md5 (``<hex>:<len>``), and "" as the file md5 until it is computed
DIGEST_PREFIX = piece_digest.ALGO + ":"


def is_digest(line: str) -> bool:
    """Whether a piece line of a .md5 file is a fast digest (a lazy task) rather than a piece md5."""
    return line.startswith(DIGEST_PREFIX)


class Corrupt(Exception):
    """A stored piece no longer matches the fast digest kept when it was written."""


def piece_hashes(storage, task_id: str, piece_num: int, piece_size: int, digest: str = "") -> str | None:
    """The piece's protocol md5 string from the stored bytes, or None when the piece is missing or broken.

    Raises :class:`Corrupt` when ``digest`` (the kept fast digest) is given and the bytes do not match it."""
    wrapped = read_piece(storage, task_id, piece_num, piece_size)
    if wrapped is None:
        return None
    if digest and piece_digest.of(wrapped) != digest:
        raise Corrupt(f"piece {piece_num} of task {task_id} does not match its {piece_digest.ALGO}")
    return pieces.piece_md5(wrapped)


def file_md5(storage, task_id: str, piece_size: int, source_length: int, digests) -> str | None:
    """The md5 of the source bytes, piece by piece from the stored file; None when a piece is missing.

    ``digests`` maps piece numbers to their kept fast digests (any piece without one is not checked);
    raises :class:`Corrupt` on a mismatch."""
    h = hashlib.md5()
    total = pieces.piece_total(max(source_length, 0), piece_size)
    for n in range(total):
        wrapped = read_piece(storage, task_id, n, piece_size)
        if wrapped is None:
            return None
        digest = digests.get(n, "")
        if digest and piece_digest.of(wrapped) != digest:
            raise Corrupt(f"piece {n} of task {task_id} does not match its {piece_digest.ALGO}")
        h.update(memoryview(wrapped)[4:-1])
    return h.hexdigest()
