"""dfget's fast path (flag parsing, ``--version``, ``--help``) loads no heavy package.

Each check runs a fresh interpreter, so modules other tests imported do not count. Speed itself is
measured by ``bench/dfget_startup.py``, not here.
"""
import json
import subprocess
import sys

HEAVY = ("flask", "werkzeug", "gevent", "prometheus_client", "yaml", "requests", "urllib3")


def loaded_after(code: str) -> tuple[set, str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.strip().splitlines()
    return set(json.loads(lines[-1])), "\n".join(lines[:-1])


def test_importing_the_cli_loads_no_heavy_package():
    loaded, _ = loaded_after("import dfdaemon.cli.dfget")
    assert "dfdaemon" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_version_is_answered_before_the_downloader_loads():
    loaded, printed = loaded_after(
        "from dfdaemon.cli.dfget import main\nassert main(['--version']) == 0")
    assert printed.startswith("dfget version:")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_and_flag_parsing_load_no_heavy_package():
    loaded, printed = loaded_after(
        "from dfdaemon.cli import dfget\n"
        "args = dfget.build_parser().parse_args(['-u', 'http://h/f', '--locallimit', '20M'])\n"
        "assert args.locallimit == 20 << 20, args.locallimit\n"
        "print(dfget.build_parser().format_help())")
    assert "--locallimit" in printed
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_package_names_still_resolve_lazily():
    loaded, printed = loaded_after("import dfdaemon.p2p as p\nprint(p.Downloader.__name__, p.ErrorCode.__name__)")
    assert printed == "Downloader ErrorCode"
    assert "requests" in loaded or "urllib3" in loaded      # the downloader did load when it was asked for
