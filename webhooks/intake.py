"""The service behind the webhook endpoints: authorize -> parse -> filter -> enqueue.

It does no network I/O and no preheat work: a delivery costs one SQLite transaction,
so Harbor (3 s timeout) and registry:2 (1 s default timeout) get their 2xx quickly.
Every check happens before anything is queued: a delivery is taken whole or not at all.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from dfcommon.errors import DfError

from . import cloudevents, harbor, registry
from .auth import Authorizer, HeaderAuthorizer
from .config import WebhookConfig
from .events import ParseResult
from .queue import SqliteWorkQueue

log = logging.getLogger(__name__)

_REGISTRY_TYPES = (registry.CONTENT_TYPE, "application/json")


@dataclass(frozen=True)
class IntakeResult:
    accepted: int      # push events taken (newly queued + already queued duplicates)
    queued: int
    duplicates: int
    ignored: int       # events we do not act on (pulls, deletes, scans, quota, blobs, ...)

    def to_dict(self) -> dict:
        return asdict(self)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_json(body: bytes):
    if not body or not body.strip():
        raise DfError("INVALID_PARAM", "body is empty: expected a JSON document")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise DfError("INVALID_PARAM", f"body is not valid JSON: {e}") from None


class WebhookIntake:
    def __init__(self, queue: SqliteWorkQueue, *, harbor_auth: Authorizer, registry_auth: Authorizer,
                 hosts: registry.HostResolver, max_body_size: int = 1 << 20):
        self.queue = queue
        self.harbor_auth = harbor_auth
        self.registry_auth = registry_auth
        self.hosts = hosts
        self.max_body_size = max_body_size

    @classmethod
    def from_config(cls, conf: WebhookConfig, queue: SqliteWorkQueue, on_refused=None) -> "WebhookIntake":
        return cls(queue,
                   harbor_auth=HeaderAuthorizer(conf.harbor_auth, "harbor", on_refused),
                   registry_auth=HeaderAuthorizer(conf.registry_auth, "registry", on_refused),
                   hosts=registry.HostResolver(conf.registry_hosts, conf.default_registry),
                   max_body_size=conf.max_body_size)

    # -- receivers --------------------------------------------------------------------------
    def harbor(self, body: bytes, content_type: str | None, authorization: str | None) -> IntakeResult:
        """A Harbor delivery, Default or CloudEvents (chosen by Content-Type, else by body shape)."""
        self.harbor_auth.check(authorization)
        self._check_size(body)
        payload = decode_json(body)
        ctype = media_type(content_type)
        if ctype in (cloudevents.CONTENT_TYPE, cloudevents.BATCH_CONTENT_TYPE) \
                or cloudevents.looks_like_cloudevent(payload):
            parsed, fmt = cloudevents.parse_body(payload), "cloudevents"
        else:
            parsed, fmt = harbor.parse_default(payload), "default"
        return self._enqueue("harbor", fmt, parsed)

    def registry(self, body: bytes, content_type: str | None, authorization: str | None) -> IntakeResult:
        """A registry:2 notification envelope with 1..n events."""
        self.registry_auth.check(authorization)
        self._check_size(body)
        ctype = media_type(content_type)
        if ctype and ctype not in _REGISTRY_TYPES and not ctype.endswith("+json"):
            raise DfError("UNSUPPORTED_MEDIA_TYPE",
                          f"Content-Type {ctype!r} is not supported: send {registry.CONTENT_TYPE}")
        parsed = registry.parse_envelope(decode_json(body), self.hosts)
        return self._enqueue("registry", "envelope", parsed)

    # -- helpers ----------------------------------------------------------------------------
    def _check_size(self, body: bytes) -> None:
        if len(body) > self.max_body_size:
            raise DfError("BODY_TOO_LARGE", f"body exceeds {self.max_body_size} bytes")

    def _enqueue(self, receiver: str, fmt: str, parsed: ParseResult) -> IntakeResult:
        queued, dup = self.queue.enqueue_many(parsed.events) if parsed.events else (0, 0)
        result = IntakeResult(accepted=len(parsed.events), queued=queued, duplicates=dup,
                              ignored=parsed.ignored)
        for ev in parsed.events:
            log.info("webhook push receiver=%s format=%s image=%s digest=%s operator=%s",
                     receiver, fmt, ev.image, ev.digest, ev.operator or "-")
        log.debug("webhook delivery receiver=%s format=%s accepted=%d queued=%d duplicates=%d ignored=%d",
                  receiver, fmt, result.accepted, queued, dup, result.ignored)
        return result
