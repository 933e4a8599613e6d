"""Resident memory: the supernode while it caches and serves one blob (64 MiB, 256 MiB, 1 GiB: should be
flat in the blob size), and a dfdaemon while 8 skopeo pulls of different images run through it at once.

RSS is the sum of VmRSS over the process and its children, sampled every 0.1 s.

    python -m bench.memory [--sizes-mib 64,256,1024] [--pull-mib 64] [--pulls 8]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time

from bench.report import machine, print_table, table, write_section
from dfcommon.pieces import auto_piece_size
from tests.e2e.p2p_stack import SupernodeProcess, run_dfget, stop_upload_servers
from tests.fixtures.oci_image import build_oci_image
from tests.fixtures.origin import OriginServer, make_file
from tests.fixtures.registry import Registry
from tests.helpers import free_port, script, wait_port

MiB = 1 << 20


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def tree_rss(pid: int, field: str = "VmRSS") -> int:
    """``field`` (VmRSS, RssAnon or RssFile) in bytes, summed over ``pid`` and all its descendants."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class RssSampler:
    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self.anon: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.samples.append(tree_rss(self.pid))
            self.anon.append(tree_rss(self.pid, "RssAnon"))
            self._stop.wait(self.interval)

    def __enter__(self):
        self.baseline = tree_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    @property
    def peak(self) -> int:
        return max(self.samples or [self.baseline])


def supernode_rss(work: str, size_mib: int, piece_size: str = "") -> dict:
    """Peak RSS of a supernode caching and serving a ``size_mib`` blob (``piece_size`` "" = its default)."""
    root = os.path.join(work, f"origin-{size_mib}")
    os.makedirs(root, exist_ok=True)
    make_file(os.path.join(root, "blob.bin"), size_mib * MiB, seed=size_mib)
    origin = OriginServer(root).start()
    extra = ["--piece-size", piece_size] if piece_size else []
    sn = SupernodeProcess(os.path.join(work, f"sn-{size_mib}{piece_size}"),
                          ["--max-bandwidth", "20G", "--system-bandwidth", "1M", "--log-level", "WARNING", *extra])
    home = os.path.join(work, f"dfget-{size_mib}")
    try:
        time.sleep(0.5)
        with RssSampler(sn.proc.pid) as s:
            res = run_dfget(origin.url("blob.bin"), os.path.join(work, "out.bin"), home, [sn.node],
                            ["--locallimit", "0", "--notbs"], timeout=900)
        if res.returncode != 0:
            raise SystemExit(f"dfget failed: {res.stdout}{res.stderr}")
        served = sn.metric("dragonfly_supernode_piece_server_bytes_total")
    finally:
        stop_upload_servers(home)
        sn.stop()
        origin.stop()
        os.remove(os.path.join(root, "blob.bin"))
        if os.path.exists(os.path.join(work, "out.bin")):
            os.remove(os.path.join(work, "out.bin"))
    piece = (f"{piece_size} (set)" if piece_size
             else f"{auto_piece_size(size_mib * MiB) // MiB} MiB (default)")
    return {"size_mib": size_mib, "piece_size": piece, "baseline": s.baseline, "peak": s.peak, "served": served,
            "peak_anon": max(s.anon or [0])}


