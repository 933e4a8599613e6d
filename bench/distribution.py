"""Distribution benchmark on emulated hosts: N bandwidth-limited hosts pull one image at the same moment.

An origin registry (docker-registry) runs in its own network namespace with egress u_s, the supernode in
another with egress u_sn, and N hosts each with egress u run a dfdaemon mirror; every host pulls the same
image with skopeo through its mirror (P2P). The same hosts then pull directly from the origin (direct).
With ``--client dfget`` the hosts run dfget on the blob URLs instead of a mirror (the P2P core alone).

    python -m bench.distribution [--size-mib 256] [--hosts 2,4,8] [--layers 1,4] [--uplink 100]
                                 [--client auto|mirror|dfget] [--no-direct] [--no-write]

The origin and the supernode stand for machines of their own: their sessions run at nice -10, so the
hosts' work, which shares the same cores here, does not starve them (``--no-infra-priority`` turns that off).

Needs root (network namespaces, tc). Rewrites the ``distribution`` section of docs/benchmarks.md and
docs/benchmark-distribution.png.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import requests

from bench import lab_services as svc
from bench.dist_report import render, write_plot
from bench.hosts import HostSpec, Lab, cleanup_stale, missing_requirements
from bench.report import RESULTS, machine, publish, write_section
from tests.fixtures.oci_image import build_oci_image

MiB = 1 << 20
PREFIX = "dfb"
INFRA_NICE = -10     # CPU priority of the origin's and the supernode's sessions (see --no-infra-priority)


def t_min(size: int, n: int, u_s: float, u: float, d: float | None) -> float:
    """Kumar-Ross lower bound max(F/u_s, F/d, N*F/(u_s + N*u)), rates in bytes/s (d None: unlimited)."""
    bounds = [size / u_s, n * size / (u_s + n * u)]
    if d:
        bounds.append(size / d)
    return max(bounds)


def _metrics(url: str) -> dict[str, float]:
    out = {}
    for line in requests.get(url, timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def _metric(metrics: dict, name: str, **labels) -> float:
    return sum(v for k, v in metrics.items()
               if k.partition("{")[0] == name and all(f'{a}="{b}"' in k for a, b in labels.items()))


class Distribution:
    """One Lab (origin, sn, h1..hN) and the runs made in it."""

    def __init__(self, args, work: str, image, repo: str, n: int):
        self.args, self.work, self.image, self.repo, self.n = args, work, image, repo, n
        self.hosts = [f"h{i + 1}" for i in range(n)]
        self.size = sum(b.size for b in image.blobs)
        self.lab: Lab | None = None
        self.registry = None

    def specs(self) -> list[HostSpec]:
        a = self.args
        down = f"{a.downlink}mbit" if a.downlink else None
        infra = INFRA_NICE if a.infra_priority else 0       # origin and supernode: machines of their own
        return ([HostSpec("origin", up=f"{a.origin_uplink or a.uplink}mbit", nice=infra),
                 HostSpec("sn", up=f"{a.sn_uplink or a.uplink}mbit", nice=infra)]
                + [HostSpec(h, up=f"{a.uplink}mbit", down=down) for h in self.hosts])

    def _snapshot(self) -> dict:
        lab = self.lab
        snap = {h: lab.qdisc_stats(h) for h in ["origin", "sn"] + self.hosts}
        snap["registry"] = svc.registry_blob_bytes(lab, self.registry)
        return snap

    def _deltas(self, before: dict, after: dict) -> dict:
        out = {}
        for h in ["origin", "sn"] + self.hosts:
            out[h] = {k: after[h][k] - before[h][k] for k in ("bytes", "packets", "dropped", "overlimits")}
        reg_b, reg_a = before["registry"], after["registry"]
        out["origin_blob_bytes"] = {b.digest: reg_a.get(b.digest, 0) - reg_b.get(b.digest, 0)
                                    for b in self.image.layers}
        return out

    def run(self, mode: str, client: str) -> dict:
        lab, work = self.lab, os.path.join(self.work, f"{mode}-{client}")
        os.makedirs(work, exist_ok=True)
        sn_ip = lab.ip("sn")
        daemons = []
        if mode == "p2p":
            daemons.append(svc.start_supernode(lab, "sn", os.path.join(work, "supernode"),
                                               self.args.supernode_args.split()))
            if client == "mirror":
                for h in self.hosts:
                    daemons.append(svc.start_dfdaemon(lab, h, os.path.join(work, f"df-{h}"), "sn", "origin"))
        procs = {}
        before = self._snapshot()
        with svc.CpuSampler(lab) as cpu:
            start = time.monotonic()
            for h in self.hosts:
                procs[h] = self._start_pull(h, mode, client, work)
            finish = svc.wait_all(lab, procs, start)
        last = max(finish.values())
        after = self._snapshot()
        result = {"mode": mode, "client": client, "hosts": self.n, "size_bytes": self.size,
                  "layers": len(self.image.layers), "times_s": finish, "last_s": last,
                  "median_s": statistics.median(finish.values()), "links": self._deltas(before, after),
                  "cpu": cpu.result(), "cpu_groups": lab.cpu.active}
        result["timeline_mbit"] = svc.summarize_timeline(result["cpu"].pop("timeline"), self.hosts, self.size)
        if mode == "p2p":
            m = _metrics(f"http://{sn_ip}:{svc.SN_PORT}/metrics")
            result["supernode_payload_bytes"] = _metric(m, "dragonfly_supernode_piece_server_bytes_total")
            result["pieces_from_peers"] = _metric(m, "dragonfly_supernode_pieces_reported_total", source="peer")
            result["pieces_from_supernode"] = _metric(m, "dragonfly_supernode_pieces_reported_total",
                                                      source="supernode")
            result["cdn_source_bytes"] = _metric(m, "dragonfly_supernode_cdn_download_size_bytes_total")
            result["pull_replies"] = {code: _metric(m, "dragonfly_supernode_pull_replies_total", code=code)
                                      for code in ("600", "601", "602")}
            result["api_requests"] = {h: _metric(m, "dragonfly_supernode_http_requests_total", handler=h)
                                      for h in ("/peer/task", "/peer/piece/suc", "/peer/registry")}
        self._verify(work, client if mode == "p2p" else "mirror")
        for p in daemons:
            lab.stop(p)
        for h in self.hosts:
            lab.kill_all(h)
        lab.kill_all("sn")
        shutil.rmtree(work, ignore_errors=True)
        return result

    def _start_pull(self, host: str, mode: str, client: str, work: str) -> list:
        lab = self.lab
        if client == "dfget" and mode == "p2p":
            home = os.path.join(work, f"dfget-{host}")
            os.makedirs(os.path.join(work, f"out-{host}"), exist_ok=True)
            procs = []
            for b in self.image.layers:
                url = f"http://{lab.ip('origin')}:{svc.REGISTRY_PORT}/v2/{self.repo.split(':')[0]}/blobs/{b.digest}"
                out = os.path.join(work, f"out-{host}", b.digest.split(":")[1])
                procs.append(lab.popen(host, svc.dfget_argv(lab, host, url, out, home, "sn"),
                                       name=f"dfget-{b.digest[7:19]}"))
            return procs
        home = svc.skopeo_home(lab, host, work, "origin", mirror=(mode == "p2p"))
        env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home)
        argv = svc.skopeo_pull_argv(lab, "origin", self.repo, os.path.join(work, f"out-{host}"), work,
                                    dest=self.args.skopeo_dest)
        return [lab.popen(host, argv, name=f"skopeo-{mode}", env=env)]

    def _verify(self, work: str, client: str) -> None:
        """Every host holds every layer byte-exact (skopeo checks digests itself; dfget output is hashed)."""
        import hashlib
        for h in self.hosts:
            out = os.path.join(work, f"out-{h}")
            for b in self.image.layers:
                if client == "dfget":
                    hs = hashlib.sha256()
                    with open(os.path.join(out, b.digest.split(":")[1]), "rb") as f:
                        for block in iter(lambda: f.read(MiB), b""):
                            hs.update(block)
                    ok = "sha256:" + hs.hexdigest() == b.digest
                else:
                    ok = os.path.getsize(svc.skopeo_blob_path(out, self.args.skopeo_dest, b.digest)) == b.size
                if not ok:
                    raise SystemExit(f"{h}: layer {b.digest} is wrong after the pull")


def run_case(args, work: str, layers: int, n: int, client: str, registry_dir: str, image, pushed: set) -> list:
    dist = Distribution(args, os.path.join(work, f"L{layers}-N{n}"), image, f"bench/img{layers}:latest", n)
    results = []
    with Lab(dist.specs(), prefix=PREFIX, workdir=os.path.join(work, f"lab-L{layers}-N{n}"),
             cpu_groups=args.cpu_groups) as lab:
        dist.lab = lab
        dist.registry = svc.start_registry(lab, "origin", registry_dir)
        if layers not in pushed:
            svc.push_image(lab, "origin", image.oci_ref, dist.repo, work)
            pushed.add(layers)
        bound = t_min(dist.size, n, (args.origin_uplink or args.uplink) * 1e6 / 8, args.uplink * 1e6 / 8,
                      args.downlink * 1e6 / 8 if args.downlink else None)
        for mode in (["p2p", "direct"] if args.direct else ["p2p"]):
            tries = []
            for _ in range(max(1, args.repeats) if mode == "p2p" else 1):
                r = dist.run(mode, client)
                r["t_min_s"] = bound
                r["ratio"] = r["last_s"] / r["t_min_s"]
                print(f"  layers={layers} N={n} {mode:6s} last={r['last_s']:.1f}s median={r['median_s']:.1f}s "
                      f"T_min={r['t_min_s']:.1f}s ratio={r['ratio']:.2f} cpu_busy={r['cpu']['machine_busy']:.0%}",
                      flush=True)
                tries.append(r)
            results.append(median_run(tries))
    return results


def median_run(tries: list) -> dict:
    """The run with the median time to the last host (the lower middle one of an even count), carrying the
    ratios of every repeat (``repeat_ratios``) so the report can show the spread."""
    ordered = sorted(tries, key=lambda r: r["last_s"])
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen["repeat_ratios"] = [round(r["ratio"], 3) for r in ordered]
    return chosen


def _sweep(args, work, layers, registry_dir, image, pushed) -> list:
    """P2P runs with other supernode flags (e.g. its per-task piece cap), to show what drives its copies."""
    out = []
    for flags in [f.strip() for f in args.sweep.split(";") if f.strip()]:
        sub = argparse.Namespace(**{**vars(args), "supernode_args": f"{args.supernode_args} {flags}".strip(),
                                    "direct": False, "repeats": 1})
        for r in run_case(sub, work, layers, args.sweep_hosts, args.client, registry_dir, image, pushed):
            r["supernode_args"] = sub.supernode_args
            out.append(r)
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256, help="image size (raw layer bytes), default 256")
    ap.add_argument("--hosts", default="2,4,8", help="numbers of hosts, comma-separated")
    ap.add_argument("--layers", default="1,4", help="layer counts of the image cases (size split evenly)")
    ap.add_argument("--uplink", type=float, default=100.0, help="host uplink u in Mbit/s")
    ap.add_argument("--origin-uplink", type=float, default=0.0, help="origin uplink u_s in Mbit/s (default u)")
    ap.add_argument("--sn-uplink", type=float, default=0.0, help="supernode uplink in Mbit/s (default u)")
    ap.add_argument("--downlink", type=float, default=0.0, help="host downlink d in Mbit/s (0: unlimited)")
    ap.add_argument("--client", default="auto", choices=("auto", "mirror", "dfget"),
                    help="P2P pulls through the dfdaemon mirror with skopeo, or dfget on blob URLs")
    ap.add_argument("--skopeo-dest", default="oci", choices=("oci", "dir"),
                    help="where skopeo copies the image: oci (an OCI layout: the layers are copied concurrently, as "
                         "docker, containerd and podman pull; default) or dir (one layer after the other)")
    ap.add_argument("--supernode-args", default="", help="extra supernode flags, e.g. '--max-bandwidth 11M'")
    ap.add_argument("--sweep", default="--piece-size 4M;--pull-hold 0;--supernode-upload-limit 100 --supernode-upload-total 0;"
                                     "--peer-up-limit 5",
                    help="';'-separated supernode flag sets for extra P2P runs of the last image case ('' = none)")
    ap.add_argument("--sweep-hosts", type=int, default=4, help="N of the sweep runs")
    ap.add_argument("--rate-check", default="50,75",
                    help="comma-separated lower link rates in Mbit/s (every link scaled alike) at which the largest "
                         "N runs again for each layer count, once each: the same distribution with less CPU per "
                         "second, to tell a CPU-bound figure from a link-bound one ('' = none)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each P2P case; the tables show the run with the median time (default 3; the "
                         "sweep runs once per flag set, direct pulls once: they vary little)")
    ap.add_argument("--workdir", default=default_workdir(),
                    help="where hosts keep their files (default: /dev/shm: every emulated host would have a disk "
                         "of its own; on one shared disk, N hosts writing 3 copies of the image each get throttled "
                         "together by the kernel's dirty-page limits)")
    ap.add_argument("--no-infra-priority", dest="infra_priority", action="store_false",
                    help=f"run the origin and the supernode at the hosts' CPU priority (default: nice {INFRA_NICE} for "
                         "their sessions, since in production each is a machine of its own that the hosts' work "
                         "cannot starve)")
    ap.add_argument("--cpu-groups", action="store_true",
                    help="run each emulated host in a CPU group of its own with equal weights (hosts, not threads, "
                         "share the cores when contended; measured slower here, see bench/cpugroups.py)")
    ap.add_argument("--no-direct", dest="direct", action="store_false", help="skip the direct pulls")
    ap.add_argument("--no-write", dest="write", action="store_false", help="print only, leave docs alone")
    ap.add_argument("--section", default="distribution",
                    help="docs/benchmarks.md section (and results file) to write; another name than the default "
                         "keeps the main section and its plot as they are (e.g. distribution_dfget)")
    ap.add_argument("--json", default="", help="also write the raw results (timelines included) to this file")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the docs section and plot from bench/results/distribution.json without running")
    ap.add_argument("--cluster", action="store_true",
                    help="the cluster case instead (bench/dist_cluster.py): one supernode against 3 members on one "
                         "redis-server, one dfget per host, and a member SIGKILLed at --kill-at; one blob of "
                         "--size-mib (default 128 here), --hosts default 4,8, section distribution_cluster")
    ap.add_argument("--cluster-cases", default="single,cluster,kill-other,kill-lease",
                    help="runs of each N in the cluster case, in this order: single (one supernode), cluster, "
                         "kill-other (a member without the origin lease killed), kill-lease (the lease holder)")
    ap.add_argument("--kill-at", type=float, default=0.3,
                    help="share of the N x F bytes the hosts have received when a member is killed (0.3)")
    ap.add_argument("--cluster-ttl", default="5s", help="members' cluster.member_ttl and cluster.lease_ttl (5s)")
    ap.add_argument("--keep-logs", default="", help="cluster case: copy the processes' logs to this directory")
    ap.add_argument("--cluster-heartbeat", default="500ms", help="members' cluster.heartbeat_interval (500ms)")
    ap.add_argument("--cluster-piece-source", default="holder", choices=("holder", "relay"),
                    help="members' cluster.piece_source: peers fetch the supernode's pieces from the member that "
                         "fetched the blob (holder, the default) or through their own member (relay)")
    args = ap.parse_args(argv)
    if args.cluster:
        given = {a.split("=", 1)[0] for a in (argv if argv is not None else sys.argv[1:])}
        if "--size-mib" not in given:
            args.size_mib = 128
        if "--hosts" not in given:
            args.hosts = "4,8"
        if "--repeats" not in given:
            args.repeats = 1
        if args.section == "distribution":
            args.section = "distribution_cluster"
        args.client, args.layers, args.direct = "dfget", "1", False
    if args.client == "auto":
        try:
            from tests.helpers import script
            script("dfdaemon")
            args.client = "mirror"
        except FileNotFoundError:
            args.client = "dfget"
    return args


def _rate_check(args, raw_flags: str, work, registry_dir, images: dict, pushed) -> list:
    """The largest N again with every link at a lower rate (``--rate-check``), once per layer count. The bytes and
    the schedule are the same, the CPU they need per second is lower: if last/T_min falls with the machine's load,
    CPU, not the links, set the full-rate figure."""
    rates = [float(x) for x in args.rate_check.split(",") if x.strip()]
    n = max(int(x) for x in args.hosts.split(","))
    out = []
    for rate in rates:
        scale = rate / args.uplink
        sub = argparse.Namespace(**{**vars(args), "uplink": rate, "origin_uplink": args.origin_uplink * scale,
                                    "sn_uplink": args.sn_uplink * scale, "downlink": args.downlink * scale,
                                    "supernode_args": raw_flags, "direct": False, "repeats": 1})
        sub.supernode_args = paced_supernode_args(sub)
        for layers, image in images.items():
            for r in run_case(sub, work, layers, n, args.client, registry_dir, image, pushed):
                r["uplink_mbit"] = rate
                out.append(r)
    return out


def default_workdir() -> str:
    """/dev/shm when it has room for the runs' files (about 4 GiB per 256 MiB image at N = 8), else TMPDIR."""
    try:
        st = os.statvfs("/dev/shm")
        return "/dev/shm" if st.f_bavail * st.f_frsize > 8 << 30 else ""
    except OSError:
        return ""


