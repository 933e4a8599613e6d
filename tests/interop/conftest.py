"""Fixtures of the interoperability tests: the Go Dragonfly 1.0.6 peers (tests.fixtures.dragonfly_go), our
supernode, a byte-counting origin, and clean-up of the upload servers our dfget runs leave behind."""
from __future__ import annotations

import os

import pytest

from tests.e2e.p2p_stack import SupernodeProcess, stop_upload_servers
from tests.fixtures.dragonfly_go import dragonfly_go, go_dfget, go_supernode  # noqa: F401  (fixtures)
from tests.fixtures.origin import OriginServer
from tests.fixtures.supernode_config import ConfiguredSupernode


class OurSupernode(ConfiguredSupernode):
    """Our ``supernode --config`` process (the test fixture's settings for a loopback origin) with the
    metrics, peers and health helpers of the end-to-end stack."""
    api = property(lambda self: self.url)
    metrics, metric = SupernodeProcess.metrics, SupernodeProcess.metric
    peers, healthy = SupernodeProcess.peers, SupernodeProcess.healthy


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    (root / "private").mkdir(parents=True)
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def our_supernode_factory(tmp_path):
    """``our_supernode_factory(**base_keys)`` -> a started :class:`OurSupernode`; all are stopped after."""
    started = []

    def make(**base) -> OurSupernode:
        sn = OurSupernode(tmp_path / f"our-supernode-{len(started)}", base=base)
        started.append(sn)
        return sn.start()

    yield make
    for sn in started:
        sn.stop()


@pytest.fixture
def our_supernode(our_supernode_factory):
    return our_supernode_factory()


@pytest.fixture
def our_homes(tmp_path):
    """``our_homes(name)`` -> a work home for one of our dfget runs; their upload servers are stopped after."""
    base = tmp_path / "our-dfget"
    made = []

    def make(name: str) -> str:
        home = str(base / name)
        os.makedirs(home, exist_ok=True)
        made.append(home)
        return home

    yield make
    stop_upload_servers(*made)
