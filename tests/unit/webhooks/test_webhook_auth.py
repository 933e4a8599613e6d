import pytest

from dfcommon.errors import DfError
from webhooks.auth import HeaderAuthorizer


def test_no_values_means_open():
    auth = HeaderAuthorizer([], "harbor")
    assert not auth.enabled
    auth.check(None)
    auth.check("anything")


def test_verbatim_values_accepted():
    auth = HeaderAuthorizer(["Bearer s3cr3t", "plain-token"], "harbor")
    auth.check("Bearer s3cr3t")
    auth.check("plain-token")
    auth.check("plain-token ")  # surrounding whitespace is not part of the value


@pytest.mark.parametrize("value", [None, "", "Bearer s3cr3", "bearer s3cr3t", "s3cr3t", "Bearer s3cr3t2", "é"])
def test_wrong_or_missing_values_rejected(value):
    auth = HeaderAuthorizer(["Bearer s3cr3t"], "registry")
    with pytest.raises(DfError) as e:
        auth.check(value)
    assert e.value.http_status == 401 and "s3cr3t" not in e.value.message


def test_rejection_never_logs_the_value(caplog):
    auth = HeaderAuthorizer(["Bearer s3cr3t"], "harbor")
    with pytest.raises(DfError):
        auth.check("Bearer guess-123")
    assert "guess-123" not in caplog.text and "s3cr3t" not in caplog.text
