"""Mirror benchmark (issue 3): one blob pulled through the dfdaemon mirror against `curl` from the registry.

Single host, several runs each (medians): (a) `curl` straight from the registry; (b) through a mirror
with nothing cached anywhere (fresh blob: neither the supernode CDN nor any host has it); (c) through
a second host's mirror once the blob is in the P2P network (from a peer / the CDN); (d) the first
host's mirror again (its verified local cache). Then N dfdaemon hosts (separate processes, work homes
and ports) pull one fresh blob at once through a counting front: bytes the registry served per blob and
the time each host took. Every pull is `curl -w '%{time_starttransfer} %{speed_download}'`.

    python -m bench.mirror_pull [--size-mib 256] [--hosts 1,3,8] [--runs 3] [--no-profile]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile

import requests

from bench.cpu import proc_cpu
from bench.pyspy import Profiler
from bench.report import machine, print_table, table, write_section
from tests.e2e.p2p_stack import SupernodeProcess
from tests.fixtures.counting_front import CountingFront
from tests.fixtures.origin import make_file
from tests.fixtures.registry import Registry
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess

MiB = 1 << 20
REPO = "bench/mirror"
CURL_W = "%{http_code} %{time_starttransfer} %{speed_download} %{time_total} %{size_download}"
MIRROR_CONF = {"log_level": "WARNING", "stall_timeout": "120s", "upstream_timeout": "60s"}
TARGET_WARM, TARGET_TTFB_S, TARGET_BYTES = 0.70, 0.2, 1.0


# ------------------------------------------------------------------ registry content
def push_blob(registry_url: str, path: str, digest: str) -> None:
    """Monolithic upload: POST an upload session, then PUT the file (streamed) with ?digest=."""
    r = requests.post(f"{registry_url}/v2/{REPO}/blobs/uploads/", timeout=(5, 30))
    if r.status_code != 202:
        raise SystemExit(f"upload session refused: {r.status_code} {r.text[:200]}")
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else registry_url + loc
    with open(path, "rb") as f:
        r = requests.put(loc, params={"digest": digest}, data=f, timeout=(5, 600),
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(os.path.getsize(path))})
    if r.status_code != 201:
        raise SystemExit(f"blob upload refused: {r.status_code} {r.text[:200]}")


def make_blobs(registry_url: str, work: str, size: int, count: int) -> list[str]:
    """``count`` distinct blobs of ``size`` bytes in the registry; returns their digests."""
    digests = []
    path = os.path.join(work, "blob.bin")
    for _ in range(count):
        digest = "sha256:" + make_file(path, size, seed=int.from_bytes(os.urandom(8), "big"))
        push_blob(registry_url, path, digest)
        digests.append(digest)
    os.remove(path)
    return digests


# ------------------------------------------------------------------ pulls
def curl_argv(url: str) -> list[str]:
    return ["curl", "-s", "-o", "/dev/null", "--max-time", "900", "-w", CURL_W, url]


def parse_curl(out: str, size: int, what: str) -> dict:
    code, ttfb, speed, total, got = out.split()
    if code != "200" or int(got) != size:
        raise SystemExit(f"{what}: HTTP {code}, {got} of {size} bytes")
    return {"ttfb_s": float(ttfb), "MBps": float(speed) / 1e6, "total_s": float(total)}


def pull(base: str, digest: str, size: int) -> dict:
    out = subprocess.run(curl_argv(f"{base}/v2/{REPO}/blobs/{digest}"), capture_output=True, text=True,
                         check=True).stdout
    return parse_curl(out, size, base)


def pull_many(bases: list[str], digest: str, size: int) -> list[dict]:
    """Start one curl per base URL at once; return each one's figures."""
    procs = [subprocess.Popen(curl_argv(f"{b}/v2/{REPO}/blobs/{digest}"), stdout=subprocess.PIPE, text=True)
             for b in bases]
    return [parse_curl(p.communicate()[0], size, b) for p, b in zip(procs, bases)]


