"""Fixtures of the interoperability tests: the Go Dragonfly 1.0.6 peers (tests.fixtures.dragonfly_go), our
supernode, a byte-counting origin, and clean-up of the upload servers our dfget runs leave behind."""
from __future__ import annotations

import os

import pytest

from tests.e2e.p2p_stack import SupernodeProcess, stop_upload_servers
from tests.fixtures.dragonfly_go import dragonfly_go, go_dfget, go_supernode  # noqa: F401  (fixtures)
from tests.fixtures.origin import OriginServer


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    (root / "private").mkdir(parents=True)
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def our_supernode(tmp_path):
    sn = SupernodeProcess(str(tmp_path / "our-supernode"))
    yield sn
    sn.stop()


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
