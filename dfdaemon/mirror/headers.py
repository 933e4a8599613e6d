"""Request and response header lines, repeats kept.

WSGI joins repeated request headers into one comma-separated value. The dfdaemon's gevent handler
(:class:`dfdaemon.server.RawHeadersHandler`) stores the lines as received under
:data:`RAW_HEADERS_KEY`; other servers fall back to the environ, with ``Accept`` split back into
one line per media type.
"""
from __future__ import annotations

RAW_HEADERS_KEY = "dfdaemon.raw_headers"

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect"}
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "content-length", "x-dragonfly-registry"}
_SPLIT = {"accept"}


def request_lines(environ) -> list[tuple[str, str]]:
    raw = environ.get(RAW_HEADERS_KEY)
    if raw is not None:
        return [(str(k), str(v)) for k, v in raw]
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = "-".join(p.capitalize() for p in key[5:].split("_"))
            if name.lower() in _SPLIT and "," in value:
                out.extend((name, v.strip()) for v in value.split(",") if v.strip())
            else:
                out.append((name, value))
    return out


def forwardable(lines) -> list[tuple[str, str]]:
    """Lines to send upstream: everything but hop-by-hop, Host, Authorization and our own hints."""
    conn_tokens = {t.strip().lower() for k, v in lines if k.lower() == "connection" for t in v.split(",")}
    return [(k, v) for k, v in lines if k.lower() not in NOT_FORWARDED and k.lower() not in conn_tokens]


def get(lines, name: str) -> str | None:
    """First value of ``name`` (case-insensitive)."""
    low = name.lower()
    for k, v in lines:
        if k.lower() == low:
            return v
    return None


def as_dict(lines) -> dict:
    """Case-preserving dict view for callees that want one value per name (repeats joined by ``,``)."""
    out: dict = {}
    for k, v in lines:
        match = next((e for e in out if e.lower() == k.lower()), None)
        if match is None:
            out[k] = v
        else:
            out[match] = f"{out[match]},{v}"
    return out


def response_lines(upstream_headers) -> list[tuple[str, str]]:
    """Upstream response headers to relay to the client, repeats kept, hop-by-hop dropped."""
    items = upstream_headers.items()
    return [(k, v) for k, v in items if k.lower() not in HOP_BY_HOP]
