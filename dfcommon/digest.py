"""OCI content digests: parsing, validation and incremental hashing."""
from __future__ import annotations

import hashlib
import re

from .errors import DfError

_DIGEST_RE = re.compile(r"^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$")


def parse_digest(value: str) -> tuple[str, str]:
    """Return (algorithm, hex) for ``sha256:<64 hex>`` or ``sha512:<128 hex>``; raise DIGEST_INVALID."""
    m = _DIGEST_RE.match(value or "")
    if not m:
        raise DfError("DIGEST_INVALID", f"invalid digest {value!r}: expected sha256:<64 hex>")
    algo = m.group(1) or m.group(3)
    hexpart = m.group(2) or m.group(4)
    return algo, hexpart


def is_digest(value: str) -> bool:
    return bool(_DIGEST_RE.match(value or ""))


class DigestVerifier:
    """Hash bytes as they stream by and compare with an expected digest at the end."""

    def __init__(self, expected: str):
        self.algorithm, self.expected_hex = parse_digest(expected)
        self._h = hashlib.new(self.algorithm)
        self.length = 0

    def update(self, data: bytes) -> None:
        self._h.update(data)
        self.length += len(data)

    @property
    def actual(self) -> str:
        return f"{self.algorithm}:{self._h.hexdigest()}"

    def matches(self) -> bool:
        return self._h.hexdigest() == self.expected_hex


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
