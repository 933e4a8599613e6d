"""Harbor webhook payloads, CloudEvents 1.0 structured mode (``application/cloudevents+json``).

Harbor (>= 2.8) sends one JSON object with ``specversion, id, source, type,
datacontenttype, time, data`` and the extensions ``requestid`` and ``operator`` at top
level; ``data`` is the Default format's ``event_data``. Only ``harbor.artifact.pushed`` is
acted on. A batch (``application/cloudevents-batch+json``, a JSON array) is accepted too.
"""
from __future__ import annotations

from .events import SOURCE_HARBOR_CLOUDEVENTS, ParseResult
from .harbor import parse_push_data
from . import validate as v

PUSHED_TYPE = "harbor.artifact.pushed"
CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"


def parse_event(payload, where: str = "body") -> ParseResult:
    """Parse one structured-mode CloudEvent; raise DfError(INVALID_PARAM) naming what is wrong."""
    ev = v.mapping(payload, where)
    spec = v.required_str(ev, "specversion", where)
    if not spec.startswith("1."):
        raise v.bad(f"{where}.specversion {spec!r} is not supported (expected 1.0)")
    event_id = v.required_str(ev, "id", where)
    v.required_str(ev, "source", where)
    etype = v.required_str(ev, "type", where)
    if etype != PUSHED_TYPE:
        return ParseResult(ignored=1)
    ctype = v.optional_str(ev, "datacontenttype", where)
    if ctype and "json" not in ctype:
        raise v.bad(f"{where}.datacontenttype {ctype!r} is not JSON")
    if "data" not in ev and "data_base64" in ev:
        raise v.bad(f"{where}.data_base64 is not supported: send data as a JSON object")
    occurred_at = v.rfc3339(ev.get("time"), f"{where}.time")
    operator = v.optional_str(ev, "operator", where)
    data = v.field_map(ev, "data", where)
    events = parse_push_data(data, f"{where}.data", operator=operator, occurred_at=occurred_at,
                             source=SOURCE_HARBOR_CLOUDEVENTS, event_id=event_id)
    return ParseResult(events=events)


def parse_body(payload) -> ParseResult:
    """One event (object) or a batch (array of events)."""
    if isinstance(payload, list):
        if not payload:
            raise v.bad("body is an empty CloudEvents batch")
        result = ParseResult()
        for i, item in enumerate(payload):
            result.extend(parse_event(item, f"body[{i}]"))
        return result
    return parse_event(payload)


def looks_like_cloudevent(payload) -> bool:
    if isinstance(payload, list):
        return bool(payload) and all(isinstance(p, dict) and "specversion" in p for p in payload)
    return isinstance(payload, dict) and "specversion" in payload
