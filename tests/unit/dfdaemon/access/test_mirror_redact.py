"""Log redaction: patterns, literal secrets, exceptions, extra fields, install/uninstall."""
import io
import json
import logging

import pytest

from dfcommon.logging import JsonFormatter, KeyValueFormatter
from dfdaemon.mirror.redact import (MASK, RedactingFilter, Redactor, install_redaction, installed_redactor,
                                    uninstall_redaction)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0dXNlciJ9.c2lnbmF0dXJlLXZhbHVl"
B64 = "dGVzdHVzZXI6dGVzdHBhc3M="


@pytest.mark.parametrize("text,secret", [
    (f"Authorization: Bearer {JWT}", JWT),
    (f"{{'Authorization': 'Basic {B64}'}}", B64),
    ("authorization=opaqueTokenValue123", "opaqueTokenValue123"),
    ("Proxy-Authorization: Basic QWxhZGRpbjpvcGVu", "QWxhZGRpbjpvcGVu"),
    (f"token response {JWT} received", JWT),
    ("password=hunter22 user=bob", "hunter22"),
    ('{"password": "hunter22"}', "hunter22"),
    ("refresh_token=5a6b-ccc&scope=x", "5a6b-ccc"),
    ('{"identitytoken": "idtok-123456"}', "idtok-123456"),
    (f'{{"auths": {{"reg:5000": {{"auth": "{B64}"}}}}}}', B64),
    ("https://bob:hunter22@registry.example/v2/", "hunter22"),
    ("credentials=('testuser', 'hunter22')", "hunter22"),
    ("Bearer 0123456789abcdef", "0123456789abcdef"),
    ("client_secret: s3cr3t-v4lue", "s3cr3t-v4lue"),
])
def test_secrets_are_scrubbed(text, secret):
    out = Redactor().redact(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize("text", [
    'Bearer realm="http://auth.example/token",service="registry",scope="repository:a/b:pull"',
    'Basic realm="basic-realm"',
    "token_server=up task=abc digest=sha256:" + "a" * 64,
    "bearer token has expired",
    "Basic credentials are missing",
    "access decided upstream=r:5000 repo=a/b authfp=0123abcd allowed=True",
    "www_authenticate=Bearer realm=x",
])
def test_harmless_text_stays_readable(text):
    assert Redactor().redact(text) == text


def test_registered_literal_secrets_are_scrubbed_anywhere():
    red = Redactor(secrets=["correct-horse"])
    red.add_secret("abc")            # too short to be scrubbed safely: ignored
    assert red.redact("the value correct-horse appeared") == f"the value {MASK} appeared"
    assert red.redact("abc") == "abc"


def _logger(name, stream, fmt):
    log = logging.getLogger(name)
    log.handlers[:] = []
    h = logging.StreamHandler(stream)
    h.setFormatter(fmt)
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    return log, h


@pytest.fixture
def installed():
    uninstall_redaction()
    red = install_redaction(secrets=["configured-pass"])
    yield red
    uninstall_redaction()


def test_install_scrubs_messages_args_and_exceptions_for_every_formatter(installed):
    for fmt in (KeyValueFormatter(), JsonFormatter(), logging.Formatter("%(message)s")):
        stream = io.StringIO()
        log, _ = _logger("tests.redact.fmt", stream, fmt)
        log.debug("headers=%s", {"Authorization": f"Bearer {JWT}"})
        log.info("login with configured-pass")
        try:
            raise ValueError(f"server said Authorization: Basic {B64}")
        except ValueError:
            log.exception("failed password=%s", "hunter22")
        out = stream.getvalue()
        for secret in (JWT, B64, "configured-pass", "hunter22"):
            assert secret not in out
        assert "ValueError" in out and "Traceback" in out


def test_install_is_idempotent_and_uninstall_restores(installed):
    before = logging.getLogRecordFactory()
    again = install_redaction(secrets=["another-secret"])
    assert again is installed and logging.getLogRecordFactory() is before
    assert installed.redact("another-secret") == MASK
    uninstall_redaction()
    assert installed_redactor() is None


def test_extra_fields_are_scrubbed_by_the_filter():
    stream = io.StringIO()

    class ExtraJson(logging.Formatter):
        def format(self, record):
            return json.dumps({"msg": record.getMessage(), "auth": getattr(record, "upstream_auth", None)})

    log, handler = _logger("tests.redact.extra", stream, ExtraJson())
    handler.addFilter(RedactingFilter())
    log.info("call", extra={"upstream_auth": f"Bearer {JWT}"})
    assert JWT not in stream.getvalue() and "Bearer ***" in stream.getvalue()


def test_broken_format_strings_are_still_scrubbed(installed):
    stream = io.StringIO()
    log, _ = _logger("tests.redact.broken", stream, logging.Formatter("%(message)s"))
    log.info("two args %s %s", f"Bearer {JWT}")
    assert JWT not in stream.getvalue()
