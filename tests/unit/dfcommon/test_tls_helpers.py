"""dfcommon.tls: contexts from generated certificates, a real TLS handshake, clear config errors."""
import socket
import ssl
import threading

import pytest

from dfcommon.errors import ConfigError
from dfcommon.tls import check_pair, client_context, client_verify, make_test_pki, server_context


def test_handshake_with_generated_pki(tmp_path):
    pki = make_test_pki(str(tmp_path))
    srv = server_context(pki["cert"], pki["key"], cooperative=False)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]

    def serve():
        conn, _ = lsock.accept()
        with srv.wrap_socket(conn, server_side=True) as s:
            s.sendall(s.recv(5))
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client_context([pki["ca"]]).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"hello")
            assert s.recv(5) == b"hello"
    t.join(5)
    lsock.close()


def test_untrusted_certificate_is_refused(tmp_path):
    pki = make_test_pki(str(tmp_path / "a"))
    other = make_test_pki(str(tmp_path / "b"))
    srv = server_context(pki["cert"], pki["key"], cooperative=False)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def serve():
        conn, _ = lsock.accept()
        try:
            srv.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    with socket.create_connection(lsock.getsockname()) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            client_context([other["ca"]]).wrap_socket(raw, server_hostname="127.0.0.1")
    lsock.close()


def test_config_errors(tmp_path):
    pki = make_test_pki(str(tmp_path))
    with pytest.raises(ConfigError, match="go together"):
        check_pair(pki["cert"], "", "x")
    with pytest.raises(ConfigError, match="does not exist"):
        check_pair(str(tmp_path / "nope.pem"), pki["key"], "x")
    with pytest.raises(ConfigError, match="cannot load"):
        server_context(pki["ca"], pki["key"])           # key does not match the certificate
    assert client_verify([]) is True
    assert client_verify([pki["ca"]]) == pki["ca"]
    bundle = client_verify([pki["ca"], pki["cert"]], str(tmp_path))
    assert open(bundle).read().count("BEGIN CERTIFICATE") == 2
    with pytest.raises(ConfigError):
        client_verify([str(tmp_path / "missing.pem")])
