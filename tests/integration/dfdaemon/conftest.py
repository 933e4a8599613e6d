"""Fixtures for the dfdaemon mirror's integration tests: a supernode process and dfdaemon processes."""
from __future__ import annotations

import pytest

from tests.e2e.p2p_stack import SupernodeProcess

from .mirror_stack import DfdaemonProcess


@pytest.fixture
def supernode(tmp_path_factory):
    sn = SupernodeProcess(str(tmp_path_factory.mktemp("supernode")))
    yield sn
    sn.stop()


@pytest.fixture
def dfdaemon_factory(tmp_path_factory):
    """Start dfdaemon processes: ``dfdaemon_factory(nodes=[...], remote=url, registries=[...], extra={})``."""
    started = []

    def make(**kw) -> DfdaemonProcess:
        d = DfdaemonProcess(str(tmp_path_factory.mktemp("dfdaemon")), **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()
