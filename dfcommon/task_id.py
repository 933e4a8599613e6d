"""Task identity exactly as Dragonfly 1.x computes it (supernode task/manager_util.go)."""
from __future__ import annotations

import hashlib

KEY = ">I$pg-~AS~sP'rqu_`Oh&lz#9]\"=;nE%"
assert len(KEY) == 32


def filter_url_param(raw_url: str, filters) -> str:
    """Drop the query parameters whose key is in ``filters`` (kept ones stay in order)."""
    if "?" not in raw_url:
        return raw_url
    base, query = raw_url.split("?", 1)
    drop = {f for f in (filters or []) if f}
    if not drop:
        return raw_url
    kept = [p for p in query.split("&") if p.split("=", 1)[0] not in drop]
    return base + ("?" + "&".join(kept) if kept else "")


def split_filter(value: str | None) -> list[str]:
    """Split the ``-f 'a&b'`` flag value into keys."""
    return [v for v in (value or "").split("&") if v]


def task_id(task_url: str, md5: str = "", identifier: str = "", headers: dict | None = None) -> str:
    """sha256(K + taskURL + sign + [headers['Range']] + K) where sign = md5 or identifier."""
    sign = md5 or identifier or ""
    rng = (headers or {}).get("Range", "")
    return hashlib.sha256((KEY + task_url + sign + rng + KEY).encode()).hexdigest()


def preheat_id(url: str, filters, identifier: str = "", headers: dict | None = None) -> str:
    """Preheat record id: like the task id, over the filtered URL and identifier, never md5."""
    rng = (headers or {}).get("Range", "")
    return hashlib.sha256((KEY + filter_url_param(url, filters) + (identifier or "") + rng + KEY).encode()).hexdigest()


def is_task_id(value: str) -> bool:
    return len(value or "") == 64 and all(c in "0123456789abcdef" for c in value)
