"""Run a dfdaemon: the mirror app on ``port`` (gevent.pywsgi with TCP_NODELAY and os.sendfile for cached
blobs, TLS with certpem/keypem), the embedded upload server for peers (never exits while the dfdaemon
runs), a clean stop on SIGINT/SIGTERM.

Call :func:`dfdaemon.wsgi.patch` before importing this module in a process entry point.
"""
from __future__ import annotations

import logging
import signal
import threading

from dfcommon.wsgi_server import NoDelayWSGIServer as WSGIServer
from dfcommon.wsgi_server import SendfileHandler
from dfdaemon.app import create_app
from dfdaemon.mirror.flight import StreamAborted
from dfdaemon.mirror.headers import RAW_HEADERS_KEY
from dfdaemon.services import Services, build_services

log = logging.getLogger(__name__)


class RawHeadersMixin:
    """Keeps the request header lines as received (WSGI joins repeats) and drops aborted streams quietly."""

    def handle(self):
        guard = getattr(self.server, "client_guard", None)
        client_ip = self.client_address[0] if isinstance(self.client_address, tuple) else str(self.client_address)
        if guard is not None and not guard.allows(client_ip):
            guard.refuse(self.socket, self.rfile, client_ip)
            self.close_connection = True
            return None
        return super().handle()

    def get_environ(self):
        env = super().get_environ()
        env[RAW_HEADERS_KEY] = [(k, v) for k, v in self.headers.items()]
        return env

    def handle_error(self, t, v, tb):
        if t is not None and issubclass(t, StreamAborted):
            log.warning("response aborted path=%s reason=%s", getattr(self, "path", "?"), v)
            self.close_connection = True
            return
        super().handle_error(t, v, tb)


class RawHeadersHandler(RawHeadersMixin, SendfileHandler):
    """Cached blobs (:class:`~dfcommon.wsgi_server.FileRange` bodies) go out with ``os.sendfile``."""


def handler_for(handler_class=None):
    """The handler to serve with: ours, or ``handler_class`` (e.g. the proxy's CONNECT handler) with our mixin."""
    if handler_class is None:
        return RawHeadersHandler
    if issubclass(handler_class, RawHeadersMixin):
        return handler_class
    return type(f"Mirror{handler_class.__name__}", (RawHeadersMixin, handler_class), {})


class _AccessLog:
    def write(self, line: str) -> None:
        log.debug("access %s", line.rstrip())


class DfdaemonServer:
    def __init__(self, config, services: Services | None = None, handler_class=None, app=None):
        from dfdaemon.client_guard import check_listener
        self.config = config
        self.client_guard = check_listener(config)      # ConfigError: an open listener off loopback
        self.services = services or build_services(config)
        self.app = app or create_app(config, self.services)
        self.handler_class = handler_for(handler_class)
        self._server: WSGIServer | None = None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else self.config.port

    def start(self) -> None:
        upload = self.services.upload_server
        if upload is not None:
            upload.start()
        ssl = {"certfile": self.config.certpem, "keyfile": self.config.keypem} if self.config.certpem else {}
        try:
            self._server = WSGIServer((self.config.host_ip, self.config.port), self.app, log=_AccessLog(),
                                      error_log=_AccessLog(), handler_class=self.handler_class, **ssl)
            if self.client_guard is not None:
                self.client_guard.on_refused = self.services.metrics.clients_refused.inc
            self._server.client_guard = self.client_guard
            self._server.start()
        except BaseException:
            if upload is not None:
                upload.stop()
            raise
        log.info("dfdaemon listening address=%s:%d tls=%s upload_port=%d default_upstream=%s",
                 self.config.host_ip, self.port, bool(ssl), self.services.upload_port(),
                 self.services.selector.default.url)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._server is not None:
            self._server.stop(timeout=2)
        if self.services.upload_server is not None:
            self.services.upload_server.stop()
        self.services.close()
        log.info("dfdaemon stopped")

    def serve_forever(self) -> None:
        """Start, then block until SIGINT/SIGTERM (or :meth:`stop`)."""
        import gevent
        self.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, lambda: gevent.spawn(self.stop))
        while not self._stopped.is_set():
            gevent.sleep(0.2)
