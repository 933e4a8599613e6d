import threading

import pytest

from dfdaemon.p2p.piece_writer import DataFile
from dfdaemon.p2p.result import DownloadError
from dfdaemon.p2p.stream import ByteStream, Progress


def test_ready_is_the_contiguous_prefix():
    p = Progress("x")
    p.add(10, 10)
    assert p.ready == 0
    p.add(0, 5)
    assert p.ready == 5
    p.add(5, 5)
    assert p.ready == 20
    p.add(0, 3)
    assert p.ready == 20


def test_stream_yields_bytes_in_order_as_pieces_land(tmp_path):
    path = str(tmp_path / "data")
    data = bytes(range(256)) * 64
    p = Progress(path)
    closed = []
    s = ByteStream(p, on_close=closed.append, block=1000)
    df = DataFile(path)
    chunks = [(8192, data[8192:12288]), (4096, data[4096:8192]), (12288, data[12288:]), (0, data[:4096])]

    def writer():
        for off, chunk in chunks:
            df.pwrite(off, chunk)
            p.add(off, len(chunk))
        p.finish(len(data))

    t = threading.Thread(target=writer)
    t.start()
    got = b"".join(s)
    t.join()
    df.close()
    assert got == data
    assert closed == [True]


def test_stream_continues_on_a_switched_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    data = b"0123456789" * 100
    a.write_bytes(data[:300])
    b.write_bytes(data)
    p = Progress(str(a))
    p.add(0, 300)
    s = ByteStream(p, block=200)
    first = next(s) + next(s)
    assert first == data[:300]
    p.switch(str(b))
    p.add(0, len(data))
    p.finish(len(data))
    assert first + b"".join(s) == data


def test_stream_raises_the_download_error():
    p = Progress("x")
    s = ByteStream(p)
    p.fail(DownloadError(1104, "boom"))
    with pytest.raises(DownloadError, match="boom"):
        next(s)
