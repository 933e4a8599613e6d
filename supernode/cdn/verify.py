"""Re-read one wrapped piece from the store and judge it (piece error handling)."""
from __future__ import annotations

import logging

from dfcommon import pieces
from dfcommon.errors import DfError

from .layout import data_key

log = logging.getLogger(__name__)


def read_piece(storage, task_id: str, piece_num: int, piece_size: int) -> bytes | None:
    """The wrapped piece as stored, or None when it is missing or its wrapper is broken."""
    key, offset = data_key(task_id), piece_num * piece_size
    try:
        head = storage.read_bytes(key, offset, 4)
        if len(head) != 4:
            return None
        content_len, _ = pieces.parse_header(head)
        if content_len > pieces.content_size(piece_size):
            return None
        wrapped = storage.read_bytes(key, offset, content_len + pieces.WRAP_SIZE)
    except DfError:
        return None
    try:
        pieces.unwrap(wrapped)
    except ValueError:
        return None
    return wrapped


def verify_piece(storage, task_id: str, piece_num: int, piece_size: int, known: str | None,
                 expected: str) -> bool:
    """True when the disk piece matches the md5 the CDN recorded (or the one the peer expected)."""
    if piece_size <= 0:
        return False
    wrapped = read_piece(storage, task_id, piece_num, piece_size)
    if wrapped is None:
        log.info("cdn piece missing or broken task=%s piece=%d", task_id, piece_num)
        return False
    disk = pieces.piece_md5(wrapped)
    return disk == known or disk == expected