# ------------------------------------------------------------------ phases
def single_host(reg: Registry, sn: SupernodeProcess, work: str, size: int, runs: int, profile: bool) -> dict:
    """Phases (a)-(d); every run uses a fresh blob so (b) is cold everywhere."""
    digests = make_blobs(reg.url, work, size, runs + (1 if profile else 0))
    warm = make_blobs(reg.url, work, MiB, 1)[0]
    a = DfdaemonProcess(os.path.join(work, "host-a"), nodes=[sn.node], remote=reg.url, extra=MIRROR_CONF)
    b = DfdaemonProcess(os.path.join(work, "host-b"), nodes=[sn.node], remote=reg.url, extra=MIRROR_CONF)
    c = DfdaemonProcess(os.path.join(work, "host-c"), nodes=[sn.node],
                        extra={**MIRROR_CONF, "registry_mirror": {"remote": reg.url, "direct": True}})
    out = {k: [] for k in ("direct", "cold", "peer", "local", "nop2p", "peer_from_supernode_x")}
    out.update(registry_x={}, cpu_s={}, profiles={}, profiled_run={})
    try:
        for host in (a, b, c):          # a long-running dfdaemon: first-request imports are done
            pull(host.url, warm, MiB)
        for i, digest in enumerate(digests):
            prof = i == runs             # the extra last run is profiled and kept out of the medians
            figures = out["profiled_run"] if prof else out

            def measured(phase, host):
                """Pull through ``host``; add its figures, its CPU time, or (profiled run) its profile."""
                c0, s0 = proc_cpu(host.proc.pid), proc_cpu(sn.proc.pid)
                with Profiler(host.proc.pid, os.path.join(work, phase + ".txt"), prof) as p, \
                        Profiler(sn.proc.pid, os.path.join(work, phase + "-sn.txt"), prof and phase == "cold") as q:
                    figures.setdefault(phase, []).append(pull(host.url, digest, size))
                if prof:
                    out["profiles"][phase] = p.summary()
                    if phase == "cold":
                        out["profiles"]["supernode_cold"] = q.summary()
                    return
                out["cpu_s"][phase] = out["cpu_s"].get(phase, 0.0) + (proc_cpu(host.proc.pid) - c0) / runs
                out["cpu_s"]["supernode_" + phase] = (out["cpu_s"].get("supernode_" + phase, 0.0)
                                                      + (proc_cpu(sn.proc.pid) - s0) / runs)

            figures.setdefault("direct", []).append(pull(reg.url, digest, size))
            measured("cold", a)
            sn0 = sn.metric("dragonfly_supernode_piece_server_bytes_total")
            measured("peer", b)
            figures.setdefault("peer_from_supernode_x", []).append(
                (sn.metric("dragonfly_supernode_piece_server_bytes_total") - sn0) / size)
            measured("local", a)
            out["registry_x"][digest] = registry_bytes(reg, digest) / size     # before host c fetches it
            measured("nop2p", c)
    finally:
        for host in (a, b, c):
            host.stop()
    return out


def many_hosts(reg: Registry, sn: SupernodeProcess, work: str, size: int, n: int) -> dict:
    """N dfdaemons pull one fresh blob at once through a counting front."""
    digest, warm = make_blobs(reg.url, work, size, 1)[0], make_blobs(reg.url, work, MiB, 1)[0]
    front = CountingFront(reg.url).start()
    hosts = []
    try:
        for i in range(n):
            hosts.append(DfdaemonProcess(os.path.join(work, f"n{n}-h{i}"), nodes=[sn.node], remote=front.url,
                                         extra=MIRROR_CONF))
        pull_many([h.url for h in hosts], warm, MiB)
        sn0, load = sn.metric("dragonfly_supernode_piece_server_bytes_total"), machine_state()
        cpu0 = [proc_cpu(h.proc.pid) for h in hosts] + [proc_cpu(sn.proc.pid)]
        results = pull_many([h.url for h in hosts], digest, size)
        cpu = [proc_cpu(h.proc.pid) for h in hosts] + [proc_cpu(sn.proc.pid)]
        sn_x = (sn.metric("dragonfly_supernode_piece_server_bytes_total") - sn0) / size
    finally:
        for h in hosts:
            h.stop()
        front.stop()
    totals = [r["total_s"] for r in results]
    full = sum(1 for q in front.requests if q.method == "GET" and q.path.endswith(digest) and q.status == 200
               and not any(k.lower() == "range" for k, _ in q.headers))
    return {"hosts": n, "registry_x": front.bytes_served(digest) / size, "registry_gets": front.served(digest),
            "registry_full_gets": full, "registry_log_x": registry_bytes(reg, digest) / size, "supernode_x": sn_x,
            "median_s": statistics.median(totals), "max_s": max(totals),
            "ttfb_median_s": statistics.median(r["ttfb_s"] for r in results), "load_at_start": load,
            "dfdaemon_cpu_s": sum(b - a for a, b in zip(cpu0[:-1], cpu[:-1])), "supernode_cpu_s": cpu[-1] - cpu0[-1],
            "per_host": results}


