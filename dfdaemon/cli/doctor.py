"""``dfdaemon doctor``: what this host's docker, containerd and podman need to pull through the dfdaemon.

Exit codes: 0 every check passed; 1 a runtime file needs the change printed; 2 no supernode (or the mirror)
answers; 3 both; 10 the dfdaemon configuration or the arguments are wrong.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from dfcommon.errors import ConfigError

EXIT_OK, EXIT_FIX, EXIT_UNREACHABLE, EXIT_CONFIG = 0, 1, 2, 10
MARK = {"ok": "ok  ", "fix": "FIX ", "fail": "FAIL", "skip": "skip"}


def build_parser() -> argparse.ArgumentParser:
    from dfdaemon.doctor.run import RUNTIMES, Paths
    d = Paths()
    p = argparse.ArgumentParser(
        prog="dfdaemon doctor", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check that docker, containerd and podman on this host send pulls to the dfdaemon mirror and "
                    "that the supernodes answer; print what to change.",
        epilog="exit codes: 0 all good, 1 a runtime file needs a change, 2 a supernode or the mirror does not "
               "answer, 3 both, 10 bad configuration or arguments")
    p.add_argument("--config", help="the dfdaemon's YAML config (its nodes, port and registries are the target)")
    p.add_argument("--node", action="append", default=None, help="supernode host[:port] (overrides the config)")
    p.add_argument("--mirror", default="", help="mirror URL the runtimes must use (default from the config)")
    p.add_argument("--registry", action="append", default=None, metavar="HOST",
                   help="registry host[:port] to check (repeat; default docker.io and the config's registries)")
    p.add_argument("--runtime", action="append", choices=RUNTIMES, default=None,
                   help="check only these runtimes (repeat); default: each one with a configuration directory")
    p.add_argument("--docker-config", default=d.docker_config, help=f"default {d.docker_config}")
    p.add_argument("--containerd-config", default=d.containerd_config, help=f"default {d.containerd_config}")
    p.add_argument("--containerd-certs-dir", default="",
                   help="hosts.toml directory (default: config_path from containerd's config, else "
                        "/etc/containerd/certs.d)")
    p.add_argument("--registries-conf", default=d.registries_conf, help=f"default {d.registries_conf}")
    p.add_argument("--offline", action="store_true", help="check files only, not the supernodes or the mirror")
    p.add_argument("--json", action="store_true", help="print the findings as JSON lines")
    return p


def exit_code(findings) -> int:
    code = EXIT_FIX if any(f.status == "fix" for f in findings) else EXIT_OK
    return code | (EXIT_UNREACHABLE if any(f.status == "fail" for f in findings) else 0)


def render(findings, as_json: bool) -> str:
    lines = []
    for f in findings:
        if as_json:
            lines.append(json.dumps(asdict(f)))
            continue
        lines.append(f"{MARK[f.status]} {f.check:<10} {f.message}")
        if f.fix:
            lines.append(f"     write into {f.path}:" if f.path else "     write:")
            lines.extend("       " + line for line in f.fix.rstrip("\n").splitlines())
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from dfdaemon.config import load_config
    from dfdaemon.doctor.run import Options, Paths, run_checks
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return EXIT_OK if e.code == 0 else EXIT_CONFIG
    overrides = {"nodes": [n.strip() for v in args.node for n in v.split(",") if n.strip()]} if args.node else {}
    try:
        config = load_config(args.config, overrides)
    except ConfigError as e:
        print(f"dfdaemon doctor: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    options = Options(paths=Paths(args.docker_config, args.containerd_config, args.containerd_certs_dir,
                                  args.registries_conf),
                      runtimes=tuple(args.runtime or ()), registries=tuple(args.registry or ()),
                      mirror_url=args.mirror, check_network=not args.offline)
    findings = run_checks(config, options)
    print(render(findings, args.json))
    code = exit_code(findings)
    if not args.json:
        print({0: "all checks passed", 1: "change the files above", 2: "fix the network or start the services "
               "above", 3: "change the files and fix the network above"}[code])
    return code
