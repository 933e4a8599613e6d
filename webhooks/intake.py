"""The service behind the webhook endpoints: authorize -> parse -> filter -> enqueue.

It does no network I/O and no preheat work: a delivery costs one SQLite transaction,
so Harbor (3 s timeout) and registry:2 (1 s default timeout) get their 2xx quickly.
Every check happens before anything is queued: a delivery is taken whole or not at all.

``seen`` (optional, an object with ``first_time(key)`` and ``forget(key)``): a memory shared by several
supernodes, asked before the queue for each event's dedup key, so that a delivery reaching two members is
queued on one only (the supernode cluster gives one in Redis). Without it the queue's own dedup window is the
only one, as for a single supernode.
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
                 hosts: registry.HostResolver, max_body_size: int = 1 << 20, seen=None):
        self.queue = queue
        self.seen = seen
        self.harbor_auth = harbor_auth
        self.registry_auth = registry_auth
        self.hosts = hosts
        self.max_body_size = max_body_size

    @classmethod
    def from_config(cls, conf: WebhookConfig, queue: SqliteWorkQueue, on_refused=None,
                    seen=None) -> "WebhookIntake":
        return cls(queue,
                   harbor_auth=HeaderAuthorizer(conf.harbor_auth, "harbor", on_refused),
                   registry_auth=HeaderAuthorizer(conf.registry_auth, "registry", on_refused),
                   hosts=registry.HostResolver(conf.registry_hosts, conf.default_registry),
                   max_body_size=conf.max_body_size, seen=seen)

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
    def _first_in_cluster(self, events):
        """(events no other member took, how many another member took); all or nothing on a failure."""
        if self.seen is None or not events:
            return list(events), 0
        fresh, dup = [], 0
        try:
            for ev in events:
                if self.seen.first_time(ev.dedup_key()):
                    fresh.append(ev)
                else:
                    dup += 1
        except BaseException:
            self._forget(fresh)
            raise
        return fresh, dup

    def _forget(self, events) -> None:
        if self.seen is None:
            return
        for ev in events:
            try:
                self.seen.forget(ev.dedup_key())
            except Exception:                   # noqa: BLE001 - best effort: the key expires anyway
                log.warning("webhook dedup key not released image=%s digest=%s", ev.image, ev.digest)

    def _check_size(self, body: bytes) -> None:
        if len(body) > self.max_body_size:
            raise DfError("BODY_TOO_LARGE", f"body exceeds {self.max_body_size} bytes")

    def _enqueue(self, receiver: str, fmt: str, parsed: ParseResult) -> IntakeResult:
        events, shared_dup = self._first_in_cluster(parsed.events)
        try:
            queued, dup = self.queue.enqueue_many(events) if events else (0, 0)
        except BaseException:
            self._forget(events)
            raise
        dup += shared_dup
        result = IntakeResult(accepted=len(parsed.events), queued=queued, duplicates=dup,
                              ignored=parsed.ignored)
        for ev in parsed.events:
            log.info("webhook push receiver=%s format=%s image=%s digest=%s operator=%s",
                     receiver, fmt, ev.image, ev.digest, ev.operator or "-")
        log.debug("webhook delivery receiver=%s format=%s accepted=%d queued=%d duplicates=%d ignored=%d",
                  receiver, fmt, result.accepted, queued, dup, result.ignored)
        return result
