"""The registry mirror's HTTP surface: ``/v2/``, manifests, blobs, tags (and referrers), HEAD and GET.

Every request is parsed here (name, reference, digest, ``ns``), handed to one service and its
:class:`Reply` turned into a streaming response. Only pulls are served: other methods are 405.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, request
from werkzeug.datastructures import Headers

from dfcommon.digest import is_digest
from dfcommon.errors import DfError
from registry_plugin.oci.reference import valid_tag

from . import headers as hdr
from .errors import API_VERSION
from .upstreams import REGISTRY_HEADER

_PATH_RE = re.compile(r"^(?P<name>.+?)/(?:(?P<kind>manifests|blobs|referrers)/(?P<ref>[^/]+)|(?P<tags>tags/list))$")
METHODS = ["GET", "HEAD"]


class MirrorResponse(Response):
    default_mimetype = None         # never invent a Content-Type the origin did not send


def parse_path(rest: str) -> tuple[str, str, str]:
    """``<name>/manifests/<ref>`` etc. -> (name, kind, ref); NAME_INVALID/TAG_INVALID/DIGEST_INVALID on bad input."""
    if "\x00" in rest or "\\" in rest or len(rest) > 1024:
        raise DfError("NAME_INVALID", "invalid request path")
    m = _PATH_RE.match(rest)
    if not m:
        if rest.endswith("/blobs/uploads/") or "/blobs/uploads/" in rest:
            raise DfError("UNSUPPORTED", "the mirror is read-only: pushes go to the registry")
        raise DfError("NAME_INVALID", f"unknown registry API path /v2/{rest[:120]}")
    if m.group("tags"):
        return m.group("name"), "tags", ""
    kind, ref = m.group("kind"), m.group("ref")
    if kind in ("blobs", "referrers") and not is_digest(ref):
        raise DfError("DIGEST_INVALID", f"invalid digest {ref[:80]!r}: expected sha256:<64 hex>")
    if kind == "manifests" and not (is_digest(ref) or valid_tag(ref)):
        raise DfError("TAG_INVALID", f"invalid manifest reference {ref[:80]!r}")
    return m.group("name"), kind, ref


def _ns() -> str | None:
    values = request.args.getlist("ns")
    if len(values) > 1:
        raise DfError("NAME_INVALID", "more than one ns parameter")
    return values[0] if values else None


def create_mirror_blueprint(services) -> Blueprint:
    bp = Blueprint("mirror", __name__)

    def select(name: str):
        return services.selector.select(name, ns=_ns(), header=request.headers.get(REGISTRY_HEADER))

    def client_headers() -> Headers:
        return Headers(hdr.request_lines(request.environ))

    def respond(reply) -> Response:
        resp = MirrorResponse(reply.body, status=reply.status, headers=reply.headers, direct_passthrough=True)
        if API_VERSION[0] not in resp.headers:
            resp.headers[API_VERSION[0]] = API_VERSION[1]
        return resp

    @bp.route("/v2/", methods=METHODS)
    def base():
        target = select("")
        try:
            return respond(services.passthrough.forward(target, request.method, "/v2/", request.environ,
                                                        client_headers()))
        except DfError as e:
            if target.rule != "default" or e.code != "UPSTREAM_ERROR":
                raise
            # A bare ping (skopeo/podman with a path-prefixed mirror) names no registry: when the default
            # upstream is unreachable, answer it here so the client keeps using the mirror for its registries.
            resp = MirrorResponse("{}", status=200, content_type="application/json")
            resp.headers[API_VERSION[0]] = API_VERSION[1]
            return resp

    @bp.route("/v2/<path:rest>", methods=METHODS)
    def api(rest: str):
        name, kind, ref = parse_path(rest)
        target = select(name)
        services.metrics.registry_requests.labels(target.upstream.name, kind, request.method).inc()
        headers = client_headers()
        if kind == "blobs":
            if request.method == "HEAD":
                return respond(services.blobs.head(target, ref, headers, request.environ))
            return respond(services.blobs.get(target, ref, headers))
        path = f"/v2/{target.repository}/" + ("tags/list" if kind == "tags" else f"{kind}/{ref}")
        return respond(services.passthrough.forward(target, request.method, path, request.environ, headers))

    return bp
