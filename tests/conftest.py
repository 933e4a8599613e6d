import pytest

from tests.helpers import free_port

pytest_plugins = ["tests.fixtures.plugin"]


@pytest.fixture
def port():
    return free_port()