def machine_state() -> dict:
    """1-minute load average and dirty page cache (MiB) of the machine right now."""
    dirty = 0.0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Dirty:"):
                dirty = int(line.split()[1]) / 1024
    return {"load": os.getloadavg()[0], "dirty_mib": dirty}


def registry_bytes(reg: Registry, digest: str) -> int:
    """Body bytes of the registry's GET 200/206 answers for ``digest`` to anything but the direct `curl`
    pulls (user agent curl/...), from its access log."""
    total = 0
    with open(reg.log_path, errors="replace") as f:
        for line in f:
            if f"GET /v2/{REPO}/blobs/{digest}" in line and '"curl/' not in line:
                parts = line.split('" ', 1)[1].split()
                if parts[0] in ("200", "206") and parts[1].isdigit():
                    total += int(parts[1])
    return total


# ------------------------------------------------------------------ report
def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def verdicts(s: dict, many: list[dict]) -> list[str]:
    direct_speed, direct_ttfb = med(s["direct"], "MBps"), med(s["direct"], "ttfb_s")
    out = []
    for name, label in (("peer", "from a peer"), ("local", "from the local cache")):
        ratio = med(s[name], "MBps") / direct_speed
        ok = ratio >= TARGET_WARM
        out.append(f"Warm pull {label}: {100 * ratio:.0f}% of direct speed (target >= {100 * TARGET_WARM:.0f}%): "
                   + ("met." if ok else f"missed by {100 * (TARGET_WARM - ratio):.0f} points "
                                        f"({med(s[name], 'MBps'):.0f} of the "
                                        f"{TARGET_WARM * direct_speed:.0f} MB/s needed)."))
    gap = med(s["cold"], "ttfb_s") - direct_ttfb
    out.append(f"Cold time to first byte: {gap:+.3f} s against direct (target within {TARGET_TTFB_S} s): "
               + ("met." if gap <= TARGET_TTFB_S else f"missed by {gap - TARGET_TTFB_S:.3f} s."))
    worst = max([m["registry_x"] for m in many] + list(s["registry_x"].values()), default=0.0)
    out.append(f"Registry bytes per blob: at most {worst:.3f}x at every host count (target {TARGET_BYTES:.1f}x): "
               + ("met." if worst <= TARGET_BYTES + 0.01 else f"missed by {worst - TARGET_BYTES:.3f}x."))
    return out


def cpu_note(many: list[dict]) -> str:
    if not many:
        return ""
    m = many[-1]
    return (f"Every host, the supernode and the registry share the machine's 2 cores, so the time per host grows "
            f"with N while the registry still serves each blob once: at N = {m['hosts']} the dfdaemons used "
            f"{m['dfdaemon_cpu_s']:.0f} CPU-seconds and the supernode {m['supernode_cpu_s']:.0f} in "
            f"{m['max_s']:.0f} s of wall time.")


