"""`make run`: start a supernode and a dfdaemon (mirror + peer upload server) with embedded defaults.

Everything lives under ./.run (local disk cache, SQLite job store); no external service is needed.
Ctrl-C stops every process cleanly. Ports: supernode API 8002, piece server 8001, dfdaemon 65001
(override with SUPERNODE_PORT, SUPERNODE_DOWNLOAD_PORT, DFDAEMON_PORT, DFGET_SERVER_PORT;
DFPY_RUN_DIR moves the state directory).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.environ.get("DFPY_RUN_DIR") or os.path.join(ROOT, ".run")
BIN = os.path.dirname(sys.executable)


def commands() -> list[tuple[str, list[str]]]:
    sn_port = os.environ.get("SUPERNODE_PORT", "8002")
    dl_port = os.environ.get("SUPERNODE_DOWNLOAD_PORT", "8001")
    cmds = [("supernode", [os.path.join(BIN, "supernode"), "--home-dir", os.path.join(RUN, "supernode"),
                           "--port", sn_port, "--download-port", dl_port, "--advertise-ip", "127.0.0.1",
                           "--listen-ip", "127.0.0.1", "--fetch-allow", "127.0.0.0/8,::1"])]   # a local registry may serve images
    dfdaemon = os.path.join(BIN, "dfdaemon")
    if os.path.exists(dfdaemon) and _importable("dfdaemon.cli.main"):
        cmds.append(("dfdaemon", [dfdaemon, "--work-home", os.path.join(RUN, "dfdaemon"),
                                  "--port", os.environ.get("DFDAEMON_PORT", "65001"),
                                  "--node", f"127.0.0.1:{sn_port}"]))
    else:
        cmds.append(("dfget-server", [os.path.join(BIN, "dfget"), "server", "--home", os.path.join(RUN, "dfget"),
                                      "--port", os.environ.get("DFGET_SERVER_PORT", "15001"), "--alivetime", "0"]))
    return cmds


def _importable(module: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main() -> int:
    os.makedirs(RUN, exist_ok=True)
    procs = []
    for name, argv in commands():
        print(f"starting {name}: {' '.join(argv)}", flush=True)
        procs.append((name, subprocess.Popen(argv)))
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print("stack running; try:  .venv/bin/dfget -u <url> -o <file> --node 127.0.0.1:8002   (Ctrl-C stops)", flush=True)
    rc = 0
    while not stopping:
        for name, p in procs:
            if p.poll() is not None:
                print(f"{name} exited with code {p.returncode}; stopping the stack", flush=True)
                rc = p.returncode or 1
                stopping = True
        time.sleep(0.2)
    for _, p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for name, p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
        print(f"{name} stopped", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
