"""Hypothesis-generated hostile input for dfget: its flags (sizes, rates, durations, counts, headers, filters,
md5s, patterns, ports) and its YAML config file. dfget must answer bad input with its usage error (exit 1) or its
configuration error, never another exception or a stack trace; a run that gets past its flags ends with one of
its documented exit codes. Runs in-process; every URL points at a closed loopback port and the pattern is forced
to ``source`` last, so no supernode is asked and no upload server is started."""
from __future__ import annotations

import contextlib
import io
import os
import socket

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dfcommon.errors import ConfigError
from dfdaemon.cli import dfget, dfget_config
from dfdaemon.p2p.result import EXIT_DOWNLOAD, EXIT_OK, EXIT_PREPARE, EXIT_REGISTER, EXIT_USAGE

from .test_fuzz_supernode import SCALARS, SETTINGS, TEXT, write_report

COUNTS: dict[str, dict] = {}
EXITS = {EXIT_OK, EXIT_USAGE, EXIT_PREPARE, EXIT_REGISTER, EXIT_DOWNLOAD}
NUMBERISH = st.one_of(TEXT, st.sampled_from(["0", "-1", "20M", "1.5G", "99999999999999999999T", "3m", "1h30m",
                                             "nan", "inf", "1e308", "0x10", " 5 ", "", "-", "65536", "10KB/s"]))
VALUED = ["--locallimit", "--minrate", "--totallimit", "--timeout", "--clientqueue", "--md5", "--identifier",
          "--callsystem", "--pattern", "--filter", "--header", "--port", "--expiretime", "--alivetime",
          "--stall-timeout"]
FLAGS = st.lists(st.tuples(st.sampled_from(VALUED), NUMBERISH), max_size=6)
KEYS = ["nodes", "localLimit", "minRate", "totalLimit", "clientQueueSize", "stallTimeout", "workHome",
        "logConfig", "supernodeTls", "supernodeCa", "uploadTlsCert", "bogus", "maxSize"]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz-dfget")
    yield d
    write_report(COUNTS)


def _count(family: str, outcome: str) -> None:
    c = COUNTS.setdefault(family, {"inputs": 0})
    c["inputs"] += 1
    c[outcome] = c.get(outcome, 0) + 1


@SETTINGS
@given(flags=FLAGS, path=st.text(alphabet="abc/%?&=.", max_size=20))
def test_dfget_flags(work, flags, path):
    port = _closed_port()
    argv = ["-u", f"http://127.0.0.1:{port}/{path}", "-o", str(work / "out.bin"), "--home", str(work / "home"),
            "-n", f"127.0.0.1:{port}", "--console"]
    for flag, value in flags:
        argv += [flag, value]
    argv += ["-p", "source"]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = dfget.main(argv)
        except SystemExit as e:
            code = e.code
    assert code in EXITS, (argv, code)
    assert "Traceback" not in err.getvalue()
    assert not os.path.exists(work / "out.bin")            # nothing is served on that port: no output
    _count("dfget flags", "usage_error" if code == EXIT_USAGE else f"exit_{code}")


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(KEYS), st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                                                           st.dictionaries(TEXT, SCALARS, max_size=3)), max_size=6))
def test_dfget_config_file(work, doc):
    path = work / "dfget.yml"
    try:
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    except (yaml.YAMLError, UnicodeEncodeError):
        return
    try:
        conf = dfget_config.load_file_config(str(path))
        conf.log_config.check("logConfig")
        outcome = "loaded"
    except ConfigError as e:
        assert str(e) and "Traceback" not in str(e)
        outcome = "config_error"
    _count("dfget config file", outcome)
