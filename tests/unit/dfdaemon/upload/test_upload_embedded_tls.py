"""The dfdaemon's embedded upload server as its composition root builds it: https with the configured
certificate, peer tokens checked with the keys in <localrepo>/meta/trusted-keys (its own gevent hub in a
worker thread, real socket)."""
import json
import os

import pytest
import requests

from dfcommon import tokens as T
from dfcommon.errors import ConfigError
from dfcommon.tls import make_test_pki
from dfdaemon.config import load_config
from dfdaemon.p2p.trust import trusted_keys_dir
from dfdaemon.services import build_upload_server


from .test_upload_server import run_in_thread


def test_embedded_server_with_tls_and_peer_tokens(tmp_path):
    pki = make_test_pki(str(tmp_path / "pki"))
    conf = load_config(None, {"work_home": str(tmp_path / "home"), "local_ip": "127.0.0.1",
                              "upload": {"tls_cert": pki["cert"], "tls_key": pki["key"]}})
    server = build_upload_server(conf)
    name = "layer-1-2.000"
    with open(f"{conf.data_dir}/{name}", "wb") as fh:
        fh.write(b"0123456789")
    server.alive = 1.0                      # the dfdaemon's never goes idle; here it exits once the test is done
    thread, port = run_in_thread(server)
    try:
        url = f"https://127.0.0.1:{port}/peer/file/{name}"
        headers = {"Range": "bytes=0-9", "pieceNum": "0", "pieceSize": "10", "cdnSource": "source"}
        assert requests.get(url, headers=headers, verify=pki["ca"], timeout=5).content == b"0123456789"
        with pytest.raises(requests.ConnectionError):
            requests.get(url.replace("https", "http"), headers=headers, timeout=5)
        signer = T.TokenSigner(T.generate_key_pair()[0])
        keys = trusted_keys_dir(conf.downloader_home)
        os.makedirs(keys)
        with open(os.path.join(keys, "sn_8002.json"), "w") as fh:
            json.dump(T.jwks([signer.public_key]), fh)
        server.app.authorize.keys.recheck = 0
        assert requests.get(url, headers=headers, verify=pki["ca"], timeout=5).status_code == 401
        token = signer.peer_token("t" * 64, "c", "d", 60, path=f"/peer/file/{name}")
        r = requests.get(url, headers={**headers, "Authorization": f"Bearer {token}"}, verify=pki["ca"], timeout=5)
        assert r.status_code == 206 and r.content == b"0123456789"
    finally:
        thread.join(30)
    assert not thread.is_alive()


def test_half_a_tls_pair_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="go together"):
        load_config(None, {"upload": {"tls_cert": str(tmp_path / "c.pem")}})
