"""Small checks shared by the payload parsers: each failure is a 400 naming the field."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from dfcommon.digest import is_digest
from dfcommon.errors import DfError

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


def bad(message: str) -> DfError:
    return DfError("INVALID_PARAM", message)


def mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise bad(f"{where} must be a JSON object")
    return value


def field_map(obj: dict, key: str, where: str) -> dict:
    if key not in obj or obj[key] is None:
        raise bad(f"{where}.{key} is missing")
    return mapping(obj[key], f"{where}.{key}")


def required_str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise bad(f"{where}.{key} is missing")
    if not isinstance(value, str):
        raise bad(f"{where}.{key} must be a string")
    return value


def optional_str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad(f"{where}.{key} must be a string")
    return value


def digest_field(obj: dict, key: str, where: str) -> str:
    value = required_str(obj, key, where)
    if not is_digest(value):
        raise bad(f"{where}.{key} is not a digest (expected sha256:<64 hex>): {value[:80]!r}")
    return value


def non_empty_list(obj: dict, key: str, where: str) -> list:
    value = obj.get(key)
    if value is None:
        raise bad(f"{where}.{key} is missing")
    if not isinstance(value, list):
        raise bad(f"{where}.{key} must be a JSON array")
    if not value:
        raise bad(f"{where}.{key} is empty")
    return value


def unix_seconds(obj: dict, key: str, where: str) -> float:
    value = obj.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(f"{where}.{key} must be a number of seconds")
    return float(value)


def rfc3339(value, where: str) -> float:
    """Unix seconds from an RFC 3339 time (nanosecond fractions allowed); "" or None -> 0."""
    if value in (None, ""):
        return 0.0
    m = _RFC3339.match(value) if isinstance(value, str) else None
    if not m:
        raise bad(f"{where} is not an RFC 3339 time: {str(value)[:60]!r}")
    date, clock, frac, zone = m.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        dt = datetime.fromisoformat(f"{date}T{clock}{zone}")
    except ValueError:
        raise bad(f"{where} is not an RFC 3339 time: {value[:60]!r}") from None
    seconds = dt.astimezone(timezone.utc).timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)
