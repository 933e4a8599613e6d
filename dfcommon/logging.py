"""Logging set-up: key=value text lines or JSON lines, one call per process."""
from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time
from dataclasses import dataclass, field

_REDACT = ("authorization", "password", "token", "secret")


@dataclass
class LogConfig:
    """Dragonfly's ``logConfig``: where the log file goes and how it is rotated."""
    path: str = ""                                              # "" = the component's default destination
    max_size: int = field(default=40, metadata={"aliases": ("maxSize",)})       # MiB per file; 0 = no rotation
    max_backups: int = field(default=1, metadata={"aliases": ("maxBackups",)})  # rotated files kept

    def check(self, where: str) -> "LogConfig":
        from .errors import ConfigError
        if self.max_size < 0 or self.max_backups < 0:
            raise ConfigError(f"{where}: maxSize and maxBackups must not be negative")
        return self


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


def setup_logging(level: str = "INFO", json_format: bool = False, stream=None, logfile: str | None = None,
                  rotate: LogConfig | None = None) -> None:
    """One handler on the root logger: ``logfile`` (rotated by ``rotate``'s size and backups) or a stream."""
    if logfile and rotate is not None and rotate.max_size > 0:
        os.makedirs(os.path.dirname(os.path.abspath(logfile)), exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(logfile, maxBytes=rotate.max_size << 20,
                                                       backupCount=rotate.max_backups)
    elif logfile:
        os.makedirs(os.path.dirname(os.path.abspath(logfile)), exist_ok=True)
        handler = logging.FileHandler(logfile)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
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
