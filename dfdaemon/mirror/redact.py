"""Keep credentials out of every log line.

:func:`install_redaction` wraps the process's log-record factory, so every record from every logger is
scrubbed when it is created, before any handler, filter or formatter (text or JSON) sees it: the formatted
message, the exception text (folded into the message, so that no formatter re-renders the live exception)
and the stack text (string ``extra`` fields, attached after the factory runs,
are scrubbed by a :class:`RedactingFilter` put on the root handlers present at install time: install after
the logging set-up). Scrubbed: ``Authorization`` values,
``Bearer``/``Basic`` credentials, JWTs, ``password``/``secret``/``token``/``auth`` key-value pairs (query
strings, JSON, dict reprs, key=value), passwords in URLs, and any literal secret registered with
:meth:`Redactor.add_secret` (configured registry passwords). :class:`RedactingFilter` does the same as a
handler filter for handlers that bypass the factory.
"""
from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_PATTERNS = (
    # Authorization: Bearer xyz / 'Authorization': 'Basic abc' / authorization=token
    (re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:([A-Za-z][\w-]*)\s+)?"
                r"[^\s\"',;}\]]+"),
     lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + MASK),
    # Bearer/Basic credentials anywhere (challenge parameters such as realm= stay readable)
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!realm\b)(?![\w-]+=\")(?-i:(?![a-z-]+\b))[A-Za-z0-9._~+/=-]{6,}"),
     lambda m: m.group(1) + " " + MASK),
    # JWTs wherever they appear
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), lambda m: MASK),
    # key=value / "key": "value" / key: value for secret-ish keys
    (re.compile(r"(?i)([\"']?\b[\w-]*(?:password|passwd|pwd|secret|token|auth|credential)s?[\"']?"
                r"\s*[:=]\s*[\"']?)(\([^)]*\)|\[[^\]]*\]|[^\s\"',&;{}()\[\]]+)"),
     lambda m: m.group(1) + MASK),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), lambda m: m.group(1) + MASK + "@"),
)


class Redactor:
    """Scrub credentials from text; extra literal secrets can be registered at run time."""

    def __init__(self, secrets=()):
        self._lock = threading.Lock()
        self._secrets: set = set()
        self._literal = None
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, value) -> None:
        """Also scrub this exact value (ignored when shorter than 4 characters: too many false hits)."""
        if not value or not isinstance(value, str) or len(value) < 4:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            alts = sorted(self._secrets, key=len, reverse=True)
            self._literal = re.compile("|".join(re.escape(s) for s in alts))

    def redact(self, text: str) -> str:
        if not text:
            return text
        literal = self._literal
        if literal is not None:
            text = literal.sub(MASK, text)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def scrub_record(self, record: logging.LogRecord) -> logging.LogRecord:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, scrubbed
            message = f"{record.msg} {record.args!r}"
        if record.exc_info or record.exc_text:
            # formatters may re-render exc_info from the live exception: fold the scrubbed text into the
            # message instead, so every formatter prints the same scrubbed traceback
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            message = f"{message}\n{text}" if text else message
            record.exc_info = None
            record.exc_text = None
        record.msg = self.redact(message)
        record.args = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, self.redact(value))
        return record


_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "", None, None)).keys()) | {
    "message", "asctime"}


class RedactingFilter(logging.Filter):
    """A handler/logger filter that scrubs each record it sees (never drops one)."""

    def __init__(self, redactor: Redactor | None = None):
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        self.redactor.scrub_record(record)
        return True


def installed_redactor() -> Redactor | None:
    """The redactor installed in this process, if any."""
    return getattr(logging.getLogRecordFactory(), "redactor", None)


def install_redaction(secrets=(), redactor: Redactor | None = None) -> Redactor:
    """Scrub every log record of the process from now on; idempotent (returns the installed redactor).

    ``secrets``: literal values (such as configured registry passwords) to scrub as well.
    """
    current = installed_redactor()
    if current is not None:
        for s in secrets:
            current.add_secret(s)
        return current
    red = redactor or Redactor()
    for s in secrets:
        red.add_secret(s)
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return red.scrub_record(previous(*args, **kwargs))

    factory.redactor = red
    factory.previous = previous
    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:  # ``extra`` fields are set after the factory ran
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(red))
    return red


def uninstall_redaction() -> None:
    """Restore the record factory that was in place before :func:`install_redaction`."""
    factory = logging.getLogRecordFactory()
    previous = getattr(factory, "previous", None)
    if previous is not None:
        logging.setLogRecordFactory(previous)