def paced_supernode_args(args) -> str:
    """The supernode's flags with its piece server paced at 99% of its link's TCP payload rate
    (1448 of every 1514 bytes on the wire), unless ``--upload-rate`` is given explicitly: about the rate at
    which pieces arrive from an origin with the same link, with room left for the ACKs of that download.
    At 97% the pieces it had not sent yet grew from 6 to 9-11 MB over a 4-layer run at N = 8 (about 0.8 s of
    its link at the end); at 99% they stayed at 4-6 MB, and the origin's download was not slowed."""
    if "--upload-rate" in args.supernode_args:
        return args.supernode_args
    link = (args.sn_uplink or args.uplink) * 1e6 / 8
    return f"{args.supernode_args} --upload-rate {int(link * 1448 / 1514 * 0.99)}".strip()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cluster:
        from bench import dist_cluster
        if not args.render_only:
            args.supernode_args = paced_supernode_args(args)
        return dist_cluster.run(args)
    raw_flags = args.supernode_args
    if not args.render_only:
        args.supernode_args = paced_supernode_args(args)
    if args.render_only:
        with open(os.path.join(RESULTS, f"{args.section}.json")) as f:
            data = json.load(f)
        if args.section == "distribution":
            write_plot(data)
        write_section(args.section, _titled(render(data), args.section), data)
        return 0
    why = missing_requirements()
    if why:
        print(f"distribution benchmark skipped: {why}")
        return 0
    cleanup_stale(PREFIX)
    work = tempfile.mkdtemp(prefix="bench-dist-", dir=args.workdir or None)
    data = {"machine": machine(), "args": vars(args), "runs": []}
    images: dict = {}
    try:
        registry_dir = os.path.join(work, "registry")
        pushed: set = set()
        for layers in [int(x) for x in args.layers.split(",")]:
            image = build_oci_image(os.path.join(work, f"oci-{layers}"), layers=layers,
                                    layer_size=args.size_mib * MiB // layers, seed=layers)
            images[layers] = image
            for n in [int(x) for x in args.hosts.split(",")]:
                data["runs"] += run_case(args, work, layers, n, args.client, registry_dir, image, pushed)
        data["sweep"] = _sweep(args, work, layers, registry_dir, image, pushed)     # on the last image case
        data["rate_check"] = _rate_check(args, raw_flags, work, registry_dir, images, pushed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.write and args.section == "distribution":
        write_plot(data)
    publish(_titled(render(data), args.section), data, args.json, args.section if args.write else None)
    return 0


def _titled(md: str, section: str) -> str:
    """The report under its own heading when it goes to another section than the main one (the main plot is
    not redrawn for it, so its image line is left out)."""
    if section == "distribution":
        return md
    lines = [ln for ln in md.splitlines() if "benchmark-distribution.png" not in ln]
    lines[0] = f"## Distribution to emulated hosts, section `{section}` (`python -m bench.distribution --section {section}`)"
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
