"""Run a supernode: the API on ``port`` and the piece server on ``download_port`` (both gevent.pywsgi),
plus the GC loops; a clean stop on SIGINT/SIGTERM.

Call :func:`supernode.wsgi.patch` before importing this module in a process entry point.
"""
from __future__ import annotations

import logging
import signal
import threading

from dfcommon.wsgi_server import NoDelayWSGIServer as WSGIServer
from supernode.app import create_app
from supernode.auth.wiring import auth_of
from supernode.gc import GarbageCollector
from supernode.piece_server import create_piece_server
from supernode.upload_pacer import pacer_from_config
from supernode.preheat.wiring import components_of
from supernode.policies.service import policy_service_of
from supernode.services import Services, build_services
from supernode.cluster.node import cluster_of
from supernode.cluster.wiring import wrap_piece_server

log = logging.getLogger(__name__)


def listener_limits(config, metrics):
    """Header size, request head time and slow-client timeout of both listeners, refusals counted."""
    from dfcommon.limits import ListenerLimits
    return ListenerLimits(config.request_head_timeout, config.client_read_timeout, config.max_header_size,
                          on_limit=lambda kind: metrics.limit_refused.labels(kind).inc())


class _AccessLog:
    """gevent's access log through logging (debug level), one line per request."""

    def write(self, line: str) -> None:
        log.debug("access %s", line.rstrip())


class SupernodeServer:
    def __init__(self, config, services: Services | None = None):
        self.config = config
        self.services = services or build_services(config)
        self.app = create_app(config, self.services)
        pacer = pacer_from_config(config)              # upload_rate: the piece server's pace (None = unpaced)
        self.piece_app = create_piece_server(self.services.storage, self.services.metrics,
                                             pacer.acquire if pacer is not None else None,
                                             on_sent=self.services.manager.supernode_sent)
        self.piece_app = wrap_piece_server(self.services, self.piece_app,       # cluster: relay from other members
                                           on_sent=self.services.manager.supernode_sent)
        auth = auth_of(self.services)
        if auth is not None:
            self.piece_app = auth.guard_pieces(self.piece_app)     # peer tokens when auth.enabled
        self._tls = auth.server_context() if auth is not None else None
        self.gc = GarbageCollector(config, self.services)
        self._servers: list[WSGIServer] = []
        self._stopped = threading.Event()
        self._finished = threading.Event()      # set when stop() has run to its end

    @property
    def port(self) -> int:
        return self._servers[0].server_port if self._servers else self.config.port

    @property
    def download_port(self) -> int:
        return self._servers[1].server_port if len(self._servers) > 1 else self.config.download_port

    def start(self, listen: bool = True) -> None:
        """Start the background services and (unless ``listen`` is False, for an external WSGI server
        that serves ``self.app``) the API and piece listeners."""
        host = self.config.listen_ip
        policy_service_of(self.services).start()        # before the API serves: policy changes reach the jobs
        cluster = cluster_of(self.services)
        if cluster is not None:
            cluster.start()                 # a member (heartbeat in Redis) before the API serves
        if listen:
            for port, app in ((self.config.port, self.app), (self.config.download_port, self.piece_app)):
                tls = {"ssl_context": self._tls} if self._tls is not None else {}
                # no access log object unless DEBUG is on: gevent formats each request's line (a time stamp
                # and the request line) before handing it over, a cost per request for a line that is dropped
                access = _AccessLog() if log.isEnabledFor(logging.DEBUG) else None
                server = WSGIServer((host, port), app, log=access, error_log=_AccessLog(),
                                    limits=listener_limits(self.config, self.services.metrics), **tls)
                server.start()
                self._servers.append(server)
        self.gc.start()
        background = components_of(self.services)
        if background is not None:
            background.start()          # preheat record expiry, webhook dispatcher
        if listen:
            log.info("supernode listening api=%s:%d pieces=%s:%d tls=%s", host, self.port, host, self.download_port,
                     self._tls is not None)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            for server in self._servers:
                server.stop(timeout=2)
            self.gc.stop()
            policy_service_of(self.services).stop()
            background = components_of(self.services)
            if background is not None:
                background.stop()       # the webhook dispatcher hands unfinished work back to its queue
            self.services.close()
            log.info("supernode stopped")
        finally:
            self._finished.set()

    def reload_tls(self) -> bool:
        """SIGHUP: load ``auth.tls_cert``/``tls_key`` again into the listeners' TLS context. New connections get
        the new certificate; open connections (transfers under way) keep theirs. A bad pair keeps the old one."""
        if self._tls is None:
            return False
        import ssl
        conf = self.config.auth
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(conf.tls_cert, conf.tls_key)
            self._tls.load_cert_chain(conf.tls_cert, conf.tls_key)
        except (OSError, ssl.SSLError) as e:
            log.warning("tls reload failed, the old certificate stays cert=%s error=%s", conf.tls_cert, e)
            return False
        log.info("tls certificate reloaded cert=%s", conf.tls_cert)
        return True

    def serve_forever(self) -> None:
        """Start, then block until SIGINT/SIGTERM (or :meth:`stop`) and the stop has finished, so the
        process does not exit while the stop still hands work back and closes its stores."""
        import gevent
        self.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, lambda: gevent.spawn(self.stop))
        gevent.signal_handler(signal.SIGHUP, self.reload_tls)     # new TLS certificate, nothing dropped
        while not self._finished.is_set():
            gevent.sleep(0.2)
