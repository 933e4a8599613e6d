"""PrefixMd5 follows Progress's contiguous prefix in a thread; hexdigest is the md5 of the file's first
``length`` bytes whatever the order of the writes, and starts over after a switch to another file."""
from __future__ import annotations

import hashlib
import os
import random

from dfdaemon.p2p.prefix_md5 import PrefixMd5
from dfdaemon.p2p.stream import Progress

PIECE = 1 << 20


def write_out_of_order(path, data, progress, rng):
    spans = list(range(0, len(data), PIECE))
    rng.shuffle(spans)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for off in spans:
            chunk = data[off:off + PIECE]
            os.pwrite(fd, chunk, off)
            progress.add(off, len(chunk))
    finally:
        os.close(fd)


def test_digest_of_pieces_written_out_of_order(tmp_path):
    data = os.urandom(9 * PIECE + 777)
    path = str(tmp_path / "data")
    open(path, "wb").close()
    progress = Progress()
    progress.switch(path)
    hasher = PrefixMd5(progress, path)
    write_out_of_order(path, data, progress, random.Random(3))
    assert hasher.hexdigest(len(data)) == hashlib.md5(data).hexdigest()


def test_digest_of_a_prefix_and_of_nothing_written(tmp_path):
    data = os.urandom(2 * PIECE)
    path = str(tmp_path / "data")
    with open(path, "wb") as f:
        f.write(data)
    progress = Progress()
    progress.switch(path)
    hasher = PrefixMd5(progress, path)         # no progress reported: the caller hashes it all
    assert hasher.hexdigest(PIECE + 5) == hashlib.md5(data[:PIECE + 5]).hexdigest()


def test_switch_starts_over(tmp_path):
    first, second = os.urandom(3 * PIECE), os.urandom(2 * PIECE)
    a = str(tmp_path / "a")
    open(a, "wb").close()
    progress = Progress()
    progress.switch(a)
    hasher = PrefixMd5(progress, a)
    write_out_of_order(a, first, progress, random.Random(1))
    with open(a, "r+b") as f:                  # a migration truncates the file and rewrites it
        f.truncate(0)
    progress.switch(a)
    write_out_of_order(a, second, progress, random.Random(2))
    assert hasher.hexdigest(len(second)) == hashlib.md5(second).hexdigest()


def test_failed_download_stops_the_thread(tmp_path):
    path = str(tmp_path / "data")
    open(path, "wb").close()
    progress = Progress()
    progress.switch(path)
    hasher = PrefixMd5(progress, path)
    progress.fail(RuntimeError("boom"))
    hasher.close()
    assert not hasher._thread.is_alive()
