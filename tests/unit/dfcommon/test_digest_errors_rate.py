import hashlib
import threading
import time

import pytest

from dfcommon.digest import DigestVerifier, is_digest, parse_digest
from dfcommon.errors import CATALOGUE, DfError
from dfcommon.ratelimit import TokenBucket


def test_digest_parsing_and_verification():
    d = "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert parse_digest(d)[0] == "sha256" and is_digest(d)
    for bad in ("sha256:xyz", "md5:abc", "", "sha256:" + "A" * 64, "../../etc"):
        with pytest.raises(DfError) as e:
            parse_digest(bad)
        assert e.value.http_status == 400
    v = DigestVerifier(d)
    v.update(b"ab")
    v.update(b"c")
    assert v.matches() and v.actual == d and v.length == 3


def test_error_catalogue_envelopes():
    e = DfError("BLOB_UNKNOWN", detail={"digest": "x"})
    assert e.oci()["errors"][0]["code"] == "BLOB_UNKNOWN" and e.http_status == 404
    assert e.problem()["status"] == 404
    assert all(k.http_status >= 200 for k in CATALOGUE.values())
    with pytest.raises(KeyError):
        DfError("NO_SUCH_KIND")


def test_token_bucket_limits_total_throughput():
    bucket = TokenBucket(1 << 20)  # 1 MiB/s, starts with 1 s of tokens
    done = []

    def worker():
        for _ in range(8):
            bucket.acquire(64 * 1024)
        done.append(1)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 2 MiB through a 1 MiB/s bucket that starts full must have waited for refill
    assert len(done) == 4 and time.monotonic() - start >= 0.8
    TokenBucket(0).acquire(10 << 30)  # unlimited returns at once
