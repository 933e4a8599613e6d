"""The upload server process: the WSGI app on a gevent server, the GC walk and the idle exit."""
from __future__ import annotations

import logging

import gevent
from gevent import socket as gsocket
from gevent.event import Event

from dfcommon.wsgi_server import NoDelayWSGIServer as WSGIServer

from .app import Authorize, UploadApp
from .gc import DiskLimits, UploadGC
from .listen import bind_listener, candidate_ports  # noqa: F401 - candidate_ports is re-exported
from .meta import clear_service_port
from .notify import HttpServiceDown, ServiceDownNotifier
from .service import UploadService

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0


class UploadServer:
    """Serves ``data_dir`` to peers until stopped or idle for ``alive`` seconds (0 = never).

    Every ``gc_interval`` seconds files older than ``expire`` are removed, and the least recently used
    ones too while ``disk_limits`` are exceeded (:class:`UploadGC`).
    On stop it sends service-down for finished tasks, deletes their files and, when
    ``meta_path`` is set, writes servicePort 0 there.
    """

    def __init__(self, data_dir: str, ip: str = "0.0.0.0", port: int = 0, alive: float = 300.0,
                 expire: float = 180.0, total_limit: int = 0, meta_path: str | None = None,
                 gc_interval: float = 15.0, idle_check: float = 1.0, authorize: Authorize | None = None,
                 notifier: ServiceDownNotifier | None = None, service: UploadService | None = None,
                 listener=None, trusted_keys_dir: str | None = None, ssl_context=None,
                 disk_limits: DiskLimits | None = None):
        self.service = service if service is not None else UploadService(data_dir, total_limit=total_limit)
        if authorize is None and trusted_keys_dir:
            from .peer_auth import peer_authorizer       # peer tokens, once a supernode key is trusted
            authorize = peer_authorizer(trusted_keys_dir, self.service)
        self.app = UploadApp(self.service, authorize=authorize)
        self.ssl_context = ssl_context                   # TLS for peers (None = plain HTTP)
        self.gc = UploadGC(self.service, notifier or HttpServiceDown(), expire, limits=disk_limits)
        self.ip, self.requested_port = ip or "0.0.0.0", int(port or 0)
        self.alive, self.gc_interval = float(alive), float(gc_interval)
        self.idle_check = min(float(idle_check), max(self.alive / 4, 0.05)) if self.alive > 0 else idle_check
        self.meta_path = meta_path
        self._listener = listener            # a socket bound by the launcher (``--listen-fd``), else bind here
        self._server: WSGIServer | None = None
        self._loops: list[gevent.Greenlet] = []
        self._stopping = False
        self._stopped = Event()

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else 0

    def start(self) -> int:
        """Bind and start serving; returns the port."""
        self._server = self._bind()
        self.service.mark_active()
        self._loops = [gevent.spawn(self._gc_loop)]
        if self.alive > 0:
            self._loops.append(gevent.spawn(self._idle_loop))
        log.info("upload server listening ip=%s port=%d data=%s tls=%s", self.ip, self.port, self.service.data_dir,
                 self.ssl_context is not None)
        return self.port

    def _bind(self) -> WSGIServer:
        listener = self._listener if self._listener is not None else bind_listener(self.ip, self.requested_port)
        if not isinstance(listener, gsocket.socket):      # a stdlib socket would block the hub in accept()
            listener = gsocket.socket(listener.family, listener.type, fileno=listener.detach())
        tls = {"ssl_context": self.ssl_context} if self.ssl_context is not None else {}
        server = WSGIServer(listener, self.app, log=None, error_log=log, **tls)
        server.start()
        return server

    def _gc_loop(self) -> None:
        while True:
            gevent.sleep(self.gc_interval)
            try:
                self.gc.run_once()
            except Exception:
                log.exception("upload gc walk failed")

    def _idle_loop(self) -> None:
        while True:
            gevent.sleep(self.idle_check)
            if self.service.idle_seconds() >= self.alive:
                log.info("upload server idle, exiting port=%d alive=%.1fs", self.port, self.alive)
                gevent.spawn(self.stop)
                return

    def stop(self) -> None:
        """Stop serving, release every task, clear host.meta. Idempotent."""
        if self._stopping:
            self._stopped.wait()
            return
        self._stopping = True
        port = self.port
        try:
            current = gevent.getcurrent()
            for g in self._loops:
                if g is not current:
                    g.kill(block=False)
            if self._server is not None:
                self._server.stop(timeout=STOP_TIMEOUT)
            self.gc.release_all()
            if self.meta_path and port:
                clear_service_port(self.meta_path, port)
            log.info("upload server stopped port=%d", port)
        finally:
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block (cooperatively) until the server has stopped."""
        return self._stopped.wait(timeout)

    def serve_forever(self) -> None:
        if self._server is None:
            self.start()
        self.wait()

