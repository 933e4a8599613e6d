"""A gevent.pywsgi handler that adds HTTP(S) proxy mode in front of the mirror's WSGI app.

- ``CONNECT host:port``: a blind TCP tunnel, or, for a host matching ``hijack_https.hosts``,
  TLS interception with a leaf certificate for that host; the decrypted requests are then
  served through the proxy rules like absolute-URL requests.
- ``GET http://host/path`` (absolute URL): served by the proxy app (rules, P2P or direct).
- A relative path (``/v2/...``): falls through unchanged to the server's WSGI application.

Bind the handler to a :class:`dfdaemon.proxy.service.Proxy` with ``proxy.handler_class()``.
"""
from __future__ import annotations

import logging
import ssl

from gevent.pywsgi import WSGIHandler

from dfcommon.errors import DfError

from .app import ENV_HEADERS, ENV_URL, error_parts, error_response
from .forward import StreamAborted
from .tunnel import open_upstream, parse_target, splice

log = logging.getLogger(__name__)

ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"


def is_absolute(path: str) -> bool:
    head = (path or "")[:8].lower()
    return head.startswith("http://") or head.startswith("https://")


class ProxyHandler(WSGIHandler):
    """Intercepts CONNECT and absolute-URL requests; everything else goes to the WSGI app."""

    proxy = None                 # the Proxy service, set on the bound subclass
    mitm_origin: str | None = None   # "https://host[:port]" on a handler serving an intercepted TLS stream

    def handle_one_response(self):
        if self.proxy is None:          # not bound to a Proxy: a plain WSGI handler
            return super().handle_one_response()
        if self.mitm_origin is not None:
            if self.command == "CONNECT" or not (self.path or "").startswith("/"):
                return self._reply(DfError("INVALID_PARAM", "only origin-form requests are allowed in an "
                                                            "intercepted TLS connection"))
            return self._proxied(self.mitm_origin + self.path)
        if self.command == "CONNECT":
            return self._connect()
        if is_absolute(self.path):
            return self._proxied(self.path)
        return super().handle_one_response()

    # ---- absolute-URL requests -------------------------------------------------------------
    def _proxied(self, url: str):
        self.environ[ENV_URL] = url
        self.environ[ENV_HEADERS] = list(self.headers.items())
        self.application = self.proxy.app
        return super().handle_one_response()

    def _reply(self, err: DfError):
        self.close_connection = True
        self.application = lambda environ, start_response: error_response(start_response, err)
        return super().handle_one_response()

    def handle_error(self, t, v, tb):
        if isinstance(v, StreamAborted):
            log.warning("proxied response cut short client=%s error=%s", self.client_address, v)
            self.close_connection = True
            if not self.headers_sent:
                status, headers, body = error_parts(DfError("UPSTREAM_ERROR", str(v)))
                try:
                    self.start_response(status, headers)
                    self.write(body)
                except OSError:
                    pass
            return
        super().handle_error(t, v, tb)

    # ---- CONNECT -------------------------------------------------------------------------------
    def _connect(self):
        self.close_connection = True
        target = self.path or ""
        try:
            host, port = parse_target(target)
        except DfError as e:
            log.info("bad CONNECT target=%r client=%s", target, self.client_address)
            return self._reply(e)
        hijack = self.proxy.intercepts(target)
        if hijack is not None:
            return self._intercept(host, port)
        try:
            upstream = open_upstream(host, port, self.proxy.settings.connect_timeout)
        except DfError as e:
            log.info("CONNECT failed target=%s error=%s", target, e.message)
            return self._reply(e)
        try:
            self.socket.sendall(ESTABLISHED)
        except OSError:
            upstream.close()
            return
        up, down = splice(self.rfile.read1, self.socket, upstream, self.proxy.settings.idle_timeout)
        log.debug("tunnel closed target=%s up=%d down=%d", target, up, down)
        self._detach()

    def _intercept(self, host: str, port: int):
        settings = self.proxy.settings
        try:
            context = self.proxy.certs.context_for(host)
        except Exception as e:      # noqa: BLE001 - a certificate problem must not take the server down
            log.error("cannot issue a certificate host=%s error=%s", host, e)
            return self._reply(DfError("INTERNAL", f"cannot issue a certificate for {host}"))
        try:
            self.socket.sendall(ESTABLISHED)
            self.socket.settimeout(settings.handshake_timeout)
            tls = context.wrap_socket(self.socket, server_side=True)
            tls.settimeout(settings.idle_timeout)
        except (ssl.SSLError, OSError) as e:
            log.info("TLS handshake with client failed host=%s error=%s", host, e)
            self._close_quietly()
            return
        name = f"[{host}]" if ":" in host else host
        inner = type(self)(tls, self.client_address, self.server)
        inner.mitm_origin = f"https://{name}" + ("" if port == 443 else f":{port}")
        log.debug("intercepting host=%s port=%d", host, port)
        inner.handle()
        self._detach()

    def _close_quietly(self):
        try:
            self.socket.close()
        except OSError:
            pass
        self._detach()

    def _detach(self):
        """The connection was handed over (tunnel or TLS); nothing is left for the HTTP loop."""
        try:
            self.rfile.close()
        except OSError:
            pass
        self.socket = None
