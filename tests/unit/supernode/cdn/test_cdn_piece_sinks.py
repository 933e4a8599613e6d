"""Both piece sinks keep one contract: the stored task file is the wrapped pieces of the source at
``n * piece_size``, each piece is reported once, in order, with the md5 of its wrapped bytes, and the file md5
covers the source bytes. The streaming sink (known length) holds no piece in memory; the buffered one serves
sources of unknown length."""
from __future__ import annotations

import hashlib
import os

import pytest

from dfcommon import pieces
from supernode.cdn.writer import PieceSink, StreamingPieceSink
from supernode.storage import LocalStorage, MemoryStorage

PS = 64 << 10                       # small pieces: many of them from a few hundred KiB
KEY = "download/abc/" + "a" * 64


def wrapped_pieces(data: bytes) -> list[bytes]:
    cs = pieces.content_size(PS)
    return [pieces.wrap(data[i:i + cs], PS) for i in range(0, len(data), cs)] or [pieces.wrap(b"", PS)]


def make_sink(kind, writer, file_md5, reported, length, start_piece=0):
    on_written = lambda num, md5: reported.append((num, md5))      # noqa: E731
    if kind == "streaming":
        return StreamingPieceSink(writer, PS, start_piece, file_md5, on_written, length)
    return PieceSink(writer, PS, start_piece, 2, file_md5, on_written)


@pytest.fixture(params=["local", "memory"])
def storage(request, tmp_path):
    return LocalStorage(str(tmp_path)) if request.param == "local" else MemoryStorage()


@pytest.mark.parametrize("kind", ["streaming", "buffered"])
@pytest.mark.parametrize("size", [0, 1, PS - 5, PS - 4, 5 * (PS - 5), 5 * (PS - 5) + 777])
def test_sinks_store_wrapped_pieces_and_report_each_once(storage, kind, size):
    data = os.urandom(size)
    writer = storage.open_writer(KEY, truncate=True)
    file_md5, reported = hashlib.md5(), []
    sink = make_sink(kind, writer, file_md5, reported, len(data))
    for i in range(0, len(data), 10_000):                 # blocks that straddle piece boundaries
        sink.feed(data[i:i + 10_000])
    written = sink.finish(empty_piece=len(data) == 0)
    sink.close()
    writer.close()
    expected = wrapped_pieces(data)
    assert storage.read_bytes(KEY) == b"".join(expected)
    md5s = [f"{hashlib.md5(p).hexdigest()}:{len(p)}" for p in expected]
    assert sorted(reported) == list(enumerate(md5s))
    assert written == dict(enumerate(md5s))
    assert file_md5.hexdigest() == hashlib.md5(data).hexdigest()
    if kind == "streaming":
        assert [n for n, _ in reported] == list(range(len(expected)))     # in order, as they complete


def test_streaming_sink_resumes_at_a_piece_and_reports_from_there(tmp_path):
    storage = LocalStorage(str(tmp_path))
    data = os.urandom(4 * (PS - 5) + 100)
    cs = pieces.content_size(PS)
    writer = storage.open_writer(KEY, truncate=True)
    file_md5, reported = hashlib.md5(data[:2 * cs]), []
    sink = StreamingPieceSink(writer, PS, 2, file_md5, lambda n, m: reported.append(n), len(data))
    sink.feed(data[2 * cs:])
    sink.finish(empty_piece=False)
    writer.close()
    assert reported == [2, 3, 4]
    assert storage.read_bytes(KEY, 2 * PS) == b"".join(wrapped_pieces(data)[2:])
    assert file_md5.hexdigest() == hashlib.md5(data).hexdigest()


def test_streaming_sink_never_reports_a_piece_the_source_left_short_or_stores_bytes_past_the_length(tmp_path):
    storage = LocalStorage(str(tmp_path))
    data = os.urandom(2 * (PS - 5))
    writer = storage.open_writer(KEY, truncate=True)
    reported = []
    short = StreamingPieceSink(writer, PS, 0, hashlib.md5(), lambda n, m: reported.append(n), len(data))
    short.feed(data[:PS])                                 # the source ends inside piece 1
    short.finish(empty_piece=False)
    assert reported == [0] and short.bytes_fed == PS
    writer.close()

    writer = storage.open_writer(KEY, truncate=True)
    reported = []
    long = StreamingPieceSink(writer, PS, 0, hashlib.md5(), lambda n, m: reported.append(n), len(data))
    long.feed(data + b"x" * 1000)                         # more than announced: counted, not stored
    long.finish(empty_piece=False)
    writer.close()
    assert reported == [0, 1] and long.bytes_fed == len(data) + 1000
    assert storage.read_bytes(KEY) == b"".join(wrapped_pieces(data))


def test_streaming_sink_needs_the_length(tmp_path):
    with pytest.raises(ValueError):
        StreamingPieceSink(LocalStorage(str(tmp_path)).open_writer(KEY), PS, 0, hashlib.md5(), print, -1)


GEVENT_SINKS = r"""
from gevent import monkey; monkey.patch_all()
import hashlib, os, sys, time
from dfcommon import pieces
from supernode.cdn.writer import StreamingPieceSink
from supernode.storage import LocalStorage
PS = 64 << 10
storage = LocalStorage(sys.argv[1])
threads = lambda: len(os.listdir("/proc/self/task"))
base, ok = threads(), True
for run in range(12):
    data = os.urandom(5 * (PS - 5) + run * 1000)
    key = "download/abc/" + "%064x" % run
    writer = storage.open_writer(key, truncate=True)
    file_md5, reported = hashlib.md5(), []
    sink = StreamingPieceSink(writer, PS, 0, file_md5, lambda n, m: reported.append(n), len(data), depth=2)
    for i in range(0, len(data), 10_000):
        sink.feed(data[i:i + 10_000])
    sink.finish(empty_piece=False)
    writer.close()
    cs = pieces.content_size(PS)
    wrapped = [pieces.wrap(data[i:i + cs], PS) for i in range(0, len(data), cs)]
    ok = ok and storage.read_bytes(key) == b"".join(wrapped) and reported == list(range(len(wrapped))) \
        and file_md5.hexdigest() == hashlib.md5(data).hexdigest()
deadline = time.monotonic() + 5
while threads() > base + 1 and time.monotonic() < deadline:     # killed pool threads exit on their own
    time.sleep(0.05)
print(ok, threads() <= base + 1)
"""


def test_streaming_sink_under_gevent_pipelines_blocks_and_ends_its_thread(tmp_path):
    """The real mode: under gevent each block is hashed and written in the sink's own native thread while the
    reader goes on; the stored file and the reports are the same, and finishing a sink ends that thread (a
    supernode runs one sink per CDN download, so a thread left behind per download would pile up)."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", GEVENT_SINKS, str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"], out.stdout + out.stderr
