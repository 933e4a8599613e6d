"""``supernode`` command line: Dragonfly 1.x flag names, YAML config, environment overrides."""
from __future__ import annotations

import argparse
import json
import sys

from dfcommon.errors import ConfigError

EPILOG = """\
examples:
  supernode                                   # defaults: API on :8002, pieces on :8001, home /home/admin/supernode
  supernode --config /etc/dragonfly/supernode.yml
  supernode --home-dir /var/lib/supernode --advertise-ip 10.0.0.5 --max-bandwidth 1G
  supernode --cdn-pattern source              # peers fetch ranges from the source, the supernode stores nothing
  supernode --gc-meta-interval 30s --task-expire-time 10m --peer-gc-delay 1m
  supernode --peer-down-limit 8 --peer-up-limit 10 --scheduler-policy rarest-first
  supernode version                           # or --version: the version as JSON
  supernode policy list --server http://127.0.0.1:8002   # preheat policies (see: supernode policy --help)
  supernode keys generate --signing-key /etc/dragonfly/auth.key --public-key /etc/dragonfly/auth.pub
  supernode token --role admin --ttl 24h --config /etc/dragonfly/supernode.yml   # API token (auth.enabled)

precedence: defaults < config file (keys at top level or under base:) < SUPERNODE_<KEY> environment
variables (e.g. SUPERNODE_PORT=9002) < flags. Sizes take K/M/G suffixes (200MB), durations s/m/h (3m).
"""

# flag -> config key; every flag defaults to None so that only given flags override
FLAGS = [
    ("--port", "port", int, "API port for peers, preheat and webhooks (default 8002)"),
    ("--download-port", "download_port", int, "piece server port (default 8001)"),
    ("--listen-ip", "listen_ip", str, "address both servers bind (default 0.0.0.0)"),
    ("--advertise-ip", "advertise_ip", str, "IP given to peers for the piece server (default: the IP they used)"),
    ("--home-dir", "home_dir", str, "working directory; the CDN store lives in <home>/repo"),
    ("--max-bandwidth", "max_bandwidth", str, "total bandwidth of the host, e.g. 200MB"),
    ("--system-bandwidth", "system_bandwidth", str, "bandwidth reserved for the system, e.g. 20MB"),
    ("--cdn-pattern", "cdn_pattern", str, "local (cache in the CDN) or source (peers read the source)"),
    ("--storage-driver", "storage_driver", str, "CDN store driver: local, memory or an installed plug-in"),
    ("--fail-access-interval", "fail_access_interval", str, "how long a 404 source is refused, e.g. 3m"),
    ("--gc-initial-delay", "gc_initial_delay", str, "delay before the first GC, e.g. 6s"),
    ("--gc-meta-interval", "gc_meta_interval", str, "task and peer GC interval, e.g. 2m"),
    ("--task-expire-time", "task_expire_time", str, "idle time after which a task is collected, e.g. 3m"),
    ("--peer-gc-delay", "peer_gc_delay", str, "time after service-down before a peer is collected, e.g. 3m"),
    ("--gc-disk-interval", "gc_disk_interval", str, "disk GC interval, e.g. 15s"),
    ("--young-gc-threshold", "young_gc_threshold", str, "free space above which disk GC does nothing, e.g. 100GB"),
    ("--full-gc-threshold", "full_gc_threshold", str, "free space below which disk GC is full, e.g. 5GB"),
    ("--scheduler-policy", "scheduler_policy", str,
     "piece order: rarest-first, dragonfly, sequential or an installed plug-in"),
    ("--peer-up-limit", "peer_up_limit", int, "pieces one host's upload server serves at once, every task (4)"),
    ("--peer-down-limit", "peer_down_limit", int, "pieces one peer fetches at once; supernode cap per task (4)"),
    ("--supernode-upload-limit", "supernode_upload_limit", int,
     "pieces of one task the supernode sends at once (3; 0 = peer-down-limit)"),
    ("--supernode-upload-total", "supernode_upload_total", int,
     "pieces of all tasks the supernode sends at once (4; 0 = no such cap): about uplink / a peer's downlink + 1"),
    ("--source-streams", "source_streams", int,
     "connections one large download from the source uses at once, each a Range request per chunk (2; 1 = one)"),
    ("--source-chunk", "source_chunk", str, "bytes per Range request of such a download, e.g. 16MB (whole pieces)"),
    ("--piece-size", "piece_size", str, "piece size of new tasks, 1M-15M in whole MiB (0 = about 256 pieces per file)"),
    ("--upload-rate", "upload_rate", str, "piece server pacing, e.g. 11.5M bytes/s: a bit under the uplink (0 = off)"),
    ("--pull-hold", "pull_hold", str, "hold a 602 reply up to this long until new pieces exist, e.g. 1s (0 = off)"),
    ("--elimination-limit", "elimination_limit", int, "serving failures before a peer is dropped (5)"),
    ("--failure-count-limit", "failure_count_limit", int, "fetch failures before a peer uses the supernode only (5)"),
    ("--max-body-size", "max_body_size", str, "largest accepted request body, e.g. 1MB"),
    ("--log-level", "log_level", str, "DEBUG, INFO, WARNING or ERROR"),
    ("--fetch-allow", "fetch_allow", str,
     "hosts/networks the supernode may fetch from although local, e.g. 127.0.0.0/8,::1 (fetch.allow)"),
    ("--fetch-deny", "fetch_deny", str, "hosts/networks the supernode never fetches from (fetch.deny)"),
    ("--auth", "auth_mode", str, "auto (on with a generated key when the API is reachable from other hosts), "
     "on, or none (unsafe off loopback)"),
    ("--harbor-auth", "harbor_auth", str, "Authorization value(s) Harbor webhooks must send (webhooks.harbor_auth)"),
    ("--registry-auth", "registry_auth", str,
     "Authorization value(s) registry:2 notifications must send (webhooks.registry_auth)"),
    ("--webhook-auth", "webhook_auth_mode", str,
     "auto (a generated secret for receivers reachable from other hosts), on, or none (webhooks.auth_mode)"),
]
# flags of config sections
NESTED = {"fetch_allow": ("fetch", "allow"), "fetch_deny": ("fetch", "deny"), "auth_mode": ("auth", "mode"),
          "harbor_auth": ("webhooks", "harbor_auth"), "registry_auth": ("webhooks", "registry_auth"),
          "webhook_auth_mode": ("webhooks", "auth_mode")}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supernode", description="Dragonfly-compatible supernode: scheduler, CDN "
                                "cache and piece server for P2P file and image distribution.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config file (e.g. /etc/dragonfly/supernode.yml)")
    for flag, dest, typ, text in FLAGS:
        p.add_argument(flag, dest=dest, type=typ, default=None, help=text)
    p.add_argument("--log-json", dest="log_json", action="store_const", const=True, default=None,
                   help="log JSON lines instead of key=value text")
    p.add_argument("--debug", action="store_const", const=True, default=None, help="debug logging")
    return p


