"""Driver-specific behaviour: the local layout and symlink escapes; the memory driver's capacity."""
from __future__ import annotations

import os

import pytest

from dfcommon.errors import DfError
from supernode.storage import LocalStorage, MemoryStorage


def test_local_layout_under_repo(tmp_path):
    store = LocalStorage(str(tmp_path))
    store.put_atomic("download/123/1234", b"x")
    assert (tmp_path / "repo" / "download" / "123" / "1234").read_bytes() == b"x"


def test_local_symlink_out_of_repo_rejected(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store = LocalStorage(str(tmp_path / "home"))
    os.symlink(str(outside), str(tmp_path / "home" / "repo" / "download"))
    with pytest.raises(DfError) as e:
        store.read_bytes("download/secret")
    assert e.value.code == "INVALID_PARAM"


def test_local_read_iterator_closes_descriptor(tmp_path):
    store = LocalStorage(str(tmp_path))
    store.put_atomic("a/b", b"x" * 10)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        it = store.read("a/b")
        it.close()                      # never iterated: the descriptor is still released
    assert len(os.listdir("/proc/self/fd")) <= before


def test_memory_writer_survives_delete_like_unlinked_file():
    store = MemoryStorage()
    w = store.open_writer("k/x", truncate=True)
    w.write_at(0, b"abc")
    store.delete("k/x")
    w.write_at(3, b"def")               # goes to the orphaned entry, not a resurrected key
    assert not store.exists("k/x")
    new = store.open_writer("k/x", truncate=True)
    w.write_at(0, b"zzz")
    new.write_at(0, b"n")
    assert store.read_bytes("k/x") == b"n"


def test_memory_capacity_reports_free_space():
    store = MemoryStorage(capacity=100)
    store.put_atomic("k/x", b"y" * 30)
    assert store.free_space() == 70
