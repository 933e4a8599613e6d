"""Logging set-up: key=value text lines or JSON lines, one call per process."""
from __future__ import annotations

import json
import logging
import sys
import time

_REDACT = ("authorization", "password", "token", "secret")


class KeyValueFormatter(logging.Formatter):
    def format(self, record):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        base = f"{ts}.{int(record.msecs):03d}Z {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


class JsonFormatter(logging.Formatter):
    def format(self, record):
        doc = {"time": record.created, "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def setup_logging(level: str = "INFO", json_format: bool = False, stream=None, logfile: str | None = None) -> None:
    handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else KeyValueFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    for noisy in ("urllib3", "requests", "werkzeug", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def redact_headers(headers) -> dict:
    """A copy of ``headers`` safe to log: credentials replaced by ``<redacted>``."""
    items = headers.items() if hasattr(headers, "items") else headers
    return {k: ("<redacted>" if any(r in k.lower() for r in _REDACT) else v) for k, v in items}
