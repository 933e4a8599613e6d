"""The verified blob cache and the single-flight reader: atomic publish, eviction, last byte held back."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest

from dfcommon.errors import DfError
from dfdaemon.mirror.cache import BlobCache
from dfdaemon.mirror.flight import Flight, Flights, StreamAborted
from dfdaemon.mirror.ranges import parse_range


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_publish_only_verified_blobs(tmp_path):
    cache = BlobCache(str(tmp_path), 1 << 30)
    data = os.urandom(3 << 20)
    w = cache.writer(digest_of(data))
    w.write(data[:1 << 20])
    assert digest_of(data) not in cache                     # nothing visible while it streams
    w.write(data[1 << 20:])
    assert w.commit()
    fh, size = cache.open(digest_of(data))
    with fh:
        assert size == len(data) and fh.read() == data
    bad = cache.writer(digest_of(b"other"))
    bad.write(b"not other")
    assert not bad.commit()
    assert digest_of(b"other") not in cache and os.listdir(cache.incoming) == []


def test_recovery_removes_incoming_and_indexes_blobs(tmp_path):
    cache = BlobCache(str(tmp_path), 1 << 30)
    w = cache.writer(digest_of(b"abc"))
    w.write(b"ab")                                          # a crash leaves this behind
    ok = cache.writer(digest_of(b"xyz"))
    ok.write(b"xyz")
    ok.commit()
    again = BlobCache(str(tmp_path), 1 << 30)
    assert os.listdir(again.incoming) == []
    assert again.size_of(digest_of(b"xyz")) == 3 and digest_of(b"abc") not in again


def test_lru_eviction_keeps_the_size_bound(tmp_path):
    clock = iter(range(100))
    cache = BlobCache(str(tmp_path), 250, clock=lambda: next(clock))
    blobs = [bytes([i]) * 100 for i in range(3)]
    for b in blobs[:2]:
        w = cache.writer(digest_of(b))
        w.write(b)
        w.commit()
    fh, _ = cache.open(digest_of(blobs[0]))                 # blob 0 becomes the most recently used
    fh.close()
    w = cache.writer(digest_of(blobs[2]))
    w.write(blobs[2])
    w.commit()
    assert digest_of(blobs[1]) not in cache
    assert digest_of(blobs[0]) in cache and digest_of(blobs[2]) in cache
    assert cache.total_bytes <= 250


def _flight(tmp_path, data: bytes, digest: str | None = None):
    cache = BlobCache(str(tmp_path), 1 << 30)
    return cache, Flight(digest or digest_of(data), cache.writer(digest or digest_of(data)), stall_timeout=5)


def test_reader_gets_every_byte_only_after_verification(tmp_path):
    data = os.urandom((2 << 20) + 17)
    cache, flight = _flight(tmp_path, data)
    flight.set_size(len(data))
    body = flight.body(flight.open(), 0, len(data))
    flight.write(data)
    got = b""
    while len(got) < len(data) - 1:
        got += next(body)
    assert got == data[:-1]                                  # the last byte waits for the digest check
    threading.Timer(0.05, flight.finish).start()
    got += b"".join(body)
    assert got == data and digest_of(data) in cache


def test_reader_aborts_on_mismatch_and_nothing_is_kept(tmp_path):
    data = os.urandom(1 << 20)
    cache, flight = _flight(tmp_path, data, digest=digest_of(b"something else"))
    flight.set_size(len(data))
    body = flight.body(flight.open(), 0, None)
    flight.write(data)
    first = next(body)
    assert len(first) == len(data) - 1
    flight.finish()
    with pytest.raises(StreamAborted):
        next(body)
    assert cache.digests() == [] and os.listdir(cache.incoming) == []


def test_range_reader_and_failure_before_start(tmp_path):
    data = os.urandom(4096)
    cache, flight = _flight(tmp_path, data)
    flight.set_size(len(data))
    start, end = parse_range("bytes=100-199").resolve(len(data))
    body = flight.body(flight.open(), start, end)
    flight.write(data)
    flight.finish()
    assert b"".join(body) == data[100:200]
    _, failed = _flight(tmp_path / "b", data)
    failed.fail(DfError("UPSTREAM_ERROR", "gone"))
    with pytest.raises(DfError):
        failed.wait_start(need_size=True, timeout=1)


def test_flights_share_one_download(tmp_path):
    flights = Flights()
    made = []

    def create():
        made.append(1)
        return _flight(tmp_path, b"x")[1]
    key = digest_of(b"x")
    f1, started1 = flights.join_or_create(key, create)
    f2, started2 = flights.join_or_create(key, create)
    assert started1 and not started2 and f1 is f2 and len(made) == 1 and f1.joins == 1
    flights.done(f1)
    assert len(flights) == 0


@pytest.mark.parametrize("value,size,expected", [
    ("bytes=0-0", 10, (0, 1)), ("bytes=5-", 10, (5, 10)), ("bytes=-3", 10, (7, 10)),
    ("bytes=2-100", 10, (2, 10)), ("bytes=-100", 10, (0, 10)),
])
def test_ranges(value, size, expected):
    assert parse_range(value).resolve(size) == expected


@pytest.mark.parametrize("value", ["bytes=10-", "bytes=-0"])
def test_unsatisfiable_ranges(value):
    with pytest.raises(DfError) as e:
        parse_range(value).resolve(10)
    assert e.value.http_status == 416 and e.value.detail["content_range"] == "bytes */10"
