"""Piece status codes (Dragonfly's PieceStatus) and a client's piece statuses as bit masks."""
from __future__ import annotations

# piece status codes (Dragonfly's PieceStatus)
SEMISUC, WAITING, RUNNING, SUCCESS, FAILED = -3, -1, 0, 1, 2


class PieceBitset:
    """A piece's status as a bit in one of three masks (running, done = SUCCESS, failed; WAITING: in none);
    SUCCESS, once set, never changes. Ints, not a byte per piece: a 256-piece client is about 100 bytes."""
    __slots__ = ("running", "done", "failed")

    def __init__(self):
        self.running = 0                # bit mask of the RUNNING pieces
        self.done = 0                   # bit mask of the SUCCESS pieces
        self.failed = 0                 # bit mask of the FAILED pieces

    def set(self, piece: int, status: int) -> bool:
        """Apply ``status``; False when the piece was already SUCCESS (nothing changed)."""
        if piece < 0:
            raise ValueError("negative piece number")
        bit = 1 << piece
        if self.done & bit:
            return False
        if self.running & bit:
            self.running ^= bit
        if self.failed & bit:
            self.failed ^= bit
        if status == SUCCESS or status == SEMISUC:
            self.done |= bit
        elif status == RUNNING:
            self.running |= bit
        elif status == FAILED:
            self.failed |= bit
        return True

    def _mask(self, status: int) -> int:
        if status == SUCCESS:
            return self.done
        if status == RUNNING:
            return self.running
        return self.failed if status == FAILED else 0

    def has(self, piece: int, status: int) -> bool:
        return piece >= 0 and bool(self._mask(status) >> piece & 1)

    def pieces(self, status: int) -> list[int]:
        mask, out = self._mask(status), []
        while mask:
            low = mask & -mask
            out.append(low.bit_length() - 1)
            mask ^= low
        return out

    def count(self, status: int) -> int:
        return self._mask(status).bit_count()
