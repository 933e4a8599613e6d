"""P2P download benchmark: N dfget clients on one file served by a local origin through one supernode.

Each client is limited with --locallimit (default 20M), so the lower bound for every N is
T_min = F / limit. Reports time to the last finisher against T_min, origin bytes per file, bytes the
supernode served and bytes peers served; plus one unlimited download against `curl` of the same file.

    python -m bench.p2p_download [--size-mib 256] [--clients 1,4,8] [--limit 20M]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from bench.report import machine, print_table, table, write_section
from dfcommon.units import parse_size
from tests.e2e.p2p_stack import SupernodeProcess, dfget_argv, stop_upload_servers
from tests.fixtures.origin import OriginServer, make_file

MiB = 1 << 20


def run_clients(sn, url, work, n, limit, tag) -> tuple[float, list[float]]:
    homes = [os.path.join(work, f"{tag}-h{i}") for i in range(n)]
    start = time.monotonic()
    procs = []
    for i, home in enumerate(homes):
        out = os.path.join(work, f"{tag}-out{i}")
        procs.append(subprocess.Popen(dfget_argv(url, out, home, [sn.node], ["--locallimit", limit, "--notbs"]),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    times, pending = [], list(procs)
    deadline = start + 1800
    while pending and time.monotonic() < deadline:       # record each client's own finish time
        for p in list(pending):
            if p.poll() is not None:
                times.append(time.monotonic() - start)
                pending.remove(p)
                out = p.stdout.read()
                if p.returncode != 0:
                    raise SystemExit(f"dfget failed ({p.returncode}):\n{out}")
        time.sleep(0.02)
    stop_upload_servers(*homes)
    if pending:
        raise SystemExit("dfget clients did not finish within 30 minutes")
    return max(times), times


def curl_time(url, dest) -> float:
    t = time.monotonic()
    subprocess.run(["curl", "-sf", "-o", dest, url], check=True)
    return time.monotonic() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--limit", default="20M")
    args = ap.parse_args(argv)
    size, limit_bps = args.size_mib * MiB, parse_size(args.limit)
    work = tempfile.mkdtemp(prefix="bench-p2p-")
    rows, data = [], {"machine": machine(), "size_bytes": size, "limit": args.limit, "runs": []}
    try:
        root = os.path.join(work, "origin")
        os.makedirs(root)
        for n in [int(x) for x in args.clients.split(",")]:
            name = f"blob{n}.bin"                   # a distinct file per N: every run starts cold
            make_file(os.path.join(root, name), size, seed=n)
            origin = OriginServer(root).start()
            sn = SupernodeProcess(os.path.join(work, f"sn{n}"), ["--max-bandwidth", "2G", "--system-bandwidth", "1M"])
            try:
                last, times = run_clients(sn, origin.url(name), work, n, args.limit, f"n{n}")
                sn_bytes = sn.metric("dragonfly_supernode_piece_server_bytes_total")
            finally:
                sn.stop()
                origin.stop()
            t_min = size / limit_bps
            origin_x = origin.bytes_sent["/" + name] / size
            peer_bytes = max(0.0, n * size - sn_bytes)
            run = {"clients": n, "last_s": last, "median_s": statistics.median(times), "t_min_s": t_min,
                   "ratio": last / t_min, "origin_x": origin_x, "supernode_copies": sn_bytes / size,
                   "peer_copies": peer_bytes / size}
            data["runs"].append(run)
            rows.append([n, last, statistics.median(times), t_min, last / t_min, origin_x,
                         sn_bytes / size, peer_bytes / size])
            for f in os.listdir(work):
                if f.startswith(f"n{n}-out"):
                    os.remove(os.path.join(work, f))
        # one unlimited download against curl of the same file
        make_file(os.path.join(root, "solo.bin"), size, seed=99)
        origin = OriginServer(root).start()
        sn = SupernodeProcess(os.path.join(work, "sn-solo"), ["--max-bandwidth", "20G", "--system-bandwidth", "1M"])
        try:
            t_curl = min(curl_time(origin.url("solo.bin"), os.path.join(work, "curl.out")) for _ in range(2))
            t_dfget, _ = run_clients(sn, origin.url("solo.bin"), work, 1, "0", "solo")
        finally:
            sn.stop()
            origin.stop()
        data["single"] = {"curl_MBps": size / t_curl / 1e6, "dfget_MBps": size / t_dfget / 1e6,
                          "ratio": t_curl / t_dfget}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    headers = ["clients", "last done (s)", "median (s)", "T_min (s)", "last/T_min", "origin bytes (x F)",
               "supernode sent (x F)", "peers sent (x F)"]
    print_table(headers, rows)
    s = data["single"]
    print(f"single unlimited download: dfget {s['dfget_MBps']:.0f} MB/s, curl {s['curl_MBps']:.0f} MB/s "
          f"({100 * s['ratio']:.0f}% of curl; includes the cold CDN fetch)")
    md = f"""## P2P download through one supernode (`python -m bench.p2p_download`)

{args.size_mib} MiB file from a local origin, every dfget limited with `--locallimit {args.limit}`, so
T_min = F / limit = {size / limit_bps:.1f} s for every N. Machine: {data['machine']}.

{table(headers, rows)}

Single unlimited download (cold: the supernode fetches from the origin while the client pulls pieces):
dfget {s['dfget_MBps']:.0f} MB/s against `curl` {s['curl_MBps']:.0f} MB/s of the same file, **{100 * s['ratio']:.0f}% of curl**.
"""
    write_section("p2p_download", md, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