def print_version() -> None:
    from supernode.api.system import version_info
    print(json.dumps(version_info()))


def load(args: argparse.Namespace):
    from supernode.config import load_config
    overrides = {dest: getattr(args, dest) for _, dest, _, _ in FLAGS}
    for dest, (section, key) in NESTED.items():
        value = overrides.pop(dest)
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    overrides["log_json"] = args.log_json
    if args.debug:
        overrides["debug"] = True
        overrides["log_level"] = "DEBUG"
    return load_config(args.config, overrides)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["version"], ["--version"]):
        print_version()
        return 0
    if argv[:1] == ["policy"]:
        from supernode.policy_cli import main as policy_main
        return policy_main(argv[1:])
    if argv[:1] in (["token"], ["keys"]):
        from supernode.auth.cli import keys_main, token_main
        return (token_main if argv[0] == "token" else keys_main)(argv[1:])
    args = build_parser().parse_args(argv)
    # patch before the config is loaded: loading it imports the policy scheduler (APScheduler), whose
    # thread and event classes must be gevent's, or stopping it waits forever on a native thread
    from supernode.wsgi import patch
    patch()
    from supernode.malloc_tuning import tune_malloc
    tune_malloc()                       # piece buffers in their own mappings: memory flat in the blob size
    try:
        config = load(args)
        from supernode.scheduler import create_policy
        create_policy(config.scheduler_policy)
    except ConfigError as e:
        print(f"supernode: configuration error: {e}", file=sys.stderr)
        return 2
    from dfcommon.logging import setup_logging
    setup_logging(config.log_level, config.log_json)
    from supernode.server import SupernodeServer
    try:
        from supernode.auth.defaults import apply_safe_default
        from supernode.auth.webhook_defaults import apply_webhook_default
        apply_safe_default(config)      # auth on with a generated key when the API is reachable (auth.mode auto)
        apply_webhook_default(config)   # webhook receivers reachable from other hosts check a secret
        server = SupernodeServer(config)
    except ConfigError as e:
        print(f"supernode: configuration error: {e}", file=sys.stderr)
        return 2
    try:
        server.serve_forever()
    except OSError as e:
        print(f"supernode: cannot start: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
