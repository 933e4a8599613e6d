"""``dfdaemon`` command line: Dragonfly 1.x flag names, YAML config, ``DFDAEMON_*`` environment.

Exit codes as Dragonfly's dfdaemon: 0 ok, 10 bad configuration, 14 the port cannot be bound.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from dfcommon.errors import ConfigError

EXIT_CONFIG = 10
EXIT_PORT = 14
VERSION = "0.1.0"

EPILOG = """\
subcommands:
  dfdaemon version                 print the version as JSON
  dfdaemon config [flags]          print the effective configuration (secrets redacted)
  dfdaemon gen-ca [options]        create a CA certificate and key for HTTPS hijacking
  dfdaemon doctor [options]        check this host's docker/containerd/podman set-up and the supernodes
                                   (exit 0 ok, 1 a file to change, 2 unreachable, 3 both, 10 bad config)

examples:
  dfdaemon                                             # mirror Docker Hub on 127.0.0.1:65001 via 127.0.0.1:8002
  dfdaemon --config /etc/dragonfly/dfdaemon.yml
  dfdaemon --registry https://harbor.example.com --node 10.0.0.2:8002,10.0.0.3:8002
  dfdaemon --hostIp 0.0.0.0 --port 65001 --certpem mirror.crt --keypem mirror.key
  dfdaemon --workHome /var/lib/dragonfly --ratelimit 50MB --peerPort 15001
  dfdaemon config --registry http://127.0.0.1:5000     # show what would run

clients: containerd hosts.toml `[host."http://127.0.0.1:65001"] capabilities = ["pull", "resolve"]`
(the mirror reads ?ns=), dockerd `"registry-mirrors": ["http://127.0.0.1:65001"]` (Docker Hub only),
podman/skopeo registries.conf `[[registry.mirror]] location = "127.0.0.1:65001/<registry host>"`.

precedence: defaults < config file < DFDAEMON_<KEY> environment variables (e.g. DFDAEMON_PORT=65002) < flags.
Sizes take K/M/G suffixes (20MB), durations s/m/h (3m).
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dfdaemon", description="Registry mirror that pulls image layers through "
                                "the Dragonfly P2P network, for several (private) registries.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config file (e.g. /etc/dragonfly/dfdaemon.yml)")
    p.add_argument("--port", type=int, default=None, help="mirror port (default 65001)")
    p.add_argument("--hostIp", "--host-ip", dest="host_ip", default=None,
                   help="address the mirror listens on (default 127.0.0.1)")
    p.add_argument("--allowed-clients", dest="allowed_clients", action="append", default=None,
                   help="addresses or networks (CIDR) that may use the mirror/proxy; repeat or separate with "
                        "commas (needed, or --client-auth none, when --hostIp is not loopback)")
    p.add_argument("--client-auth", dest="client_auth", default=None, choices=("auto", "none"),
                   help="none: serve every client that reaches the port (unsafe off loopback); default auto")
    p.add_argument("--registry", default=None,
                   help="default upstream registry URL (overrides registry_mirror.remote; default Docker Hub)")
    p.add_argument("--node", action="append", default=None,
                   help="supernode host[:port][=weight]; repeat or separate with commas")
    p.add_argument("--workHome", "--work-home", dest="work_home", default=None,
                   help="work directory (default ~/.small-dragonfly)")
    p.add_argument("--localrepo", default=None, help="downloader home (default <workHome>/dfdaemon)")
    p.add_argument("--ratelimit", default=None, help="download rate limit, e.g. 20MB")
    p.add_argument("--peerPort", "--peer-port", dest="peer_port", type=int, default=None,
                   help="upload server port for peers (default: Dragonfly's port formula)")
    p.add_argument("--certpem", default=None, help="TLS certificate of the mirror listener")
    p.add_argument("--keypem", default=None, help="TLS key of the mirror listener")
    p.add_argument("--verbose", action="store_const", const=True, default=None, help="debug logging")
    p.add_argument("--log-level", dest="log_level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument("--log-json", dest="log_json", action="store_const", const=True, default=None,
                   help="log JSON lines")
    return p


def overrides_from(args) -> dict:
    out = {"port": args.port, "host_ip": args.host_ip, "work_home": args.work_home, "localrepo": args.localrepo,
           "ratelimit": args.ratelimit, "peer_port": args.peer_port, "certpem": args.certpem,
           "keypem": args.keypem, "log_json": args.log_json}
    if args.registry:
        out["registry_mirror"] = {"remote": args.registry}
    out["client_auth"] = args.client_auth
    if args.allowed_clients:
        out["allowed_clients"] = [n.strip() for v in args.allowed_clients for n in v.split(",") if n.strip()]
    if args.node:
        out["nodes"] = [n.strip() for v in args.node for n in v.split(",") if n.strip()]
    if args.verbose:
        out["verbose"], out["log_level"] = True, "DEBUG"
    elif args.log_level:
        out["log_level"] = args.log_level
    return out


def load(args):
    from dfdaemon.config import load_config
    return load_config(args.config, overrides_from(args))


def _gen_ca(argv) -> int:
    try:
        from dfdaemon.proxy.gen_ca import main as gen_ca_main
    except ImportError:
        print("dfdaemon: gen-ca is not available in this build", file=sys.stderr)
        return 1
    return int(gen_ca_main(argv) or 0)


def _proxy_handler(config, services):
    """The proxy mode's CONNECT-aware handler when ``proxies``/``hijack_https`` are configured."""
    if not (config.proxies or config.hijack_https):
        return None
    from dfdaemon.proxy import service as proxy_service
    build = getattr(proxy_service, "build_proxy", None)
    if build is None:
        raise ConfigError("proxies/hijack_https are configured but proxy mode is not available")
    proxy = build(config, services)
    services.extras["proxy"] = proxy
    return proxy.handler_class()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["version"]:
        print(json.dumps({"version": VERSION, "name": "dfdaemon"}))
        return 0
    if argv[:1] == ["gen-ca"]:
        return _gen_ca(argv[1:])
    if argv[:1] == ["doctor"]:
        from dfdaemon.cli.doctor import main as doctor_main
        return doctor_main(argv[1:])
    show = argv[:1] == ["config"]
    args = build_parser().parse_args(argv[1:] if show else argv)
    try:
        config = load(args)
    except ConfigError as e:
        print(f"dfdaemon: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if show:
        from dfdaemon.config import redacted
        print(json.dumps(redacted(config), indent=2))
        return 0
    from dfdaemon.wsgi import patch
    patch()
    from dfcommon.logging import setup_logging
    log_file = os.path.expanduser(config.log_config.path) if config.log_config.path else None
    setup_logging(config.log_level, config.log_json, logfile=log_file, rotate=config.log_config)
    _install_redaction(config)
    from dfdaemon.server import DfdaemonServer
    from dfdaemon.services import build_services
    try:
        from dfdaemon.client_guard import check_listener
        check_listener(config)                  # before anything starts: an open listener off loopback
        services = build_services(config)
        server = DfdaemonServer(config, services, handler_class=_proxy_handler(config, services))
    except ConfigError as e:
        print(f"dfdaemon: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        server.serve_forever()
    except OSError as e:
        print(f"dfdaemon: cannot listen on {config.host_ip}:{config.port}: {e.strerror or e}", file=sys.stderr)
        return EXIT_PORT
    return 0


def _install_redaction(config) -> None:
    try:
        from dfdaemon.mirror.redact import install_redaction
    except ImportError:
        return
    install_redaction(secrets=[r.password for r in config.registries if r.password])


if __name__ == "__main__":
    sys.exit(main())
