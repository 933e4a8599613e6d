"""Cluster case of the distribution benchmark (``python -m bench.distribution --cluster``).

One lab holds the origin (docker-registry), a lone supernode ``sn``, three cluster members ``sn1``-``sn3`` with
a redis-server in a host of its own, and N hosts, every one a network namespace with the same egress limit.
For each N the same file (one blob) goes to N hosts, one dfget per host, started at once:

- ``one supernode``: every dfget on ``sn`` (the dfget-per-host case of ``distribution_dfget``);
- ``cluster``: the dfgets spread over the three members (host i on member i mod 3, ``--node`` listing all three);
- ``cluster, kill``: the same, and one member SIGKILLed when the hosts have received 30% of the N x F bytes:
  ``other`` kills a member that does not hold the origin lease, ``lease`` the one that does.

Every run starts fresh members (empty CDN store) on a fresh redis-server, so each fetches the blob from the
origin anew. Measured per run: the time to the last host, the registry's body bytes of the blob, the hosts'
outputs (sha256), each member's peak RSS (VmHWM), CPU time and ``/metrics`` (Redis round trips per
``/peer/task`` call, piece bytes sent, bytes relayed between members).
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time

import requests

from bench import cluster_lab
from bench import lab_services as svc
from bench.hosts import HostSpec, Lab, LabError, cleanup_stale, missing_requirements
from bench.report import RESULTS, machine, publish, write_section
from tests.fixtures.oci_image import build_oci_image
from tests.helpers import round_trip_report, sha256_file

MiB = 1 << 20
PREFIX = "dfk"
MEMBERS = ("sn1", "sn2", "sn3")
WIRE = 1514 / 1448          # Ethernet frame bytes per TCP payload byte at full-size segments
CASES = ("single", "cluster", "kill-other", "kill-lease")
REPO = "bench/cluster"


def metric(text: str, name: str, **labels) -> float:
    """Sum of the samples of exactly ``name`` (labels filtered) in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, _, value = line.rpartition(" ")
        if key.partition("{")[0] == name and all(f'{a}="{b}"' in key for a, b in labels.items()):
            total += float(value)
    return total


