"""The composition root of the dfdaemon: ``create_app(config, services=None)``.

The app serves the registry mirror (``/v2/...``) and ``/healthz``, ``/_ping``, ``/metrics``, ``/debug/pulls``.
Extra blueprints (``blueprints=[f(services) -> Blueprint]``) let other parts add routes.
"""
from __future__ import annotations

from flask import Flask

from dfdaemon.debug import create_debug_blueprint
from dfdaemon.health import create_health_blueprint, install_request_metrics
from dfdaemon.mirror.errors import install_error_handlers
from dfdaemon.mirror.routes import create_mirror_blueprint

from .services import Services, build_services


def create_app(config, services: Services | None = None, blueprints=()) -> Flask:
    services = services or build_services(config)
    app = Flask("dfdaemon", static_folder=None)
    app.url_map.strict_slashes = False
    app.json.sort_keys = False
    app.extensions["services"] = services
    install_error_handlers(app)
    install_request_metrics(app, services.metrics)
    for factory in (create_health_blueprint, create_mirror_blueprint, create_debug_blueprint, *blueprints):
        app.register_blueprint(factory(services))
    return app


def services_of(app: Flask) -> Services:
    return app.extensions["services"]
