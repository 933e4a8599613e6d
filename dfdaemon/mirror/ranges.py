"""``Range: bytes=...`` for blobs: one range, checked before anything is fetched.

Syntax errors (other units, several ranges, garbage) are 400 INVALID_PARAM; a range that starts past
the end is 416 with ``Content-Range: bytes */<size>``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from dfcommon.errors import DfError

_RANGE_RE = re.compile(r"^bytes=(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))$")


@dataclass(frozen=True)
class RangeSpec:
    first: int | None          # None for a suffix range
    last: int | None           # inclusive; None = to the end
    suffix: int | None = None  # bytes=-N

    def resolve(self, size: int) -> tuple[int, int]:
        """(start, end exclusive) inside a blob of ``size`` bytes; 416 when unsatisfiable."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise unsatisfiable(size)
            return max(0, size - self.suffix), size
        if self.first >= size:
            raise unsatisfiable(size)
        end = size if self.last is None else min(self.last + 1, size)
        return self.first, end


def unsatisfiable(size: int) -> DfError:
    return DfError("RANGE_NOT_SATISFIABLE", f"range not satisfiable for a blob of {size} bytes",
                   detail={"content_range": f"bytes */{size}"})


def parse_range(header: str | None) -> RangeSpec | None:
    if header is None:
        return None
    m = _RANGE_RE.match(header.strip().replace(" ", ""))
    if not m:
        raise DfError("INVALID_PARAM", f"invalid or unsupported Range header {header[:80]!r}: "
                                       "expected one range bytes=<first>-[<last>]")
    if m.group(3) is not None:
        return RangeSpec(None, None, int(m.group(3)))
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else None
    if last is not None and last < first:
        raise DfError("INVALID_PARAM", f"invalid Range header {header[:80]!r}: last byte before first")
    return RangeSpec(first, last)


def content_range(start: int, end: int, size: int | str) -> str:
    return f"bytes {start}-{end - 1}/{size}"