def limits(s: dict) -> str:
    """The "what limits it" paragraph: measured figures plus the causes the profiles and logs show."""
    nop2p, peer, cold = med(s["nop2p"], "MBps"), med(s["peer"], "MBps"), med(s["cold"], "MBps")
    direct = med(s["direct"], "MBps")
    prof = s.get("profiles", {}).get("peer", {}).get("groups", {})
    shares = ", ".join(f"{g} {100 * v:.0f}%" for g, v in sorted(prof.items(), key=lambda kv: -kv[1]))
    return f"""### What limits it

- **Warm and cold P2P pulls: the P2P downloader, not the mirror's blob path.** The same mirror with
  `registry_mirror.direct: true` (same access check, single flight, cache write, sha256 and response path;
  bytes from the registry over one connection) moves {nop2p:.0f} MB/s, {nop2p / max(peer, 1e-9):.1f}x the
  second host's P2P pull ({peer:.0f} MB/s) and {nop2p / max(cold, 1e-9):.1f}x the cold one ({cold:.0f} MB/s).
  In the second host's profile the on-CPU samples split: {shares or "(no profile)"}.
  Per byte, a P2P pull now does: receive a piece on the gevent hub (urllib3's pools, `dfcommon/pool_http.py`, 1 MiB reads),
  check it with the XXH3-128 our supernode hands our clients (`fast_digest`; md5 only for pieces without one)
  and `pwrite` it to the task file in one native-thread step (`dfcommon.offload`),
  `pread` it for the in-order stream and write it into the mirror's cache with a sha256 (native threads too),
  then send it to the client with `os.sendfile` from the cache's incoming file (`mirror/flight_body.py`: no
  copy through Python). The whole-file md5 pass is gone for the mirror (every piece passed its digest and the
  mirror checks the sha256), so the dfdaemon hashes each byte twice: XXH3 (about 17 GB/s) and sha256. The
  second host's dfdaemon was on CPU for
  {s["cpu_s"]["peer"]:.1f} of the {med(s["peer"], "total_s"):.1f} s of its pull; the rest it waited for pieces
  (the first host's upload server, a `/peer/piece/suc` and a `/peer/task` round trip per piece, each about
  1 ms of CPU through urllib3, 1.6 ms through `requests` before) and for the shared cores.
- **The supernode on a cold pull** (lazy md5, `fast_digest` on, no cluster): the CDN hashes each byte once
  with XXH3-128 while it writes the CDN file, and sends pieces with `os.sendfile`; the protocol's piece md5s and
  whole-file md5 are computed only when a client without `pieceDigest` (a Dragonfly 1.x peer) asks. In its
  profile md5 no longer appears; its samples are the CDN file's writes (`LocalWriter.write_at`), receiving
  from the registry and the hub: {s["cpu_s"].get("supernode_cold", 0.0):.1f} CPU-s per pull, against
  {s["cpu_s"].get("cold", 0.0):.1f} for the pulling dfdaemon, on 2 cores shared with the registry and `curl`
  (2.3 CPU-s with the two eager md5s, in the run of 2026-12-07 04:04 UTC at load 8.6).
- **The dfdaemon's CPU per byte** is now what bounds both P2P pulls: the second host's dfdaemon used
  {s["cpu_s"]["peer"]:.1f} CPU-s in its {med(s["peer"], "total_s"):.1f} s pull, against {s["cpu_s"].get("nop2p", 0.0):.1f}
  for the `direct: true` mirror, which moves the same bytes through the same blob path. Each byte is written
  twice (the task file, `DataFile.pwrite`, and the mirror's cache, `CacheWriter.write`), and on this VM's
  page cache (see "dirty MiB at start" above) the writes are among the hottest frames of the profile.
- **Fixed before:** the pieces are checked with XXH3-128 instead of md5 between our components; query strings
  are encoded so that urllib3 takes its fast path (its per-character re-encoding of every `/peer/task` query
  cost about 0.4 ms per call, 0.1 CPU-s per 256 MiB download).
- **Issue 21 (a fresh mirror with default settings).** The supernode and dfdaemons here run with no bandwidth
  or rate keys, and no limit binds (dfdaemon `ratelimit` and supernode `max_bandwidth` default to 0, no cap):
  the cold row is that case, {100 * cold / direct:.0f}% of the registry direct (goal 70%). What holds it back is
  the CPU above, not a limiter.
- **The yardstick.** `curl` from `docker-registry` over loopback runs at {direct:.0f} MB/s (Go, `sendfile`
  from the page cache); 70% of it is more than one Python process can hash (sha256 about 1.7 GB/s and md5
  about 0.7 GB/s on one core of this machine) even before it copies anything. The local-cache pull, which
  only reads and sends, runs at {100 * med(s["local"], "MBps") / direct:.0f}% of it.
- **Cold time to first byte.** In a DEBUG-log timeline of one cold pull the mirror's own steps (access check
  with the origin's membership HEAD, single-flight start) took about 15 ms; the rest is the downloader and the
  supernode: registration, a first `/peer/task` answered "wait" while the CDN starts fetching, the client's
  back-off after that answer, then the first 4 MiB piece from the supernode's piece server. In a DEBUG
  timeline of a cold 256 MiB pull the CDN had its first pieces about 130 ms after registration, the
  client's next `/peer/task` after a "wait" went out about 60 ms later (not the 12-25 ms of its back-off)
  and piece 0 took about 70 ms to arrive and be written, while the supernode answered each call in about
  1 ms: during the CDN's fetch the supernode (md5 and writes of the origin's bytes), the registry and the
  dfdaemon compete for the 2 cores.
- **Fixed (mirror):** the flight's producer now yields after every block it writes
  (`Flight.write`). Before, a producer whose bytes were already there (a fast registry in `direct` mode, the
  back-to-source fallback, a burst of finished pieces) wrote the whole blob before the waiting client's greenlet
  got a turn: the `direct: true` pull's first byte came after 0.3 to 0.6 s (the whole download) instead of
  about 15 ms.
- **Fixed (P2P downloader and mirror, this round):** no whole-file md5 when every piece passed its md5 or the
  caller verifies a sha256 (`DownloadRequest.digest_verified`; an explicit `--md5` is still checked); piece
  md5 + `pwrite`, the stream's `pread` and the cache's write + sha256 run off the hub; the pieces of a reply
  start lowest first; the first 602 back-off before any piece is 12-25 ms (then doubling into the protocol's
  50-100 ms schedule); the mirror listens with `NoDelayWSGIServer` and sends cached blobs (`FileRange`) and
  running flights (`FlightRange`, paced by the flight, headers with the first bytes, last block after the
  digest check) with `os.sendfile`. Second host before: 79 MB/s, 1.8 CPU-s per 256 MiB pull.
- **Not done: write each blob once** (hard-link the downloader's task file into the cache instead of the
  cache's own copy). Measured earlier: a pull whose cache write was dropped moved 118-163 MB/s against
  147-154 MB/s with it, inside the run-to-run noise of this shared machine; the profiles above now show the two
  writes among the hottest frames, so it is the next thing to measure again. Linking would make the
  flight's readers depend on the task file (which a migration to a supernode with another piece size
  truncates, and which a direct fallback cannot resume into)."""


