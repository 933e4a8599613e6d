"""The composition root of the supernode API: ``create_app(config, services=None)``.

Every route is also served under ``/v<version>`` (``/v1.0/peer/registry``), as Dragonfly's
router registers them; ``/api/v1`` routes live in their own blueprint.
"""
from __future__ import annotations

import re
import time

from flask import Flask, g, request

from supernode.api import create_peer_blueprint, create_system_blueprint, create_v1_blueprint, install_error_handlers
from supernode.api.harbor_df2 import create_df2_blueprint
from supernode.api.preheat import create_preheat_blueprint
from supernode.preheat.wiring import install as install_preheat
from supernode.api.policies import create_policies_blueprint
from supernode.auth.wiring import install_auth
from supernode.piece_digests import install_piece_digests
from supernode.cluster.api import create_cluster_blueprint

from .services import Services, build_services

_VERSION_PREFIX = re.compile(r"^/v[0-9][0-9.]*(/.*)$")


class VersionPrefix:
    """WSGI middleware: ``/v1.0/<route>`` is served as ``/<route>``."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        m = _VERSION_PREFIX.match(environ.get("PATH_INFO", ""))
        if m:
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"][:m.start(1)]
            environ["PATH_INFO"] = m.group(1)
        return self.app(environ, start_response)


def _install_metrics(app: Flask, metrics) -> None:
    @app.before_request
    def _start():
        g.started = time.monotonic()

    @app.after_request
    def _record(resp):
        handler = request.url_rule.rule if request.url_rule is not None else "unmatched"    # a route, not a URL
        child = metrics.child
        child(metrics.http_requests, str(resp.status_code), handler).inc()
        child(metrics.http_duration, handler).observe(time.monotonic() - g.get("started", time.monotonic()))
        child(metrics.http_request_size, handler).observe(request.content_length or 0)
        if resp.content_length is not None:
            child(metrics.http_response_size, handler).observe(resp.content_length)
        return resp


def create_app(config, services: Services | None = None, blueprints=()) -> Flask:
    """Build the API app. ``blueprints`` are extra factories ``f(services) -> Blueprint``.

    The preheat engine, the provider auth and the webhook service are built here (on ``services.extras``);
    their background loops start and stop with the server (``supernode.server``)."""
    services = services or build_services(config)
    preheat = install_preheat(services)
    app = Flask("supernode", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_size
    app.json.sort_keys = False
    app.extensions["services"] = services
    install_error_handlers(app)
    _install_metrics(app, services.metrics)
    install_auth(app, services)         # bearer tokens and peer tokens when auth.enabled; /api/v1/auth/keys
    install_piece_digests(services)     # fast_digest: pieceDigest next to pieceMd5 for clients that offer it
    for factory in (create_system_blueprint, create_peer_blueprint, create_v1_blueprint,
                    create_preheat_blueprint, create_df2_blueprint, *blueprints,
                    create_policies_blueprint, create_cluster_blueprint):
        app.register_blueprint(factory(services))
    if preheat.webhooks is not None:
        app.register_blueprint(preheat.webhooks.blueprint())
    app.wsgi_app = VersionPrefix(app.wsgi_app)
    return app


def services_of(app: Flask) -> Services:
    return app.extensions["services"]
