"""Defaults carry no per-download cap; an explicit limit still binds and says so (counters, not timings)."""
import logging
import os

import requests

from dfcommon.ratelimit import TokenBucket
from dfdaemon.cli import dfget, dfget_config as dc
from dfdaemon.config import load_config
from dfdaemon.metrics import DfdaemonMetrics
from dfdaemon.p2p import Downloader
from dfdaemon.p2p.back_source import BackSource
from dfdaemon.p2p.job import DownloadJob
from tests.fixtures.origin import OriginServer


def _opts(*argv):
    return dc.build_options(dfget.build_parser().parse_args(["-u", "http://h/f", *argv]), dc.load_file_config(legacy_path=""))


def test_defaults_have_no_limiter(tmp_path):
    assert load_config(None, environ={}).ratelimit == 0
    opts = _opts("--home", str(tmp_path))
    assert opts.local_limit == 0
    assert Downloader(opts).make_limiter(None) is None


def test_explicit_locallimit_and_ratelimit_keep_their_meaning(tmp_path):
    opts = _opts("--home", str(tmp_path), "--locallimit", "20M")
    lim = Downloader(opts).make_limiter(None)
    assert lim.rate == 20 << 20 and lim.source == "dfget --locallimit"
    assert load_config(None, overrides={"ratelimit": "20MB"}, environ={}).ratelimit == 20 << 20


def test_limiter_accounting_through_a_real_download(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "f.bin").write_bytes(os.urandom(3 << 20))
    srv = OriginServer(str(root)).start()
    try:
        unlimited = TokenBucket(0)
        BackSource(requests.Session(), unlimited).fetch(srv.url("f.bin"), [], str(tmp_path), ".a.")
        assert unlimited.waits == 0 and unlimited.wait_seconds == 0
        limited = TokenBucket(1 << 20, "test")      # 1 MiB/s: 3 MiB must wait for tokens
        BackSource(requests.Session(), limited).fetch(srv.url("f.bin"), [], str(tmp_path), ".b.")
        assert limited.bytes_passed == 3 << 20 and limited.waits > 0 and limited.wait_seconds > 0
    finally:
        srv.stop()


def test_bound_limit_logs_once_and_counts_in_the_metrics(tmp_path, caplog):
    dl = Downloader(_opts("--home", str(tmp_path), "--locallimit", "1M"))
    metrics = DfdaemonMetrics()
    dl.on_limit_wait = metrics.ratelimit_wait.inc
    job = DownloadJob.__new__(DownloadJob)
    job.dl, job.req = dl, type("R", (), {"url": "http://h/f"})()
    job.limiter = dl.make_limiter(None)
    job.limiter.waits, job.limiter.wait_seconds = 3, 0.5
    with caplog.at_level(logging.INFO, logger="dfdaemon.p2p.job"):
        job._log_limit(None)
    lines = [r.getMessage() for r in caplog.records if "rate limit bound" in r.getMessage()]
    assert len(lines) == 1 and "set_by=dfget --locallimit" in lines[0] and "limit=1048576B/s" in lines[0]
    assert dl.limit_bound_pulls == 1 and dl.limit_wait_seconds == 0.5
    assert b"dragonfly_dfdaemon_ratelimit_wait_seconds_total 0.5" in metrics.exposition()
