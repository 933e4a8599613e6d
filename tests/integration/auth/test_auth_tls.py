"""TLS on (with auth): dfget talks https to the supernode and its piece server, and https to other hosts'
upload servers, trusting the CA given with --supernode-ca; plain http is refused on those listeners."""
import hashlib
import json
import os

import pytest
import requests

from tests.integration.auth.conftest import Supernode


@pytest.fixture(scope="module")
def tls_supernode(tmp_path_factory, keys, pki):
    sn = Supernode(tmp_path_factory.mktemp("sn-tls"), {"enabled": True, "signing_key": keys["private"],
                                                        "tls_cert": pki["cert"], "tls_key": pki["key"]})
    yield sn
    sn.stop()


def _peer_pieces(sn, ca):
    text = requests.get(sn.url("/metrics"), timeout=10, verify=ca).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if not line.startswith("#") and "pieces_reported_total" in line and 'source="peer"' in line)


def test_p2p_over_https(tls_supernode, origin, pki, dfget, work, mint):
    data = os.urandom(9 << 20)
    (origin.root_path / "tls.bin").write_bytes(data)
    token = mint("peer")
    tls = ["--supernode-ca", pki["ca"], "--upload-tls-cert", pki["cert"], "--upload-tls-key", pki["key"]]
    for i in range(2):
        out = work / f"out{i}" / "tls.bin"
        r = dfget("-u", origin.url("tls.bin"), "-o", str(out), "-n", tls_supernode.node, "--notbs",
                  "--home", str(work / f"home{i}"), *tls, token=token)
        assert r.returncode == 0, r.stdout + r.stderr
        assert hashlib.md5(out.read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()
    assert _peer_pieces(tls_supernode, pki["ca"]) >= 1          # host 1 fetched from host 0 over https
    port = json.loads((work / "home0" / "meta" / "host.meta").read_text())["servicePort"]
    assert requests.get(f"https://127.0.0.1:{port}/server/ping", verify=pki["ca"], timeout=10).text == "success"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/server/ping", timeout=10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{tls_supernode.node}/_ping", timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{tls_supernode.node}/_ping", timeout=10)      # not a publicly trusted CA
    assert requests.get(f"https://127.0.0.1:{tls_supernode.dl}/download/abc/" + "a" * 64, verify=pki["ca"],
                        timeout=10).status_code == 401


def test_without_the_ca_dfget_cannot_register(tls_supernode, origin, dfget, work, mint):
    (origin.root_path / "tls2.bin").write_bytes(b"x" * 1000)
    r = dfget("-u", origin.url("tls2.bin"), "-o", str(work / "o" / "tls2.bin"), "-n", tls_supernode.node,
              "--notbs", "--home", str(work / "home"), "--supernode-tls", token=mint("peer"))
    assert r.returncode == 79, r.stdout + r.stderr
    assert "SSLError" in r.stdout
