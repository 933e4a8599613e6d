"""Lazy pulling benchmark: the last 64 KiB of a cold blob through the mirror, against the whole blob.

A fresh blob of ``--size-mib`` (default 512) is pushed to a real ``docker-registry``; a fresh dfdaemon (with a
supernode, default settings) is asked for ``Range: bytes=-65536`` of it, as a lazy-pulling snapshotter reads a
layer's footer; then a second fresh blob is pulled whole through another fresh dfdaemon. Every request is a
``curl`` (``time_total``). Runs several times (a fresh blob each) and reports medians.

    python -m bench.lazy_range [--size-mib 512] [--runs 3] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile

from bench.mirror_pull import REPO, make_blobs
from bench.report import machine, print_table, table, write_section
from tests.e2e.p2p_stack import SupernodeProcess
from tests.fixtures.registry import Registry
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess

MiB = 1 << 20
TAIL = 64 << 10
TARGET_S = 0.2
CONF = {"log_level": "WARNING", "stall_timeout": "120s", "upstream_timeout": "60s"}


def timed_get(url: str, range_header: str | None, expect: int) -> float:
    argv = ["curl", "-s", "-o", "/dev/null", "--max-time", "900", "-w", "%{http_code} %{size_download} %{time_total}"]
    if range_header:
        argv += ["-H", f"Range: {range_header}"]
    code, got, total = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout.split()
    if int(got) != expect or code not in ("200", "206"):
        raise SystemExit(f"{url}: HTTP {code}, {got} of {expect} bytes")
    return float(total)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    size = args.size_mib * MiB
    work = tempfile.mkdtemp(prefix="bench-lazy-")
    reg = Registry(os.path.join(work, "registry")).start()
    sn = SupernodeProcess(os.path.join(work, "sn"), ["--log-level", "WARNING"])
    tails, wholes, direct_tails = [], [], []
    try:
        for run in range(args.runs):
            footer_blob, whole_blob = make_blobs(reg.url, work, size, 2)
            a = DfdaemonProcess(os.path.join(work, f"a{run}"), nodes=[sn.node], remote=reg.url, extra=CONF)
            b = DfdaemonProcess(os.path.join(work, f"b{run}"), nodes=[sn.node], remote=reg.url, extra=CONF)
            try:
                path = f"/v2/{REPO}/blobs/"
                direct_tails.append(timed_get(reg.url + path + footer_blob, f"bytes=-{TAIL}", TAIL))
                tails.append(timed_get(a.url + path + footer_blob, f"bytes=-{TAIL}", TAIL))
                wholes.append(timed_get(b.url + path + whole_blob, None, size))
            finally:
                a.stop()
                b.stop()
    finally:
        sn.stop()
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    tail_s, whole_s, reg_s = (statistics.median(v) for v in (tails, wholes, direct_tails))
    headers = ["request", "median (s)", "runs (s)"]
    rows = [["last 64 KiB, registry direct", reg_s, " / ".join(f"{v:.3f}" for v in direct_tails)],
            ["last 64 KiB of a cold blob, mirror", tail_s, " / ".join(f"{v:.3f}" for v in tails)],
            [f"whole cold blob ({args.size_mib} MiB), mirror", whole_s, " / ".join(f"{v:.2f}" for v in wholes)]]
    print_table(headers, rows)
    verdict = (f"cold footer in {tail_s:.3f} s: {'meets' if tail_s <= TARGET_S else 'misses'} the "
               f"{TARGET_S} s goal; {whole_s / tail_s:.0f}x sooner than the whole blob")
    print(verdict)
    if args.no_write:
        return 0
    md = f"""## Lazy pulling: a cold footer (`python -m bench.lazy_range`)

The last 64 KiB (`Range: bytes=-65536`, what a lazy-pulling snapshotter reads first) of a fresh {args.size_mib} MiB
blob through a fresh dfdaemon mirror with a supernode (default settings), against the whole of another fresh blob
of the same size through another fresh mirror, and the same range from the registry directly; `curl` total times,
medians of {args.runs} runs, a fresh blob per run, all on loopback: {machine()}.

{table(headers, rows)}

{verdict}. The range is read from the origin at once while the whole blob keeps downloading through P2P into the
cache ([dfdaemon.md](dfdaemon.md#lazy-pulling)).
"""
    write_section("lazy_range", md, {"machine": machine(), "size_bytes": size, "tail_s": tails, "whole_s": wholes,
                                     "registry_tail_s": direct_tails})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
