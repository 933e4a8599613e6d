"""Parsing of rates/sizes (``20M``, ``64KB``, ``1.5G``) and durations (``3m``, ``15s``, ``2h``)."""
from __future__ import annotations

import math
import re

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B?)\s*$", re.I)
_MULT = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DUR_MULT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(value) -> int:
    """Bytes from ``20M``, ``20MB``, ``64k``, ``1.5G`` or a bare number of bytes (Dragonfly's rate syntax)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"invalid size or rate {value!r}: must be a finite number")
    if isinstance(value, (int, float)):
        return int(value)
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(f"invalid size or rate {value!r}: use a number with an optional K, M, G or T suffix")
    return int(float(m.group(1)) * _MULT[m.group(2).upper()])


def parse_duration(value) -> float:
    """Seconds from ``3m``, ``15s``, ``1h30m``, ``500ms`` or a bare number of seconds."""
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = None
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds")
        return number
    pos, total = 0, 0.0
    for m in _DUR_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DUR_MULT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {value!r}: use e.g. 15s, 3m, 2h")
    return total


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}"
