"""Discrete-event simulation of a distribution to thousands of hosts, scheduled by the real supernode objects.

    python -m bench.simulate [--hosts 1000,10000] [--size-mib 1024] [--runs 1000x1024,10000x128]
                             [--piece-mib 4] [--jobs 2] [--no-write]

For every host count it runs two scenarios: all hosts alike (100 Mbit/s up and down, supernode 100 Mbit/s
up), and 10% slow hosts (a quarter of the rates) with 5% of the hosts leaving mid-run. It prints a table and
writes it to docs/benchmarks.md (section ``simulate``) and bench/results/simulate.json.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from bench.report import machine, print_table, table, write_section

from .measure import deep_size
from .swarm import WAKE, MiB, Scenario, Swarm

SCENARIOS = {"alike": {}, "10% slow + 5% leave": {"slow_share": 0.10, "leave_share": 0.05}}


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def run_one(args: tuple) -> dict:
    hosts, size, piece, label, seed = args
    sc = Scenario(hosts=hosts, file_size=size, piece_size=piece, seed=seed, **SCENARIOS[label])
    sw = Swarm(sc)
    wall = time.monotonic()
    sw.run()
    wall = time.monotonic() - wall
    stayed = [h for h in sw.hosts if not h.leaves]
    done = sorted(h.finished for h in stayed if h.finished is not None)
    t_min = sw.t_min()
    memory = deep_size((sw.services.state, sw.services.scheduler))
    return {"hosts": hosts, "file_mib": size // MiB, "piece_mib": piece // MiB, "scenario": label,
            "t_min": t_min, "p50": _pct(done, 0.5), "p99": _pct(done, 0.99), "last": done[-1] if done else None,
            "completed": len(done), "stayed": len(stayed), "left": hosts - len(stayed),
            "origin_x": sw.cdn.origin_bytes / size, "supernode_x": sw.sn_bytes / size,
            "requests_per_host": sw.pull_calls / hosts, "cpu_us_per_call": 1e6 * sw.cpu / max(1, sw.pull_calls),
            "failures": sw.failures, "memory_per_peer": memory / hosts, "wall_s": wall}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="1000,10000")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", default="", help="hosts x file MiB pairs, e.g. 1000x1024,10000x128 "
                    "(instead of --hosts and --size-mib)")
    ap.add_argument("--piece-mib", type=int, default=4)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    pairs = [tuple(int(x) for x in r.split("x")) for r in args.runs.split(",")] if args.runs else \
        [(int(n), args.size_mib) for n in args.hosts.split(",")]
    jobs = [(n, mib * MiB, args.piece_mib * MiB, label, args.seed)
            for n, mib in pairs for label in args.scenarios.split(",")]
    with mp.get_context("fork").Pool(max(1, args.jobs)) as pool:
        runs = pool.map(run_one, jobs, chunksize=1)
    headers = ["hosts", "file", "scenario", "T_min (s)", "p50 (s)", "p99 (s)", "last (s)", "last / T_min",
               "completed", "origin bytes", "supernode bytes", "/peer/task per host", "CPU per call (us)",
               "memory per peer (B)", "wall (s)"]
    rows = [[r["hosts"], f"{r['file_mib']} MiB", r["scenario"], r["t_min"], r["p50"], r["p99"], r["last"],
             (r["last"] or 0) / r["t_min"], f"{r['completed']}/{r['stayed']}", f"{r['origin_x']:.2f}x",
             f"{r['supernode_x']:.2f}x", r["requests_per_host"], round(r["cpu_us_per_call"]),
             round(r["memory_per_peer"]), round(r["wall_s"])] for r in runs]
    print_table(headers, rows)
    md = f"""## Simulated distribution to thousands of hosts (`python -m bench.simulate`)

A discrete-event simulation (bench/simulate/) drives the real supernode objects, built by `build_services`
with the default scheduler settings and `pull_hold` 0 (the simulator holds the 602 itself): every host
registers through `TaskManager.register`, runs dfget's loop through `TaskManager.pull` (700, then 701 carrying
each written piece's result), and the piece server's end of a supernode send is `supernode_sent`. Only the
network and the CDN's origin fetch are simulated. Hosts have 100 Mbit/s up and down and a one-way latency of
0.5-5 ms, register over the first 2 s, and fetch each piece as a transfer sharing the source's uplink and
their own downlink (rate = the smaller fair share); the supernode's uplink is 100 Mbit/s, its origin fetch
1 Gbit/s. A 602 waits until the task changes (a piece written, a supernode slot freed: {2} held calls answered
again per change) or 1 s. Slow hosts have a quarter of the rates; leaving hosts go between 10% and 66% of
T_min, half of them saying so (`/peer/service/down`), half vanishing (fetches from them fail after 2 s), and
the peer GC drops them 10 s later. Finished hosts stay as sources.
T_min = max(F/u_s, F/d_min, N*F/(u_s + sum of u)); times are from the first registration; "completed" counts
the hosts that did not leave. CPU per call is the process CPU time of the task manager's `pull` (scheduler
included) per call; memory per peer is the deep size of the scheduler state and scheduler at the end of the
run (every host holding the whole file) divided by the hosts. {args.piece_mib} MiB pieces. Machine:
{machine()}.

{table(headers, rows)}
"""
    if args.write:
        write_section("simulate", md, {"machine": machine(), "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