class RxWatcher:
    """Calls ``action`` once when the hosts together have received ``threshold`` bytes on their eth0 since
    ``base`` (read from /proc/<pid>/net/dev of a process in each host's namespace: no command spawned)."""

    def __init__(self, lab: Lab, pids: dict[str, int], base: dict[str, int], threshold: float, action):
        self.lab, self.pids, self.base, self.threshold, self.action = lab, pids, base, threshold, action
        self.fired_at: float | None = None
        self.received_at_fire = 0
        self._stop = threading.Event()
        self._last = dict(base)
        self._thread = threading.Thread(target=self._loop, name="rx-watcher", daemon=True)
        self.error: BaseException | None = None

    def _rx(self, host: str) -> int:
        try:
            with open(f"/proc/{self.pids[host]}/net/dev") as f:
                for line in f:
                    name, _, rest = line.partition(":")
                    if name.strip() == "eth0":
                        self._last[host] = int(rest.split()[0])
        except OSError:
            pass                               # the process ended: keep its last reading
        return self._last[host]

    def _loop(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(0.05):
            got = sum(self._rx(h) - self.base[h] for h in self.pids)
            if got >= self.threshold:
                self.fired_at = time.monotonic() - t0
                self.received_at_fire = got
                try:
                    self.action()
                except BaseException as e:     # reported by the run, which then fails clearly
                    self.error = e
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


class ClusterDistribution:
    """The lab and the runs made in it (see the module docstring)."""

    def __init__(self, args, work: str):
        self.args, self.work = args, work
        self.ns = sorted(int(x) for x in args.hosts.split(","))
        self.all_hosts = [f"h{i + 1}" for i in range(max(self.ns))]
        self.size = args.size_mib * MiB
        self.lab: Lab | None = None
        self.registry = None
        self.blob = None
        self.url = ""

    def specs(self) -> list[HostSpec]:
        a = self.args
        up = f"{a.uplink}mbit"
        infra = -10 if a.infra_priority else 0           # origin, supernodes, Redis: machines of their own
        sn_up = f"{a.sn_uplink or a.uplink}mbit"
        return ([HostSpec("origin", up=f"{a.origin_uplink or a.uplink}mbit", nice=infra),
                 HostSpec("sn", up=sn_up, nice=infra), HostSpec("redis", nice=infra)]
                + [HostSpec(m, up=sn_up, nice=infra) for m in MEMBERS]
                + [HostSpec(h, up=up) for h in self.all_hosts])

    def prepare(self, lab: Lab) -> None:
        self.lab = lab
        image = build_oci_image(os.path.join(self.work, "oci"), layers=1, layer_size=self.size, seed=14)
        self.blob = image.layers[0]
        self.registry = svc.start_registry(lab, "origin", os.path.join(self.work, "registry"))
        svc.push_image(lab, "origin", image.oci_ref, f"{REPO}:latest", self.work)
        self.url = f"http://{lab.ip('origin')}:{svc.REGISTRY_PORT}/v2/{REPO}/blobs/{self.blob.digest}"
        shutil.rmtree(os.path.join(self.work, "oci"), ignore_errors=True)

    def t_min(self, n: int) -> float:
        a = self.args
        u_s, u = (a.origin_uplink or a.uplink) * 1e6 / 8, a.uplink * 1e6 / 8
        return max(self.size / u_s, n * self.size / (u_s + n * u))

    # ------------------------------------------------------------------ supernodes
    def _sn_flags(self) -> list[str]:
        return [*svc.SN_FLAGS, *self.args.supernode_args.split()]

    def _start_members(self, work: str) -> tuple[dict, str]:
        lab = self.lab
        _, redis_url = cluster_lab.start_redis(lab, "redis", os.path.join(work, "redis"), probe_host=MEMBERS[0])
        timings = {"heartbeat_interval": self.args.cluster_heartbeat, "member_ttl": self.args.cluster_ttl,
                   "lease_ttl": self.args.cluster_ttl,
                   "piece_source": getattr(self.args, "cluster_piece_source", "holder")}
        members = {}
        for m in MEMBERS:
            cfg = cluster_lab.member_config(lab, os.path.join(work, m), m, redis_url, svc.SN_PORT,
                                            svc.SN_DOWNLOAD_PORT, timings=timings)
            members[m] = cluster_lab.start_member(lab, m, cfg, self.all_hosts[0], svc.SN_PORT, svc.SN_DOWNLOAD_PORT,
                                                  extra=self._sn_flags())
        return members, redis_url

    def _read_member(self, m: str, proc) -> dict:
        text = requests.get(f"http://{self.lab.ip(m)}:{svc.SN_PORT}/metrics", timeout=5).text
        mean, calls = cluster_lab.round_trips_per_pull(text)
        return {"peak_rss": cluster_lab.peak_rss_bytes(proc.pid), "round_trips_mean": mean, "pull_calls": calls,
                "payload_bytes": metric(text, "dragonfly_supernode_piece_server_bytes_total"),
                "cdn_bytes": metric(text, "dragonfly_supernode_cdn_download_size_bytes_total"),
                "relayed_bytes": metric(text, "dragonfly_supernode_cluster_cross_member_piece_bytes_total"),
                "cross_peer_pieces": metric(text, "dragonfly_supernode_cluster_cross_member_peer_pieces_total"),
                "lease_takeovers": metric(text, "dragonfly_supernode_cluster_lease_takeovers_total"),
                "round_trips_by_call": round_trip_report([text]), "killed": False}

    # ------------------------------------------------------------------ one run
    def run(self, n: int, case: str) -> dict:
        lab, hosts = self.lab, self.all_hosts[:n]
        work = os.path.join(self.work, f"N{n}-{case}")
        os.makedirs(work, exist_ok=True)
        load = os.getloadavg()
        if case == "single":
            sns = {"sn": svc.start_supernode(lab, "sn", os.path.join(work, "sn"), self._sn_flags())}
            redis_url, assign = None, {h: "sn" for h in hosts}
        else:
            sns, redis_url = self._start_members(work)
            assign = {h: MEMBERS[i % len(MEMBERS)] for i, h in enumerate(hosts)}
        before = svc.registry_blob_bytes(lab, self.registry).get(self.blob.digest, 0)
        up_before = {h: lab.qdisc_stats(h)["bytes"] for h in sns}
        rx_base = {h: lab.link_bytes(h)["rx_bytes"] for h in hosts}
        member_stats: dict[str, dict] = {}
        kill: dict = {}

        def do_kill():
            holders = cluster_lab.lease_holders(redis_url)
            holder = next(iter(holders.values()), None)
            if case == "kill-lease":
                victim = holder
            else:
                victim = next(m for m in MEMBERS if m != holder)
            if victim is None:
                raise LabError("no member held the origin lease when 30% of the bytes had arrived")
            member_stats[victim] = self._read_member(victim, sns[victim])
            member_stats[victim]["killed"] = True
            os.killpg(sns[victim].pid, signal.SIGKILL)
            sns[victim].wait(10)
            kill.update(member=victim, lease_holder=(victim == holder), holder=holder,
                        dfgets_on_it=sum(1 for v in assign.values() if v == victim))

        procs = {}
        with svc.CpuSampler(lab) as cpu:
            start = time.monotonic()
            for h in hosts:
                nodes = (cluster_lab.nodes_arg(lab, MEMBERS, assign[h], svc.SN_PORT) if case != "single" else None)
                argv = svc.dfget_argv(lab, h, self.url, os.path.join(work, f"out-{h}"), os.path.join(work, f"home-{h}"),
                                      "sn", nodes=nodes)
                procs[h] = lab.popen(h, argv, name=f"dfget-{case}")
            watcher = None
            if case.startswith("kill"):
                watcher = RxWatcher(lab, {h: p.pid for h, p in procs.items()}, rx_base,
                                    self.args.kill_at * n * self.size * WIRE, do_kill)
                watcher.__enter__()
            try:
                finish, codes = _wait(procs, start)
            finally:
                if watcher:
                    watcher.__exit__()
        if watcher and watcher.error:
            raise LabError(f"the kill at {self.args.kill_at:.0%} failed: {watcher.error}")
        if watcher and watcher.fired_at is None:
            raise LabError(f"the hosts finished before {self.args.kill_at:.0%} of the bytes were counted")
        for m, p in sns.items():
            if m not in member_stats:
                member_stats[m] = self._read_member(m, p)
        origin = svc.registry_blob_bytes(lab, self.registry).get(self.blob.digest, 0) - before
        up_bytes = {h: lab.qdisc_stats(h)["bytes"] - up_before[h] for h in sns}
        uplinks = sum(up_bytes.values())
        for m, b in up_bytes.items():
            member_stats[m]["uplink_bytes"] = b
        exact = {}
        for h in hosts:
            out = os.path.join(work, f"out-{h}")
            exact[h] = codes[h] == 0 and os.path.exists(out) and "sha256:" + sha256_file(out) == self.blob.digest
        cpu_res = cpu.result()
        cpu_res.pop("timeline", None)
        ok_times = [t for h, t in finish.items() if codes[h] == 0]
        result = {"case": case, "hosts": n, "size_bytes": self.size, "times_s": finish, "exit_codes": codes,
                  "last_s": max(finish.values()), "t_min_s": self.t_min(n), "origin_bytes": origin,
                  "supernode_uplink_bytes": uplinks, "byte_exact": exact, "assign": assign,
                  "members": member_stats, "load_at_start": [round(x, 2) for x in load],
                  "machine_busy": cpu_res["machine_busy"], "cpu_per_host_s": cpu_res["per_host_s"],
                  "failed_hosts": sorted(h for h in hosts if not exact[h]), "last_ok_s": max(ok_times or [0])}
        if kill:
            kill.update(at_s=round(watcher.fired_at, 2), received_fraction=watcher.received_at_fire / WIRE /
                        (n * self.size))
            result["kill"] = kill
        self._cleanup(hosts, work)
        return result

    def _cleanup(self, hosts, work) -> None:
        for h in [*hosts, "sn", *MEMBERS, "redis"]:
            self.lab.kill_all(h)
        if self.args.keep_logs:                 # the dfgets' and supernodes' own log files of this run
            dest = os.path.join(self.args.keep_logs, os.path.basename(work))
            for root, _, files in os.walk(work):
                for name in files:
                    if name.endswith(".log"):
                        rel = os.path.relpath(os.path.join(root, name), work)
                        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                        shutil.copy(os.path.join(root, name), os.path.join(dest, rel))
        shutil.rmtree(work, ignore_errors=True)


def _wait(procs: dict, start: float, timeout: float = 900) -> tuple[dict, dict]:
    """Wait for every dfget; returns (finish time after ``start``, exit code) per host (a failure is kept, not
    raised: the kill runs report whether every host finished correctly)."""
    done, codes = {}, {}
    deadline = start + timeout
    while len(done) < len(procs):
        if time.monotonic() > deadline:
            for h, p in procs.items():
                if h not in done:
                    p.kill()
                    done[h], codes[h] = time.monotonic() - start, "timeout"
            break
        for h, p in procs.items():
            if h not in done and p.poll() is not None:
                done[h], codes[h] = time.monotonic() - start, p.returncode
        time.sleep(0.02)
    return done, codes


def _log(r: dict) -> None:
    kill = r.get("kill")
    extra = (f" killed={kill['member']} lease_holder={kill['lease_holder']} at={kill['at_s']}s "
             f"({kill['received_fraction']:.0%})" if kill else "")
    print(f"  N={r['hosts']} {r['case']:10s} last={r['last_s']:.1f}s T_min={r['t_min_s']:.1f}s "
          f"ratio={r['last_s'] / r['t_min_s']:.2f} origin={r['origin_bytes'] / r['size_bytes']:.2f}x "
          f"exact={sum(r['byte_exact'].values())}/{r['hosts']} busy={r['machine_busy']:.0%} "
          f"load={r['load_at_start'][0]}{extra}", flush=True)
    for m, rec in sorted((r.get("members") or {}).items()):
        if rec.get("round_trips_by_call"):
            print(f"    {m} Redis round trips per call:\n{rec['round_trips_by_call']}", flush=True)


def run(args) -> int:
    """The cluster case: checks, runs, report (``args`` from bench.distribution's parser)."""
    from bench.dist_cluster_report import render
    section = args.section
    if args.render_only:
        import json
        with open(os.path.join(RESULTS, f"{section}.json")) as f:
            data = json.load(f)
        write_section(section, render(data), data)
        return 0
    why = missing_requirements() or cluster_lab.redis_missing()
    if why:
        print(f"cluster distribution benchmark: {why}", flush=True)
        return 2
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            print(f"cluster distribution benchmark: {tool} is not installed", flush=True)
            return 2
    cleanup_stale(PREFIX)
    work = tempfile.mkdtemp(prefix="bench-cluster-", dir=args.workdir or None)
    data = {"machine": machine(), "args": vars(args), "runs": []}
    bench = ClusterDistribution(args, work)
    cases = [c for c in CASES if c in args.cluster_cases.split(",")]
    try:
        with Lab(bench.specs(), prefix=PREFIX, workdir=os.path.join(work, "lab")) as lab:
            bench.prepare(lab)
            for rep in range(max(1, args.repeats)):
                for n in bench.ns:
                    for case in cases:
                        r = bench.run(n, case)
                        r["repeat"] = rep
                        _log(r)
                        data["runs"].append(r)
    finally:
        if args.keep_logs:
            shutil.copytree(os.path.join(work, "lab", "logs"), args.keep_logs, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    data["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    publish(render(data), data, args.json, section if args.write else None)
    return 0


__all__ = ["ClusterDistribution", "RxWatcher", "metric", "run"]
