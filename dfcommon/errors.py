"""The one error catalogue of the project.

Every error a component reports to a client is a :class:`DfError` built from an entry
of :data:`CATALOGUE`. An entry carries a stable string code, the Dragonfly numeric
result code used on the legacy peer endpoints, the HTTP status, and a default message.
Each app has one error handler that renders a DfError in the envelope of the surface
it was raised on (Dragonfly ResultInfo, OCI ``{"errors": [...]}``, or a JSON problem).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    code: str          # stable identifier, also the OCI error code where one exists
    df_code: int       # Dragonfly 1.x result code (pkg/constants/dfget_super_code.go)
    http_status: int
    message: str


def _k(code, df_code, http_status, message):
    return ErrorKind(code, df_code, http_status, message)


CATALOGUE = {
    # generic
    "INVALID_PARAM": _k("INVALID_PARAM", 501, 400, "invalid parameter"),
    "NOT_FOUND": _k("NOT_FOUND", 502, 404, "not found"),
    "BODY_TOO_LARGE": _k("BODY_TOO_LARGE", 501, 413, "request body too large"),
    "UNAUTHORIZED": _k("UNAUTHORIZED", 608, 401, "authentication required"),
    "DENIED": _k("DENIED", 608, 403, "access denied"),
    "METHOD_NOT_ALLOWED": _k("METHOD_NOT_ALLOWED", 501, 405, "method not allowed"),
    "INTERNAL": _k("INTERNAL", 500, 500, "internal error"),
    "UNAVAILABLE": _k("UNAVAILABLE", 500, 503, "service unavailable"),
    "TOO_MANY_REQUESTS": _k("TOOMANYREQUESTS", 603, 429, "too many requests"),
    # scheduler / task
    "TASK_CONFLICT": _k("TASK_CONFLICT", 606, 409, "task id conflict"),
    "URL_NOT_REACHABLE": _k("URL_NOT_REACHABLE", 607, 502, "source url not reachable"),
    "SOURCE_AUTH": _k("SOURCE_AUTH", 608, 401, "source requires authentication"),
    "SOURCE_ERROR": _k("SOURCE_ERROR", 610, 502, "source error"),
    "FETCH_REFUSED": _k("FETCH_REFUSED", 501, 403, "destination refused by the fetch policy"),
    "CDN_FAILED": _k("CDN_FAILED", 500, 502, "cdn download failed"),
    "PEER_WAIT": _k("PEER_WAIT", 602, 200, "wait"),
    "RANGE_NOT_SATISFIABLE": _k("RANGE_NOT_SATISFIABLE", 501, 416, "range not satisfiable"),
    # OCI surface
    "BLOB_UNKNOWN": _k("BLOB_UNKNOWN", 502, 404, "blob unknown to registry"),
    "MANIFEST_UNKNOWN": _k("MANIFEST_UNKNOWN", 502, 404, "manifest unknown"),
    "NAME_INVALID": _k("NAME_INVALID", 501, 400, "invalid repository name"),
    "NAME_UNKNOWN": _k("NAME_UNKNOWN", 502, 404, "repository name not known to registry"),
    "DIGEST_INVALID": _k("DIGEST_INVALID", 501, 400, "provided digest did not match uploaded content"),
    "UPSTREAM_ERROR": _k("UPSTREAM_ERROR", 500, 502, "upstream registry error"),
    "TAG_INVALID": _k("TAG_INVALID", 501, 400, "invalid manifest reference"),
    "UNSUPPORTED": _k("UNSUPPORTED", 501, 405, "the operation is unsupported"),
    # preheat / webhook
    "PREHEAT_EXISTS": _k("PREHEAT_EXISTS", 208, 208, "preheat task already exists"),
    "UNSUPPORTED_MEDIA_TYPE": _k("UNSUPPORTED_MEDIA_TYPE", 501, 415, "unsupported media type"),
    # preheat policies
    "POLICY_CONFLICT": _k("POLICY_CONFLICT", 606, 409, "policy already exists"),
}


class DfError(Exception):
    """An error with a catalogue entry, a message and optional detail for the client."""

    def __init__(self, kind: str, message: str | None = None, detail=None, http_status: int | None = None):
        if kind not in CATALOGUE:
            raise KeyError(f"unknown error kind {kind!r}")
        self.kind = CATALOGUE[kind]
        self.message = message or self.kind.message
        self.detail = detail
        self.http_status = http_status or self.kind.http_status
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.kind.code

    @property
    def df_code(self) -> int:
        return self.kind.df_code

    def problem(self) -> dict:
        """JSON problem object used outside the peer and OCI surfaces."""
        body = {"code": self.code, "message": self.message, "status": self.http_status}
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    def oci(self) -> dict:
        return {"errors": [{"code": self.code, "message": self.message, "detail": self.detail}]}

    def __repr__(self):
        return f"DfError({self.code}, {self.message!r})"


class ConfigError(Exception):
    """Bad configuration: unknown keys, wrong types, unknown strategy names. Fatal at start-up."""
