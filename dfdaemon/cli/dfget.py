"""``dfget``: download a file through the P2P network, falling back to the source.

The composition root of the command: parse flags and the config file, set up logging,
build one :class:`Downloader`, run one download, print Dragonfly's console lines and
exit with its truncated error code. Subcommands: ``server`` (the peer upload server)
and ``version``.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from urllib.parse import urlsplit

from dfdaemon.p2p.version import VERSION

# Start-up: importing this module and answering ``--version`` load only the standard library; the flag
# parser adds the config dataclasses and the exit codes; the downloader (requests, urllib3), the logging
# set-up and the upload server load in run_download / main when a download or ``server`` actually runs.
EXIT_OK = 0     # dfdaemon.p2p.result.EXIT_OK, spelled here so that --version needs no import

EPILOG = """\
examples:
  dfget -u https://example.com/big.iso -o /tmp/big.iso
  dfget -u https://example.com/big.iso -n 10.0.0.1:8002=2,10.0.0.2 --locallimit 50M
  dfget -u 'https://bucket.example.com/obj?Expires=1&Signature=x' -f 'Expires&Signature' -o obj
  dfget -u https://registry.example.com/v2/lib/app/blobs/sha256:ab.. --header 'Authorization: Bearer T' \\
        -m 0123456789abcdef0123456789abcdef -o layer.tgz
  dfget -u http://example.com/f -p source          # no P2P: straight from the source
  dfget -u http://example.com/f --notbs            # never fall back to the source
  dfget -u http://example.com/f -b                 # progress bar on stderr
  dfget server --port 15001                        # run the peer upload server in the foreground
  dfget version                                    # or --version / -v

supernodes: -n/--node host[:port][=weight], repeatable or comma-separated; port defaults to 8002,
weight to 1. Without -n the nodes come from /etc/dragonfly/dfget.yml (nodes:), else 127.0.0.1:8002.
Precedence: defaults < config file (--config, default /etc/dragonfly/dfget.yml) < flags.
Rates and sizes take K/M/G suffixes (20M, 64KB); durations s/m/h (3m) or plain seconds.

