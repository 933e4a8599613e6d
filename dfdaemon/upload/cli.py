"""``dfget server``: run the peer upload server in the foreground until it goes idle."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from dfcommon.errors import ConfigError
from dfcommon.logging import setup_logging
from dfcommon.linkspeed import parse_host_limit
from dfcommon.units import parse_duration, parse_size

READY_LINE = "dfget uploader server port is {port}"
DEFAULT_HOME = os.path.join("~", ".small-dragonfly")

log = logging.getLogger(__name__)


def _ensure_gevent() -> None:
    from dfcommon.gevent_patch import patch
    patch()


def _duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if value < 0:
        raise argparse.ArgumentTypeError("durations cannot be negative")
    return value


def _host_limit(text: str) -> int:
    try:
        return parse_host_limit(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dfget server", description="Serve downloaded pieces to other peers.")
    p.add_argument("--ip", default="0.0.0.0", help="address to listen on (the peer IP)")
    p.add_argument("--port", type=_port, default=0,
                   help="port to listen on; 0 picks one in 15000-65000 from the time")
    p.add_argument("--home", default=DEFAULT_HOME, help="work home (default ~/.small-dragonfly)")
    p.add_argument("--meta", default=None, help="meta file (default <home>/meta/host.meta)")
    p.add_argument("--data", default=None, help="data dir of served files (default <home>/data)")
    p.add_argument("--expiretime", type=_duration, default=180.0,
                   help="delete a file not accessed for this long (default 3m)")
    p.add_argument("--alivetime", type=_duration, default=300.0,
                   help="exit after this long without requests (default 5m, 0 = never)")
    p.add_argument("--totallimit", type=_host_limit, default=0, help="host upload limit, e.g. 20M, or auto "
                   "(80%% of the fastest physical link); default unlimited")
    p.add_argument("--gc-interval", type=_duration, default=15.0, help="period of the expiry walk (default 15s)")
    p.add_argument("--disk-max-used", type=_size, default=0,
                   help="bytes the served files may take; above it the least recently used go first, "
                        "e.g. 50G (default 0 = no limit)")
    p.add_argument("--disk-min-free", type=_size, default=0,
                   help="free bytes to keep on the data dir's disk, deleting least recently used files, "
                        "e.g. 5G (default 0 = no limit)")
    p.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)  # a socket bound by the launcher
    p.add_argument("--tls-cert", default="", help="PEM certificate: serve peers over https")
    p.add_argument("--tls-key", default="", help="PEM key of --tls-cert")
    p.add_argument("--trusted-keys", default=None,
                   help="directory of supernode token keys (default <home>/meta/trusted-keys; empty = no tokens)")
    p.add_argument("--supernode-ca", action="append", default=[],
                   help="CA certificate of an https supernode (for service-down reports); repeatable")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--console", action="store_true", help="log to stderr instead of <home>/logs/dfserver.log")
    return p


def _tls(args):
    from dfcommon.tls import check_pair, server_context
    check_pair(args.tls_cert, args.tls_key, "--tls-cert/--tls-key")
    return server_context(args.tls_cert, args.tls_key) if args.tls_cert else None


def _notifier(args):
    """Service-down reports with the supernode API token (``DFGET_SUPERNODE_TOKEN``) and CA when given."""
    from .notify import HttpServiceDown
    token = os.environ.get("DFGET_SUPERNODE_TOKEN") or None
    if not args.supernode_ca:
        return HttpServiceDown(token=token)
    from dfcommon.tls import client_verify
    return HttpServiceDown(token=token, scheme="https", verify=client_verify(args.supernode_ca))


def _detach_stdout() -> None:
    """After the ready line the parent stops reading: point stdout at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _ensure_gevent()
    import gevent

    from .gc import DiskLimits
    from .meta import write_service_port
    from .server import UploadServer

    home = os.path.expanduser(args.home)
    meta = args.meta or os.path.join(home, "meta", "host.meta")
    data = args.data or os.path.join(home, "data")
    os.makedirs(data, exist_ok=True)
    level = "DEBUG" if args.verbose else "INFO"
    if args.console:
        setup_logging(level)
    else:
        os.makedirs(os.path.join(home, "logs"), exist_ok=True)
        setup_logging(level, logfile=os.path.join(home, "logs", "dfserver.log"))

    try:
        tls = _tls(args)
    except ConfigError as e:
        print(f"dfget server: {e}", file=sys.stderr)
        return 1
    trusted = args.trusted_keys or os.path.join(home, "meta", "trusted-keys")
    listener = None
    if args.listen_fd is not None:
        import socket
        listener = socket.socket(fileno=args.listen_fd)
    server = UploadServer(data, ip=args.ip, port=args.port, alive=args.alivetime, expire=args.expiretime,
                          total_limit=args.totallimit, meta_path=meta, gc_interval=args.gc_interval,
                          listener=listener, trusted_keys_dir=trusted, ssl_context=tls,
                          notifier=_notifier(args),
                          disk_limits=DiskLimits(args.disk_max_used, args.disk_min_free))
    try:
        port = server.start()
    except OSError as e:
        print(f"dfget server: cannot listen on {args.ip}:{args.port}: {e}", file=sys.stderr)
        return 1
    write_service_port(meta, port)
    try:
        sys.stdout.write(READY_LINE.format(port=port) + "\n")
        sys.stdout.flush()
    except OSError:  # nobody reads our stdout any more; keep serving
        pass
    if not sys.stdout.isatty():
        _detach_stdout()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, lambda: gevent.spawn(server.stop))
    server.wait()
    return 0
