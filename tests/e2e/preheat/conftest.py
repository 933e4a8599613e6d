"""Fixtures for the preheat end-to-end proofs: webhook-enabled supernode processes and dfdaemon processes."""
from __future__ import annotations

import os

import pytest

from .stack import WebhookSupernode

# skopeo run as root keeps a blob-info cache outside any test directory
BLOB_INFO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"


@pytest.fixture(scope="module", autouse=True)
def _skopeo_blob_info_cache():
    existed = os.path.exists(BLOB_INFO_CACHE)
    yield
    if not existed and os.path.exists(BLOB_INFO_CACHE):
        os.remove(BLOB_INFO_CACHE)


@pytest.fixture
def webhook_supernode(tmp_path_factory):
    """``webhook_supernode(preheat={}, webhooks={}, base={})``: an unstarted WebhookSupernode, stopped after."""
    made = []

    def make(**kw) -> WebhookSupernode:
        sn = WebhookSupernode(str(tmp_path_factory.mktemp("sn")), **kw)
        made.append(sn)
        return sn

    yield make
    for sn in made:
        sn.stop()

