"""Map registry error replies (the OCI ``{"errors": [...]}`` envelope and bare statuses) to DfError."""
from __future__ import annotations

import json

from dfcommon.errors import DfError

# OCI / distribution error codes -> catalogue kinds
CODE_TO_KIND = {
    "MANIFEST_UNKNOWN": "MANIFEST_UNKNOWN",
    "BLOB_UNKNOWN": "BLOB_UNKNOWN",
    "NAME_UNKNOWN": "NAME_UNKNOWN",
    "NAME_INVALID": "NAME_INVALID",
    "DIGEST_INVALID": "DIGEST_INVALID",
    "UNAUTHORIZED": "UNAUTHORIZED",
    "DENIED": "DENIED",
    "TOOMANYREQUESTS": "TOO_MANY_REQUESTS",
    "TOO_MANY_REQUESTS": "TOO_MANY_REQUESTS",
}

STATUS_TO_KIND = {401: "UNAUTHORIZED", 403: "DENIED", 429: "TOO_MANY_REQUESTS", 416: "RANGE_NOT_SATISFIABLE"}
MAX_ERROR_BODY = 64 * 1024


def read_error_body(response) -> bytes:
    """At most MAX_ERROR_BODY bytes of an error reply, whether or not it was streamed."""
    try:
        if getattr(response, "_content_consumed", False):
            return (response.content or b"")[:MAX_ERROR_BODY]
        return response.raw.read(MAX_ERROR_BODY, decode_content=True) or b""
    except Exception:
        return b""


def parse_envelope(body: bytes) -> list[dict]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errs = doc.get("errors") if isinstance(doc, dict) else None
    return [e for e in errs if isinstance(e, dict)] if isinstance(errs, list) else []


def error_from_response(response, not_found_kind: str, what: str, sent_token: bool = False) -> DfError:
    """Build the DfError for a failed registry reply and close the response.

    ``not_found_kind`` names the 404 kind when the body does not say (HEAD replies have no body).
    ``sent_token``: a 401 with ``error="insufficient_scope"`` after presenting a token means DENIED.
    """
    status = response.status_code
    body = b"" if response.request is not None and response.request.method == "HEAD" else read_error_body(response)
    www = response.headers.get("WWW-Authenticate")
    response.close()
    errors = parse_envelope(body)
    code = str(errors[0].get("code", "")).upper() if errors else ""
    upstream_msg = str(errors[0].get("message", "")) if errors else ""
    kind = CODE_TO_KIND.get(code)
    if kind is None:
        if status == 404:
            kind = not_found_kind
        else:
            kind = STATUS_TO_KIND.get(status, "UPSTREAM_ERROR")
    if status == 401 and sent_token and www and "insufficient_scope" in www:
        kind = "DENIED"
    detail = {"status": status}
    if code:
        detail["upstream_code"] = code
    if www:
        detail["www_authenticate"] = www
    message = f"{what}: {upstream_msg or 'registry answered ' + str(status)}"
    return DfError(kind, message, detail=detail)