PHASES = {"cold": "mirror, cold", "peer": "mirror, second host", "local": "mirror, local cache",
          "nop2p": "mirror, `direct: true`", "supernode_cold": "the supernode during the cold pull"}


def profile_lines(profiles: dict) -> str:
    lines = []
    for phase, p in profiles.items():
        if not p:
            continue
        mods = ", ".join(f"`{k}` {100 * v:.0f}%" for k, v in p["module"][:6])
        hot = ", ".join(f"`{k}` {100 * v:.0f}%" for k, v in p["leaf"][:5])
        lines.append(f"- {PHASES[phase]} ({p['samples']} samples): by module {mods}; hottest frames {hot}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--hosts", default="1,3,8")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles of the last run")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    size = args.size_mib * MiB
    work = tempfile.mkdtemp(prefix="bench-mirror-")
    data = {"machine": machine(), "size_bytes": size, "runs": args.runs}
    reg = Registry(os.path.join(work, "registry")).start()
    # default supernode and dfdaemon settings (no bandwidth or rate keys): what a new user gets
    sn = SupernodeProcess(os.path.join(work, "sn"), ["--log-level", "WARNING"])
    try:
        data["single"] = s = single_host(reg, sn, work, size, args.runs, not args.no_profile)
        data["many"] = many = [many_hosts(reg, sn, work, size, int(n)) for n in args.hosts.split(",")]
    finally:
        sn.stop()
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    d_speed = med(s["direct"], "MBps")
    h1 = ["pull", "TTFB (s)", "MB/s", "% of direct", "total (s)", "dfdaemon CPU s", "supernode CPU s"]
    cpu = s["cpu_s"]
    r1 = [[label, med(s[k], "ttfb_s"), med(s[k], "MBps"), f"{100 * med(s[k], 'MBps') / d_speed:.0f}",
           med(s[k], "total_s"), f"{cpu[k]:.1f}" if k in cpu else "",
           f"{cpu['supernode_' + k]:.1f}" if k in cpu else ""] for k, label in
          (("direct", "curl from the registry"), ("cold", "mirror, cold"), ("peer", "mirror, second host (P2P)"),
           ("local", "mirror, local cache"), ("nop2p", "mirror, `direct: true` (no P2P), cold"))]
    h2 = ["hosts", "registry bytes per blob (x)", "registry GETs: whole / ranged", "supernode sent (x F)",
          "median host (s)", "last host (s)", "median TTFB (s)", "CPU s: dfdaemons / supernode",
          "load / dirty MiB at start"]
    r2 = [[m["hosts"], m["registry_x"], f"{m['registry_full_gets']} / {m['registry_gets'] - m['registry_full_gets']}",
           m["supernode_x"], m["median_s"], m["max_s"], m["ttfb_median_s"],
           f"{m['dfdaemon_cpu_s']:.1f} / {m['supernode_cpu_s']:.1f}",
           f"{m['load_at_start']['load']:.1f} / {m['load_at_start']['dirty_mib']:.0f}"] for m in many]
    print_table(h1, r1)
    print_table(h2, r2)
    checks = verdicts(s, many)
    print("\n".join(checks))
    for phase, p in s.get("profiles", {}).items():
        print(phase, p)
    data["verdicts"] = checks
    if args.no_write:
        return 0
    peer_sn = statistics.median(s["peer_from_supernode_x"])
    md = f"""## Pulls through the mirror (`python -m bench.mirror_pull`)

One {args.size_mib} MiB blob, pushed to a real `docker-registry` (filesystem storage, page cache warm), pulled with
`curl -o /dev/null` (`time_starttransfer`, `speed_download`); medians of {args.runs} runs, a fresh blob per run.
Every process (registry, supernode, dfdaemons, curl) runs on one machine over loopback: {data['machine']}.
Mirrors run with the default `ratelimit` (0: no cap), log level WARNING and longer `stall_timeout` /
`upstream_timeout`; the supernode with its defaults (no back-to-source cap).
Cold: neither the supernode's CDN nor any host has the blob. Second host: another dfdaemon pulls it once the
first host and the CDN hold it (the supernode sent {peer_sn:.2f}x F of it; the rest came from the first host).
Local cache: the first host again. `direct: true`: a third dfdaemon configured never to use P2P (the
mirror's own blob path alone). CPU columns: seconds per pull of the pulling dfdaemon and of the supernode.

{table(h1, r1)}

N dfdaemons (separate processes, work homes and ports) pull one fresh blob at once; the registry sits behind a
counting proxy (bytes per blob; GETs answered with content: whole-blob GETs and ranged ones, such as the
CDN's 1-byte length probe), per-host wall time from curl. "load / dirty MiB at start": the machine's 1-minute load
average (other work shares it) and its dirty page cache not yet written back, when the pulls began.

{table(h2, r2)}

{cpu_note(many)}

Against the targets of issue 3:

{chr(10).join('- ' + c for c in checks)}

Where the pulling dfdaemon spends its CPU (py-spy at 200 Hz over an extra run kept out of the medians; shares
of the on-CPU samples, by the innermost project module on the stack and by hottest frame):

{profile_lines(s.get('profiles', {}))}

{limits(s)}
"""
    write_section("mirror_pull", md, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