def dfdaemon_rss(work: str, pulls: int, size_mib: int) -> dict:
    reg = Registry(os.path.join(work, "registry")).start()
    sn = SupernodeProcess(os.path.join(work, "sn-daemon"), ["--log-level", "WARNING"])
    port = free_port()
    dhome = os.path.join(work, "dfdaemon")
    log = open(os.path.join(work, "dfdaemon.log"), "ab")
    daemon = subprocess.Popen([script("dfdaemon"), "--port", str(port), "--workHome", dhome, "--node", sn.node,
                               "--registry", reg.url, "--ratelimit", "0", "--log-level", "WARNING"],
                              stdout=log, stderr=subprocess.STDOUT)
    out = {"pulls": pulls, "size_mib": size_mib}
    try:
        for i in range(pulls):
            img = build_oci_image(os.path.join(work, f"img{i}"), layers=1, layer_size=size_mib * MiB, seed=100 + i)
            reg.push(img, f"bench/mem{i}")
        wait_port(port)
        home = os.path.join(work, "skopeo-home")
        conf = os.path.join(home, ".config", "containers")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "registries.conf"), "w") as f:
            f.write(f'[[registry]]\nprefix = "{reg.host}"\nlocation = "{reg.host}"\ninsecure = true\n'
                    f'[[registry.mirror]]\nlocation = "127.0.0.1:{port}"\ninsecure = true\n')
        env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home)
        policy = reg._policy()
        with RssSampler(daemon.pid) as s:
            t0 = time.monotonic()
            procs = [subprocess.Popen(["skopeo", "--policy", policy, "copy", "--src-tls-verify=false",
                                       f"docker://{reg.host}/bench/mem{i}:latest", f"dir:{work}/pulled{i}"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for i in range(pulls)]
            for p in procs:
                if p.wait(900) != 0:
                    raise SystemExit(f"skopeo pull through the dfdaemon failed: {p.stdout.read()}")
            out["seconds"] = time.monotonic() - t0
        out.update(baseline=s.baseline, peak=s.peak)
    finally:
        daemon.terminate()
        try:
            daemon.wait(15)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        sn.stop()
        reg.stop()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes-mib", default="64,256,1024")
    ap.add_argument("--pulls", type=int, default=8)
    ap.add_argument("--pull-mib", type=int, default=64)
    ap.add_argument("--fixed-piece-size", default="1M",
                    help="also run the largest blob with this piece size, to tell piece buffers from other growth "
                         "('' = skip)")
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-mem-")
    data = {"machine": machine(), "supernode": [], "dfdaemon": None}
    try:
        for size in [int(x) for x in args.sizes_mib.split(",")]:
            r = supernode_rss(work, size)
            data["supernode"].append(r)
            print(f"  supernode {size} MiB: baseline {r['baseline'] / MiB:.0f} MiB, peak {r['peak'] / MiB:.0f} MiB",
                  flush=True)
        if args.fixed_piece_size and data["supernode"]:
            data["supernode_fixed"] = supernode_rss(work, data["supernode"][-1]["size_mib"], args.fixed_piece_size)
        if shutil.which("skopeo") and shutil.which("docker-registry"):
            data["dfdaemon"] = dfdaemon_rss(work, args.pulls, args.pull_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = ["blob (MiB)", "piece size", "RSS before (MiB)", "peak RSS (MiB)", "growth (MiB)", "peak anonymous RSS (MiB)",
            "piece server sent (MiB)"]
    fixed = data.get("supernode_fixed")
    rows = [[r["size_mib"], r["piece_size"], r["baseline"] / MiB, r["peak"] / MiB, (r["peak"] - r["baseline"]) / MiB,
             r["peak_anon"] / MiB, r["served"] / MiB] for r in data["supernode"] + ([fixed] if fixed else [])]
    print_table(head, rows)
    flat_md = ""
    sn = data["supernode"]
    if len(sn) > 1:
        g0, g1 = (sn[0]["peak_anon"] - sn[0]["baseline"]), (sn[-1]["peak_anon"] - sn[-1]["baseline"])
        flat = sn[-1]["peak_anon"] <= sn[0]["peak_anon"] * 1.25
        flat_md = ("Flat in the blob size, as intended." if flat else
                   f"**Not flat:** the peak anonymous RSS grows from {sn[0]['peak_anon'] / MiB:.0f} MiB "
                   f"({sn[0]['size_mib']} MiB blob) to {sn[-1]['peak_anon'] / MiB:.0f} MiB "
                   f"({sn[-1]['size_mib']} MiB blob), about {(g1 - g0) / MiB / max(1e-9, (sn[-1]['size_mib'] - sn[0]['size_mib']) / 1024):.0f} "
                   "MiB more per GiB of blob; anonymous memory, not the page cache, grows. Why: the CDN holds whole pieces "
                   "in memory between the source and the disk (the piece being filled, up to `cdn_writers` (4) queued "
                   "and as many being hashed and written), and the default piece size grows with the blob (about 1/256 "
                   "of it: 1 MiB for 64 MiB and 256 MiB, 4 MiB for 1 GiB), so those buffers grow with it. "
                   "glibc's dynamic mmap threshold is fixed at start (M_MMAP_THRESHOLD = 1 MiB), so freed piece "
                   "buffers go back to the system instead of fragmenting the heap. Next step: write each piece to "
                   "disk block by block as it arrives, with its md5 computed on the way (a piece's header is known "
                   "before its bytes whenever the source length is), so the CDN holds a block, not pieces."
                   + (f" The last row shows it: with the piece size fixed at {fixed['piece_size'].split()[0]} the "
                      f"{fixed['size_mib']} MiB blob peaks at {fixed['peak_anon'] / MiB:.0f} MiB anonymous (the "
                      f"{sn[0]['size_mib']} MiB blob with its default pieces: {sn[0]['peak_anon'] / MiB:.0f} MiB)."
                      if fixed else ""))
    d = data["dfdaemon"]
    daemon_md = "dfdaemon: not measured (skopeo or docker-registry missing)."
    if d:
        daemon_md = (f"dfdaemon with {d['pulls']} concurrent skopeo pulls of different {d['size_mib']} MiB "
                     f"images (cold: every blob goes supernode -> P2P -> mirror): RSS {d['baseline'] / MiB:.0f} MiB "
                     f"before, peak **{d['peak'] / MiB:.0f} MiB** ({(d['peak'] - d['baseline']) / MiB:.0f} MiB growth), "
                     f"all pulls done in {d['seconds']:.1f} s.")
        print(daemon_md)
    md = f"""## Resident memory (`python -m bench.memory`)

Supernode RSS (process and children, sampled every 0.1 s) while it caches a blob from a local origin and
serves it to one unlimited dfget; the growth should not depend on the blob size. Machine: {data['machine']}.

{table(head, rows)}

{flat_md}

{daemon_md}
"""
    if args.write:
        write_section("memory", md, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
