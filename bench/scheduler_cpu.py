"""CPU per ``/peer/task`` call through the real Flask handler, by swarm size, in one process.

``bench.scheduler_rps`` measures calls per second over sockets with the load generator on the same cores,
so a busy machine moves its figures a lot. This one calls the supernode's WSGI app in-process (Flask's test
client: routing, parameter parsing, the task manager, the scheduler, the JSON reply) and counts the process
CPU time per call. P peers are registered through ``/peer/registry`` for one 1 GiB task (256 pieces of
4 MiB, all cached), each holding a random half of the pieces; every peer makes its first call (not
measured: it gets up to ``peer_down_limit`` pieces), then random peers run dfget's pull loop: a call
reporting the oldest piece handed out to it (result 501) and asking for the next one. Every row thus
measures the same kind of call (one report, about one piece handed out) whatever the swarm size. Memory per peer is the deep
size of the scheduler state divided by P.

    python -m bench.scheduler_cpu [--peers 8,128,1024,10000] [--calls 4000] [--no-write]
"""
from __future__ import annotations

import argparse
import random
import time

from bench.report import machine, print_table, table, write_section
from bench.simulate.measure import deep_size
from bench.simulate.network import EventQueue
from bench.simulate.swarm import MiB, Scenario, SimCdn
from supernode.app import create_app
from supernode.config import load_config
from supernode.scheduler.progress import SUCCESS
from supernode.services import build_services

URL = "http://origin.bench/blob"


def measure(peers: int, calls: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    sc = Scenario(hosts=peers, file_size=1 << 30, piece_size=4 * MiB, origin_rate=1e15)
    events = EventQueue()
    cdn = SimCdn(events, sc)
    conf = load_config(None, {"pull_hold": "0s", "piece_size": "4MiB"}, environ={})
    services = build_services(conf, cdn=cdn, rng=random.Random(seed))
    client = create_app(conf, services).test_client()
    st = services.state
    cids, task_id = [], ""
    for n in range(peers):
        cid = f"bench-{n}"
        body = {"rawUrl": URL, "taskUrl": URL, "cid": cid, "ip": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                "hostName": f"h{n}", "port": 15001, "path": f"/p/{cid}", "version": "bench", "callSystem": "bench"}
        task_id = client.post("/peer/registry", json=body).get_json()["data"]["taskId"]
        cids.append(cid)
        if n == 0:
            events.run()                    # the CDN "fetches" the whole file at once
    for cid in cids:                        # each peer holds a random half of the pieces
        dt = st.dfget_tasks.get(cid, task_id)
        for piece in rng.sample(range(256), 128):
            st.progress.update(cid, dt.peer_id, "", piece, SUCCESS)
    running: dict[str, list[tuple[str, str]]] = {cid: [] for cid in cids}
    handed = [0]                            # pieces handed out by the measured calls

    def call(cid: str) -> None:
        """One dfget pull-loop call: report the oldest piece handed out (501), or nothing (502)."""
        params = {"taskId": task_id, "srcCid": cid, "status": 701, "result": 502}
        mine = running[cid]
        if mine:
            rng_, dst = mine.pop(0)
            params.update(range=rng_, dstCid=dst, result=501)
        reply = client.get("/peer/task", query_string=params).get_json()
        if reply.get("code") == 601:
            data = reply.get("data") or ()
            mine.extend((d["range"], d["cid"]) for d in data)
            handed[0] += len(data)
        elif reply.get("code") == 600:      # finished: it registers again as a new download
            st.progress.init_client(task_id, cid, st.dfget_tasks.get(cid, task_id).peer_id)
            mine.clear()

    for cid in cids:                        # warm-up (not measured): every peer has its first pieces running,
        call(cid)                           # so each measured call reports one piece and gets about one
    handed[0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call(cids[rng.randrange(peers)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"peers": peers, "calls": calls, "cpu_us_per_call": 1e6 * cpu / calls, "calls_per_cpu_s": calls / cpu,
            "wall_s": wall, "pieces_per_call": handed[0] / calls, "memory_per_peer": deep_size((st, services.scheduler)) / peers}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="8,128,1024,10000")
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    runs = []
    measure(8, 500)             # not reported: the process's first calls (Flask's and the app's lazy set-up)
    for p in [int(x) for x in args.peers.split(",")]:
        r = measure(p, args.calls)
        runs.append(r)
        print(f"  peers={p} cpu/call={r['cpu_us_per_call']:.0f}us mem/peer={r['memory_per_peer']:.0f}B", flush=True)
    headers = ["peers", "calls", "pieces per call", "CPU per call (us)", "calls per CPU-second",
               "memory per peer (B)"]
    rows = [[r["peers"], r["calls"], round(r["pieces_per_call"], 2), round(r["cpu_us_per_call"]),
             round(r["calls_per_cpu_s"]), round(r["memory_per_peer"])] for r in runs]
    print_table(headers, rows)
    md = f"""## CPU per `/peer/task` call by swarm size (`python -m bench.scheduler_cpu`)

The supernode's WSGI app called in-process through Flask's test client (routing, parameters, task manager,
scheduler, metrics, JSON reply), one 1 GiB task of 256 pieces, every peer holding a random half of them.
Each peer first makes one call (not measured), then random peers run dfget's pull loop: a call reporting the
oldest piece handed out to it and asking for more, so every row measures the same kind of call ("pieces per
call"). A first, unreported run of 8 peers warms the process up (without it the first row came out up to 1.5x high in trial runs).
Process CPU time per call, so a busy machine changes the figures less than the socket benchmark's.
Memory per peer: deep size of the scheduler state (peers, dfget tasks, piece progress, metrics) over the
peers. Machine: {machine()}.

{table(headers, rows)}
"""
    if args.write:
        write_section("scheduler_cpu", md, {"machine": machine(), "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
