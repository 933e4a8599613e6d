import pytest

from tests.helpers import free_port


@pytest.fixture
def port():
    return free_port()
