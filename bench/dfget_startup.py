"""dfget start-up benchmark (issue 17): how long a `dfget` process takes before it does any work.

Each command runs ``--repeat`` times in a row (after one unmeasured warm-up run, so the page cache holds
the interpreter and the modules); the table gives the median, the fastest and the slowest wall time of the
whole process, and the CPU seconds of the median run. Rows:

- the interpreter alone (``python -c pass`` with the same virtualenv and site set-up): the floor;
- ``python -c "import dfdaemon.cli.dfget"``: a dfget process ready to parse its flags;
- ``dfget --version`` and ``dfget --help``: answered before the downloader loads;
- a 1-piece download (1 MiB file) through a supernode, with the CDN already holding it, ``-p cdn`` so no
  upload server starts: start-up plus one registration, one piece and the exit.

    python -m bench.dfget_startup [--repeat 20] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.report import machine, print_table, table, write_section
from tests.e2e.p2p_stack import SupernodeProcess, dfget_argv
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import script

MiB = 1 << 20
TARGET_S = 0.150


def timed(argv: list[str], repeat: int) -> dict:
    """Wall and CPU seconds of ``argv`` run ``repeat`` times (one warm-up first); each run must exit 0."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "cpu_s": statistics.median(cpus), "runs": len(walls)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    py, dfget = sys.executable, script("dfget")
    work = tempfile.mkdtemp(prefix="bench-dfget-start-")
    rows = {}
    try:
        rows["interpreter"] = timed([py, "-c", "pass"], args.repeat)
        rows["import"] = timed([py, "-c", "import dfdaemon.cli.dfget"], args.repeat)
        rows["version"] = timed([dfget, "--version"], args.repeat)
        rows["help"] = timed([dfget, "--help"], args.repeat)
        root = os.path.join(work, "origin")
        os.makedirs(root)
        make_file(os.path.join(root, "one.bin"), MiB)
        origin = OriginServer(root).start()
        sn = SupernodeProcess(os.path.join(work, "sn"), ["--log-level", "WARNING"])
        try:
            home = os.path.join(work, "home")
            rows["download"] = timed(dfget_argv(origin.url("one.bin"), os.path.join(work, "out.bin"), home,
                                                [sn.node], ["-p", "cdn", "--notbs"]), args.repeat)
        finally:
            sn.stop()
            origin.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    labels = (("interpreter", "`python -c pass` (floor)"), ("import", "`import dfdaemon.cli.dfget` (ready)"),
              ("version", "`dfget --version`"), ("help", "`dfget --help`"),
              ("download", "`dfget` 1 MiB, 1 piece, CDN warm, `-p cdn`"))
    head = ["process", "median (ms)", "min (ms)", "max (ms)", "CPU (ms, median)"]
    body = [[label, f"{1000 * rows[k]['median_s']:.0f}", f"{1000 * rows[k]['min_s']:.0f}",
             f"{1000 * rows[k]['max_s']:.0f}", f"{1000 * rows[k]['cpu_s']:.0f}"] for k, label in labels]
    print_table(head, body)
    ready = rows["version"]["median_s"]
    verdict = (f"`dfget --version` median {1000 * ready:.0f} ms against the 150 ms target: "
               f"{'met' if ready <= TARGET_S else 'not met'}")
    print(verdict)
    if args.no_write:
        return 0
    md = f"""## dfget start-up (`python -m bench.dfget_startup`)

Whole-process wall time, {args.repeat} runs per row after one warm-up run (median, fastest, slowest) and the
CPU seconds of the children; {machine()}.

{table(head, body)}

{verdict}. The flag parser, `--version` and `--help` load only the standard library, the error catalogue
and the option dataclasses; the downloader (requests, urllib3), the logging set-up, YAML (only with a config
file) and the upload server load when a download or `dfget server` runs. Nothing on dfget's path imports
Flask, gevent or prometheus_client (a unit test checks the modules a fresh interpreter holds after
importing the CLI).
"""
    write_section("dfget_startup", md, {"machine": machine(), "rows": rows, "repeat": args.repeat})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
