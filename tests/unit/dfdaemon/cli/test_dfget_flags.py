import pytest

from dfdaemon.cli import dfget
from dfdaemon.cli import dfget_config as dc
from dfdaemon.cli.dfget_config import DfgetFileConfig


def parse(*argv):
    return dfget.build_parser().parse_args(list(argv))


def test_every_flag_parses():
    a = parse("-u", "http://h/f", "-o", "/tmp/x", "-s", "10M", "--minrate", "32K", "--totallimit", "1G",
              "-e", "2m", "-m", "ab", "-i", "id", "--callsystem", "cs", "--cacerts", "a.pem", "--cacerts", "b.pem",
              "--insecure", "-p", "cdn", "-f", "a&b", "--header", "A: 1", "--header", "A: 2", "-n", "h1,h2=2",
              "-n", "h3:9000", "--notbs", "--dfdaemon", "--clientqueue", "3", "-b", "--console", "--verbose",
              "--home", "/tmp/h", "--ip", "10.0.0.9", "--port", "15001", "--expiretime", "90s",
              "--alivetime", "10m", "--config", "/tmp/c.yml")
    assert a.locallimit == 10 << 20 and a.minrate == 32 << 10 and a.totallimit == 1 << 30
    assert a.timeout == 120.0 and a.expiretime == 90.0 and a.alivetime == 600.0
    assert a.cacerts == ["a.pem", "b.pem"] and a.header == ["A: 1", "A: 2"]
    assert dc.split_nodes(a.node) == ["h1", "h2=2", "h3:9000"]
    assert a.notbs and a.dfdaemon and a.showbar and a.console and a.verbose and a.insecure
    assert a.pattern == "cdn" and a.clientqueue == 3 and a.port == 15001


def test_exceed_is_an_alias_of_timeout():
    assert parse("-u", "http://h/f", "--exceed", "30").timeout == 30.0


@pytest.mark.parametrize("argv", [["-u", "http://h/f", "-s", "lots"], ["-u", "http://h/f", "-p", "bt"],
                                  ["-u", "http://h/f", "--bogus"], ["-u", "http://h/f", "-e", "soon"]])
def test_bad_usage_exits_1(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        parse(*argv)
    assert ei.value.code == 1


def test_missing_url_and_bad_scheme_exit_1(capsys):
    for argv in ([], ["-u", "ftp://h/f"], ["-u", "http://h/f", "--header", "nocolon"],
                 ["-u", "http://h/f", "-n", "h:notaport"]):
        with pytest.raises(SystemExit) as ei:
            dfget.main(argv)
        assert ei.value.code == 1


def test_help_teaches_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as ei:
        dfget.main(["--help"])
    assert ei.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "dfget -u" in text and "79" in text and "1104" in text


def test_version_subcommand(capsys):
    assert dfget.main(["version"]) == 0
    assert capsys.readouterr().out.startswith("dfget version:")


def test_header_parsing():
    assert dc.parse_header("Authorization: Bearer a:b") == ("Authorization", "Bearer a:b")
    assert dc.parse_header("X:1") == ("X", "1")
    with pytest.raises(ValueError):
        dc.parse_header(": v")


def test_default_output_is_last_path_element():
    assert dfget.default_output("http://h/a/b.tgz?x=1") == "b.tgz"
    assert dfget.default_output("http://h/") is None


def test_cli_values_win_over_file():
    conf = DfgetFileConfig(nodes=["f1", "f2=3"], local_limit=5, min_rate=6, total_limit=7, client_queue_size=8,
                           work_home="/tmp/from-file")
    opts = dc.build_options(parse("-u", "http://h/f"), conf)
    assert (opts.nodes, opts.local_limit, opts.min_rate, opts.total_limit, opts.client_queue_size) == \
        (["f1", "f2=3"], 5, 6, 7, 8)
    assert opts.work_home == "/tmp/from-file"
    opts = dc.build_options(parse("-u", "http://h/f", "-n", "c1", "-s", "1M", "--minrate", "1K", "--totallimit", "2M",
                                  "--clientqueue", "2", "--home", "/tmp/cli"), conf)
    assert (opts.nodes, opts.local_limit, opts.min_rate, opts.total_limit, opts.client_queue_size) == \
        (["c1"], 1 << 20, 1 << 10, 2 << 20, 2)
    assert opts.work_home == "/tmp/cli"


def test_no_nodes_anywhere_gives_the_default_node():
    opts = dc.build_options(parse("-u", "http://h/f"), DfgetFileConfig())
    assert opts.nodes == ["127.0.0.1:8002=1"]
