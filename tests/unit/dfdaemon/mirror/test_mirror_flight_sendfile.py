"""A running flight's response body sent with os.sendfile by the data-path server (real sockets): every byte as
the flight writes it, the block with the last byte only after the digest check, a dropped connection otherwise."""
from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest
import requests

from dfcommon.errors import DfError
from dfcommon.wsgi_server import NoDelayWSGIServer
from dfdaemon.mirror.cache import BlobCache
from dfdaemon.mirror.flight import Flight
from dfdaemon.mirror.flight_body import FlightRange
from dfdaemon.server import RawHeadersHandler
from tests.unit.dfcommon.test_wsgi_server import Served

CHUNK = 256 << 10


class MirrorServer(NoDelayWSGIServer):
    handler_class = RawHeadersHandler


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def flight_for(tmp_path, data: bytes, digest: str) -> Flight:
    cache = BlobCache(str(tmp_path / "cache"), 1 << 30)
    flight = Flight(digest, cache.writer(digest), stall_timeout=10)
    flight.set_size(len(data))
    return flight


def produce(flight: Flight, data: bytes, end: str = "finish") -> threading.Thread:
    """Write ``data`` in chunks from another thread, then finish (or fail) the flight."""
    def run():
        for i in range(0, len(data), CHUNK):
            flight.write(data[i:i + CHUNK])
            time.sleep(0.002)
        if end == "finish":
            flight.finish()
        else:
            flight.fail(DfError("UPSTREAM_ERROR", "gone"))
    th = threading.Thread(target=run, daemon=True)
    return th


def app_for(flight: Flight, start: int, end: int, sent: list):
    fd = flight.open()          # taken before the flight can end, as the blob service does

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(end - start))])
        return FlightRange(flight, fd, start, end, sent=sent.append)
    return app


@pytest.mark.parametrize("start,end", [(0, None), (1000, (2 << 20) + 5)])
def test_growing_flight_is_sent_byte_for_byte(tmp_path, start, end):
    data = os.urandom((3 << 20) + 4321)
    end = len(data) if end is None else end
    flight = flight_for(tmp_path, data, digest_of(data))
    sent = []
    producer = produce(flight, data)
    with Served(app_for(flight, start, end, sent), MirrorServer) as srv:
        producer.start()
        r = requests.get(f"http://127.0.0.1:{srv.port}/blob", timeout=10)
    producer.join(10)
    assert r.status_code == 200 and r.content == data[start:end]
    assert sum(sent) == end - start


def test_iterated_without_sendfile_gives_the_same_bytes(tmp_path):
    data = os.urandom((1 << 20) + 99)
    flight = flight_for(tmp_path, data, digest_of(data))
    producer = produce(flight, data)
    body = FlightRange(flight, flight.open(), 0, len(data))
    producer.start()
    got = b"".join(body)
    body.close()
    producer.join(10)
    assert got == data


def test_digest_mismatch_drops_the_connection_before_the_last_block(tmp_path):
    data = os.urandom((2 << 20) + 10)
    flight = flight_for(tmp_path, data, digest_of(b"other bytes"))
    producer = produce(flight, data)
    with Served(app_for(flight, 0, len(data), []), MirrorServer) as srv:
        producer.start()
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(f"http://127.0.0.1:{srv.port}/blob", timeout=10).content
    producer.join(10)


def test_failure_before_the_first_byte_sends_no_status_line(tmp_path):
    data = os.urandom(1 << 20)
    flight = flight_for(tmp_path, data, digest_of(data))
    failer = produce(flight, b"", end="fail")
    with Served(app_for(flight, 0, len(data), []), MirrorServer) as srv:
        failer.start()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{srv.port}/blob", timeout=10)
    failer.join(10)
