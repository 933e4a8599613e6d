"""Docker Distribution (registry:2) notification envelopes.

``{"events": [...]}`` with one event (distribution v3) or several (older 2.x batches).
Only ``push`` events of manifest media types are acted on; blob pushes, pulls, mounts
and deletes are counted as ignored. The registry host of an event is, in order: the
configured mapping for its ``request.host``, ``source.addr`` or ``source.instanceID``;
its ``request.host``; the host of ``target.url``; the configured default.
"""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlsplit

from .events import ACTION_PUSH, MANIFEST_MEDIA_TYPES, SOURCE_REGISTRY, ImageEvent, ParseResult
from . import validate as v

CONTENT_TYPE = "application/vnd.docker.distribution.events.v2+json"


class HostResolver:
    """Names the registry of an event from the event itself or the configured mapping."""

    def __init__(self, mapping: Mapping[str, str] | None = None, default: str = ""):
        self.mapping = dict(mapping or {})
        self.default = default

    def resolve(self, event: dict, where: str) -> str:
        request = event.get("request") if isinstance(event.get("request"), dict) else {}
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        target = event.get("target") if isinstance(event.get("target"), dict) else {}
        request_host = request.get("host") if isinstance(request.get("host"), str) else ""
        for key in (request_host, source.get("addr"), source.get("instanceID")):
            if isinstance(key, str) and key and key in self.mapping:
                return self.mapping[key]
        if request_host:
            return request_host
        url = target.get("url")
        if isinstance(url, str) and url:
            host = urlsplit(url).netloc
            if host:
                return host
        if self.default:
            return self.default
        raise v.bad(f"{where} names no registry host (no request.host or target.url) "
                    "and no default registry is configured")


def parse_envelope(payload, resolver: HostResolver) -> ParseResult:
    """Parse a whole envelope; any malformed event rejects the delivery (nothing is queued)."""
    body = v.mapping(payload, "body")
    if "events" not in body:
        raise v.bad("body.events is missing")
    events = body["events"]
    if not isinstance(events, list):
        raise v.bad("body.events must be a JSON array")
    result = ParseResult()
    for i, raw in enumerate(events):
        result.extend(parse_event(raw, f"body.events[{i}]", resolver))
    return result


def parse_event(raw, where: str, resolver: HostResolver) -> ParseResult:
    ev = v.mapping(raw, where)
    action = v.required_str(ev, "action", where)
    target = v.field_map(ev, "target", where)
    media_type = v.optional_str(target, "mediaType", f"{where}.target")
    if action != ACTION_PUSH or media_type not in MANIFEST_MEDIA_TYPES:
        return ParseResult(ignored=1)
    twhere = f"{where}.target"
    digest = v.digest_field(target, "digest", twhere)
    repository = v.required_str(target, "repository", twhere)
    tag = v.optional_str(target, "tag", twhere)
    actor = ev.get("actor") if isinstance(ev.get("actor"), dict) else {}
    operator = actor.get("name") if isinstance(actor.get("name"), str) else ""
    event = ImageEvent(
        action=ACTION_PUSH, registry=resolver.resolve(ev, where), repository=repository, tag=tag,
        digest=digest, media_type=media_type, operator=operator,
        occurred_at=v.rfc3339(ev.get("timestamp"), f"{where}.timestamp"),
        source=SOURCE_REGISTRY, event_id=v.optional_str(ev, "id", where))
    return ParseResult(events=[event])
