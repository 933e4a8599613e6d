"""The storage driver contract, run against every driver."""
from __future__ import annotations

import threading

import pytest

from dfcommon.errors import ConfigError, DfError
from supernode.storage import create_storage
from supernode.storage.factory import available_drivers

KEY = "download/abc/abcdef"


@pytest.fixture(params=available_drivers())
def store(request, tmp_path):
    """Every built-in driver and every driver installed in the ``dragonfly.storage`` entry-point group."""
    return create_storage(request.param, str(tmp_path))


def test_write_at_offsets_and_read_range(store):
    w = store.open_writer(KEY, truncate=True)
    w.write_at(10, b"world")
    w.write_at(0, b"hello")
    w.close()
    assert store.stat(KEY).size == 15
    data = store.read_bytes(KEY)
    assert data[:5] == b"hello" and data[10:] == b"world" and data[5:10] == b"\0" * 5
    assert store.read_bytes(KEY, 10, 3) == b"wor"
    assert store.read_bytes(KEY, 12) == b"rld"
    assert store.read_bytes(KEY, 100, 5) == b""


def test_read_yields_bounded_blocks(store):
    payload = bytes(range(256)) * 40
    store.put_atomic(KEY, payload)
    blocks = list(store.read(KEY, 100, 5000, block=1024))
    assert all(len(b) <= 1024 for b in blocks)
    assert b"".join(blocks) == payload[100:5100]
    assert b"".join(store.read(KEY)) == payload


def test_concurrent_writers_share_one_file(store):
    w = store.open_writer(KEY, truncate=True)
    chunks = {i: bytes([i]) * 4096 for i in range(16)}

    def put(i):
        w.write_at(i * 4096, chunks[i])

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    assert store.read_bytes(KEY) == b"".join(chunks[i] for i in range(16))


def test_truncate_and_reopen(store):
    w = store.open_writer(KEY, truncate=True)
    w.write_at(0, b"abcdef")
    w.close()
    w = store.open_writer(KEY)
    w.write_at(2, b"ZZ")
    w.close()
    assert store.read_bytes(KEY) == b"abZZef"
    store.open_writer(KEY, truncate=True).close()
    assert store.stat(KEY).size == 0


def test_missing_key(store):
    assert not store.exists(KEY)
    for call in (lambda: store.stat(KEY), lambda: store.read(KEY), lambda: store.read_bytes(KEY)):
        with pytest.raises(DfError) as e:
            call()
        assert e.value.code == "NOT_FOUND"
    store.delete(KEY)           # missing keys are ignored


def test_exists_delete_list(store):
    for k in (KEY, KEY + ".meta", KEY + ".md5", "download/abd/other", "other/x"):
        store.put_atomic(k, b"x")
    assert store.exists(KEY + ".meta")
    assert store.list("download/abc/") == [KEY, KEY + ".md5", KEY + ".meta"]
    assert store.list(KEY) == [KEY, KEY + ".md5", KEY + ".meta"]
    assert len(store.list("download/")) == 4
    assert len(store.list()) == 5
    store.delete(KEY + ".md5")
    assert not store.exists(KEY + ".md5")
    assert store.list("download/abc/") == [KEY, KEY + ".meta"]


def test_put_atomic_replaces(store):
    store.put_atomic(KEY + ".meta", b"old content")
    store.put_atomic(KEY + ".meta", b"new")
    assert store.read_bytes(KEY + ".meta") == b"new"
    assert store.list("download/abc/") == [KEY + ".meta"]      # no temp files left behind


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs/path", "download/../../x", "download//x", "a/./b",
                                 ".hidden", "download/abc/.meta", "", "a\\b", "a/b/", "down load", "x\0y"])
def test_traversal_and_bad_keys_rejected(store, bad):
    for call in (lambda: store.put_atomic(bad, b"x"), lambda: store.open_writer(bad), lambda: store.stat(bad),
                 lambda: store.exists(bad), lambda: store.delete(bad), lambda: store.read_bytes(bad)):
        with pytest.raises(DfError) as e:
            call()
        assert e.value.code == "INVALID_PARAM"


def test_bad_prefix_rejected(store):
    with pytest.raises(DfError):
        store.list("../")


def test_local_path_and_free_space(store, tmp_path):
    """A driver either names a real file holding the key's bytes (and the free space of its disk) or None."""
    store.put_atomic(KEY, b"data")
    path = store.local_path(KEY)
    free = store.free_space()
    if path is not None:
        with open(path, "rb") as f:
            assert f.read() == b"data"
        assert isinstance(free, int) and free > 0
    else:
        assert free is None
    if store.name == "local":
        assert path == str(tmp_path / "repo" / "download" / "abc" / "abcdef")
    if store.name == "memory":
        assert path is None


def test_factory_by_name(tmp_path):
    assert create_storage("local", str(tmp_path)).name == "local"
    assert create_storage("memory", str(tmp_path)).name == "memory"
    with pytest.raises(ConfigError, match="unknown storage_driver 's3'") as err:
        create_storage("s3", str(tmp_path))
    for name in available_drivers():               # the message lists every known driver, plug-ins included
        assert name in str(err.value)