"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        from dfdaemon.p2p.result import EXIT_USAGE
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _typed(fn, what):
    def conv(text):
        try:
            return fn(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: {e}") from None
    return conv


def build_parser() -> argparse.ArgumentParser:
    from dfdaemon.p2p.result import EXIT_CODES_HELP

    from . import dfget_config as dc
    p = _Parser(prog="dfget", description="Download a file through a Dragonfly P2P network; fall back to the "
                "source when P2P fails.", epilog=EPILOG + EXIT_CODES_HELP,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    size, dur = _typed(dc.size_arg, "size"), _typed(dc.duration_arg, "duration")
    p.add_argument("-u", "--url", help="URL of the file (http or https)")
    p.add_argument("-o", "--output", help="destination path (default: last element of the URL path)")
    p.add_argument("-s", "--locallimit", type=size, help="download rate limit, e.g. 20M (config localLimit, 20MB)")
    p.add_argument("--minrate", type=size, help="minimal rate, drives timeouts (config minRate, 64KB)")
    p.add_argument("--totallimit", type=_typed(dc.host_limit_arg, "size"), help="host upload limit given to the "
                   "upload server, e.g. 100M, or auto: 80%% of the fastest physical link (config totalLimit, 0)")
    p.add_argument("-e", "--timeout", "--exceed", type=dur, help="overall timeout, e.g. 5m "
                   "(default: length/minrate + 10s, 5m when the length is unknown)")
    p.add_argument("-m", "--md5", help="expected md5 of the whole file")
    p.add_argument("-i", "--identifier", help="task identifier, used only without --md5")
    p.add_argument("--callsystem", default="", help="name of the calling system (for metrics)")
    p.add_argument("--cacerts", action="append", default=[], help="extra CA certificate (PEM) for the source; "
                   "repeatable")
    p.add_argument("--insecure", action="store_true", help="skip TLS verification of the source")
    p.add_argument("-p", "--pattern", default="p2p", choices=("p2p", "cdn", "source"),
                   help="p2p (default), cdn (download without uploading) or source (no P2P)")
    p.add_argument("-f", "--filter", default="", help="'&'-separated query keys left out of the task URL")
    p.add_argument("--header", action="append", default=[], help="'Key: Value' sent to the source; repeatable")
    p.add_argument("-n", "--node", action="append", default=[], help="supernode host[:port][=weight]; "
                   "repeatable or comma-separated")
    p.add_argument("--notbs", action="store_true", help="never fall back to the source")
    p.add_argument("--dfdaemon", action="store_true", help="mark the call as coming from a dfdaemon")
    p.add_argument("--clientqueue", type=int, help="pieces fetched at once (config clientQueueSize, 6)")
    p.add_argument("--stall-timeout", type=dur, help="drop a peer that sends no byte of a piece for this long and "
                   "fetch the piece elsewhere, e.g. 10s; 0: only the per-piece timeout (config stallTimeout, 10s)")
    p.add_argument("-b", "--showbar", action="store_true", help="show a progress bar on stderr")
    p.add_argument("--console", action="store_true", help="log to stderr instead of <home>/logs/dfclient.log")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--home", help="work home (config workHome, ~/.small-dragonfly)")
    p.add_argument("--ip", help="IP peers use to reach this host (default: the address that reaches a supernode)")
    p.add_argument("--port", type=int, help="upload server port (default: any free port)")
    p.add_argument("--expiretime", type=dur, help="upload server: drop idle task files after this (3m)")
    p.add_argument("--alivetime", type=dur, help="upload server: exit after this long idle (5m)")
    p.add_argument("--config", help=f"config file (default {dc.DEFAULT_CONFIG})")
    auth = p.add_argument_group("component auth and TLS (supernodes with auth/TLS on)")
    auth.add_argument("--supernode-token-file", help="file with an API token of role peer "
                      "(or $DFGET_SUPERNODE_TOKEN, or supernodeTokenFile in the config)")
    auth.add_argument("--supernode-ca", action="append", default=[], help="CA certificate (PEM) of the "
                      "supernode and of https peers; implies https to the supernode; repeatable")
    auth.add_argument("--supernode-tls", action="store_true", help="https to the supernode (system CAs)")
    auth.add_argument("--upload-tls-cert", help="PEM certificate: the upload server this dfget starts serves "
                      "peers over https")
    auth.add_argument("--upload-tls-key", help="PEM key of --upload-tls-cert")
    return p


def default_output(url: str) -> str | None:
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def _printer(stream=None):
    out = stream or sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)
    return say


class _Bar:
    """A tqdm bar fed by polling the download's progress (bytes, speed, ETA) on stderr."""

    def __init__(self, progress):
        from tqdm import tqdm
        self.progress = progress
        self.bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.2):
            if self.progress.expected is not None and self.bar.total != self.progress.expected:
                self.bar.total = self.progress.expected
            self.bar.update(max(0, self.progress.ready - self.bar.n))

    def close(self):
        self._stop.set()
        self._thread.join(1.0)
        self.bar.close()


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_download(argv) -> int:
    from dfcommon.errors import ConfigError
    from dfdaemon.p2p.result import EXIT_DOWNLOAD, EXIT_PREPARE

    from . import dfget_config as dc
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("the -u/--url flag is required")
    if not args.url.lower().startswith(("http://", "https://")):
        parser.error(f"url {args.url!r} must start with http:// or https://")
    try:
        headers = [dc.parse_header(h) for h in args.header]
        file_conf = dc.load_file_config(args.config)
        file_conf.log_config.check("logConfig")
        options = dc.build_options(args, file_conf)
        from dfdaemon.p2p.locator import parse_nodes
        parse_nodes(options.nodes)
        from dfcommon.tls import check_pair
        check_pair(options.upload_tls_cert, options.upload_tls_key, "--upload-tls-cert/--upload-tls-key")
        for ca in options.supernode_ca:
            if not os.path.isfile(ca):
                raise ConfigError(f"--supernode-ca {ca} does not exist")
    except (ValueError, ConfigError) as e:
        parser.error(str(e))
    output = args.output or default_output(args.url)
    if not output:
        parser.error("cannot name the output after the URL; give -o/--output")
    say = _printer()
    try:
        os.makedirs(os.path.join(options.work_home, "logs"), exist_ok=True)
    except OSError as e:
        print(f"dfget: cannot create work home {options.work_home}: {e.strerror}", file=sys.stderr)
        return EXIT_PREPARE
    from dfcommon.logging import setup_logging
    from dfdaemon.p2p.downloader import Downloader
    from dfdaemon.p2p.stream import Progress
    level = "DEBUG" if args.verbose else "INFO"
    log_file = os.path.expanduser(file_conf.log_config.path) if file_conf.log_config.path else \
        os.path.join(options.work_home, "logs", "dfclient.log")
    setup_logging(level, logfile=None if args.console else log_file, rotate=file_conf.log_config)

    say(f"--{time.strftime('%Y-%m-%d %H:%M:%S')}--  {args.url}")
    say(f"dfget version:{VERSION}")
    say(f"workspace:{options.work_home}")
    downloader = Downloader(options)
    progress, cancelled = Progress(), threading.Event()
    bar = _Bar(progress) if args.showbar else None
    signal.signal(signal.SIGTERM, _terminate)
    start = time.monotonic()
    try:
        result = downloader.download(
            args.url, output, progress=progress, cancelled=cancelled, headers=headers, md5=args.md5 or "",
            identifier=args.identifier or "", filters=[f for f in args.filter.split("&") if f],
            pattern=args.pattern, notbs=args.notbs, timeout=args.timeout, insecure=args.insecure,
            cacerts=args.cacerts, call_system=args.callsystem, dfdaemon=args.dfdaemon, console=say)
    except KeyboardInterrupt:
        cancelled.set()
        say(f"download FAIL(1104) cost:{time.monotonic() - start:.3f}s length:0 reason:0 error:interrupted")
        return EXIT_DOWNLOAD
    finally:
        if bar is not None:
            bar.close()
        downloader.close()
    if result.success:
        say(f"download SUCCESS cost:{result.cost:.3f}s length:{result.length} reason:{result.reason}")
        return EXIT_OK
    say(f"download FAIL({int(result.code)}) cost:{result.cost:.3f}s length:{result.length} "
        f"reason:{result.reason} error:{result.message}")
    return result.exit_code


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "server":
        from dfdaemon.upload.cli import main as server_main
        return server_main(argv[1:])
    if argv and argv[0] in ("version", "--version", "-v"):
        print(f"dfget version:{VERSION}")
        return EXIT_OK
    return run_download(argv)


if __name__ == "__main__":
    sys.exit(main())
