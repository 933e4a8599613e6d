import pytest

from tests.helpers import free_port

pytest_plugins = ["tests.fixtures.plugin", "tests.fixtures.processes", "tests.fixtures.redis_server",
                  "tests.fixtures.cluster_members"]


@pytest.fixture
def port():
    return free_port()
