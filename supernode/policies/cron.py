"""Cron expressions of policies: Harbor's 6 fields with seconds, the standard 5 fields, and ``@daily``-style
macros, turned into APScheduler ``CronTrigger``s.

Fields are ``[second] minute hour day-of-month month day-of-week``. Day-of-week follows cron (0 or 7 is
Sunday, 1 Monday), not APScheduler's numbering (0 is Monday); names (``mon-fri``) work as well. ``?`` is
accepted in the day fields, as in Harbor, and means ``*``.
"""
from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

from dfcommon.errors import DfError

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_DOW = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")
MAX_CRON = 200


def _dow_item(item: str) -> str:
    """One comma item of a cron day-of-week field, in APScheduler terms."""
    m = _NUMERIC_DOW.match(item)
    if not m:
        return item                                   # names such as mon-fri, or last/xth forms
    start, end, step = m.group(1), m.group(2), int(m.group(3) or 1)
    if step < 1:
        raise ValueError(f"day-of-week step must be positive in {item!r}")
    if start == "*":
        if end is not None:
            raise ValueError(f"bad day-of-week {item!r}")
        if step == 1:
            return "*"
        lo, hi = 0, 6
    else:
        lo = int(start)
        hi = int(end) if end is not None else (7 if m.group(3) else lo)
    if not (0 <= lo <= 7 and 0 <= hi <= 7) or hi < lo:
        raise ValueError(f"day-of-week {item!r} out of range (0-7, 0 and 7 are Sunday)")
    days = sorted({d % 7 for d in range(lo, hi + 1, step)})
    return ",".join(DAY_NAMES[d] for d in days)


def convert_dow(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    return ",".join(_dow_item(item) for item in field.split(","))


def split_cron(expr: str) -> dict:
    """The fields of ``expr`` as CronTrigger keyword arguments (ValueError with a clear message)."""
    text = " ".join(expr.split())
    text = MACROS.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"expected 5 fields (minute hour day month weekday) or 6 with seconds first, "
                         f"got {len(fields)}")
    second, minute, hour, day, month, dow = fields
    return {"second": second, "minute": minute, "hour": hour, "day": "*" if day == "?" else day,
            "month": month, "day_of_week": convert_dow(dow)}


def parse_cron(expr, timezone: str = "UTC") -> CronTrigger:
    """Build a trigger or raise ``DfError(INVALID_PARAM)`` saying what is wrong with ``expr``."""
    if not isinstance(expr, str) or not expr.strip():
        raise DfError("INVALID_PARAM", "cron: an expression is required")
    if len(expr) > MAX_CRON:
        raise DfError("INVALID_PARAM", f"cron: longer than {MAX_CRON} characters")
    try:
        return CronTrigger(timezone=timezone, **split_cron(expr))
    except (ValueError, TypeError, LookupError) as e:
        raise DfError("INVALID_PARAM", f"cron {expr.strip()!r}: {e}") from None


def validate_cron(expr, timezone: str = "UTC") -> str:
    """Return the normalised expression (single spaces) or raise ``DfError(INVALID_PARAM)``."""
    parse_cron(expr, timezone)
    return " ".join(expr.split())
