"""A DEBUG log of every access decision and credential resolution contains no credential."""
import base64
import io
import json
import logging

import pytest

from dfcommon.errors import DfError
from dfcommon.logging import JsonFormatter, KeyValueFormatter
from dfdaemon.mirror.access import AccessGuard
from dfdaemon.mirror.credentials import UpstreamAuth
from dfdaemon.mirror.redact import install_redaction, uninstall_redaction
from registry_plugin.oci import TokenVerifier
from tests.fixtures.oci_image import build_oci_image

from .access_env import (OTHER, PRIVATE, PUBLIC, Up, basic, expired_token, fetch_token, forged_token,
                         private_permissions)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def layers(registry_token, registry_basic, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("acclimg")), tag="v1", layers=1, layer_size=16_000, seed=74)
    for repo in (PRIVATE, PUBLIC, OTHER):
        registry_token.push(img, repo)
    registry_basic.push(img, PRIVATE)
    return img.layers[0].digest


@pytest.fixture
def captured(caplog):
    """DEBUG records through the project's text and JSON formatters, plus pytest's own capture."""
    stream = io.StringIO()
    handlers = []
    for fmt in (KeyValueFormatter(), JsonFormatter()):
        h = logging.StreamHandler(stream)
        h.setFormatter(fmt)
        h.setLevel(logging.DEBUG)
        handlers.append(h)
        logging.getLogger().addHandler(h)
    caplog.set_level(logging.DEBUG)
    yield lambda: stream.getvalue() + "\n" + caplog.text
    for h in handlers:
        logging.getLogger().removeHandler(h)


def _run_everything(registry_token, registry_basic, token_server, layer, tmp_path, log):
    """Every decision path, logging the requests' headers the way careless code would."""
    private_permissions(token_server)
    secrets = ["testpass", "wrong-password", base64.b64encode(b"testuser:testpass").decode()]
    verifier = TokenVerifier.from_files(cert_file=token_server.cert_path)
    tokens = [fetch_token(token_server, PRIVATE), fetch_token(token_server, OTHER),
              expired_token(token_server, PRIVATE), forged_token(token_server, PRIVATE)]
    secrets += tokens
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {registry_token.host: {
        "auth": base64.b64encode(b"testuser:testpass").decode()}}}))
    guard = AccessGuard(upstream_auth=UpstreamAuth(docker_config_path=str(config)))
    cases = [(Up(registry_token.url, verifier=v), repo, {"Authorization": f"Bearer {t}"})
             for v in (None, verifier) for t in tokens for repo in (PRIVATE, OTHER)]
    cases += [(Up(registry_token.url), PRIVATE, {"Authorization": "Bearer opaque-secret-value"}),
              (Up(registry_token.url), PRIVATE, {"Authorization": basic("testuser", "testpass")}),
              (Up(registry_token.url), PRIVATE, {"Authorization": basic("testuser", "wrong-password")}),
              (Up(registry_token.url), PRIVATE, {}),
              (Up(registry_token.url, credentials=("testuser", "wrong-password")), PUBLIC, {}),
              (Up(registry_basic.url), PRIVATE, {"Authorization": basic("testuser", "testpass")}),
              (Up(registry_basic.url), PRIVATE, {"Authorization": basic("testuser", "wrong-password")}),
              (Up(registry_basic.url, credentials=("testuser", "testpass")), PRIVATE, {})]
    secrets.append("opaque-secret-value")
    outcomes = []
    for up, repo, headers in cases:
        log.debug("checking headers=%s upstream=%r", headers, up)
        try:
            guard.check(up, repo, layer, headers)
            outcomes.append("ok")
        except DfError as e:
            log.info("refused code=%s detail=%s", e.code, e.detail)
            outcomes.append(e.code)
    log.debug("docker config %s", config.read_text())
    return secrets, outcomes


def test_no_credential_in_any_log_line_with_redaction(registry_token, registry_basic, token_server, layers,
                                                      tmp_path, captured):
    red = install_redaction()
    try:
        log = logging.getLogger("tests.careless")
        secrets, outcomes = _run_everything(registry_token, registry_basic, token_server, layers, tmp_path, log)
        try:
            raise RuntimeError(f"failure while sending Authorization: Bearer {secrets[3]}")
        except RuntimeError:
            log.exception("boom password=%s", "testpass")
        log.info("extra fields", extra={"authorization": basic("testuser", "testpass")})
    finally:
        uninstall_redaction()
    text = captured()
    assert "ok" in outcomes and "UNAUTHORIZED" in outcomes and "DENIED" in outcomes
    assert "access decided" in text and "refused code=" in text and "boom" in text
    for secret in secrets:
        assert secret not in text
    assert red is not None


def test_mirror_modules_log_no_credential_even_without_redaction(registry_token, registry_basic, token_server,
                                                                 layers, tmp_path, captured):
    quiet = logging.getLogger("tests.quiet")
    quiet.disabled = True
    try:
        secrets, _ = _run_everything(registry_token, registry_basic, token_server, layers, tmp_path, quiet)
    finally:
        quiet.disabled = False
    text = captured()
    assert "access decided" in text
    for secret in secrets:
        assert secret not in text
