"""Webhook intake rate and preheat throughput of a real supernode process.

Intake: deliveries per second answered 2xx by ``/api/v1/webhooks/{harbor,registry}``, sent by several client
threads (a bounded count per kind): distinct pushes (each one queued in the durable queue), redeliveries of
one push (duplicates) and registry pull events (ignored). While the distinct pushes arrive the dispatcher
works on them against an unreachable registry (one quick failure each, retried an hour later), so the queue
sees the writes it would in production without a preheat's traffic on the shared cores.

Preheat: one registry:2 push notification for an image of a few large layers on a real docker-registry;
the time from the delivery until the image record is SUCCESS (every layer and the config in the CDN) against
`curl` of the same blobs from the registry (all at once, as the engine fetches them). A fresh supernode
(empty CDN) for every run; best of ``--repeats`` runs each (the machine is shared).

    python -m bench.webhooks_preheat [--deliveries 2000] [--threads 8] [--layers 3] [--layer-mib 64]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.report import machine, print_table, table, write_section
from tests.e2e.preheat.stack import WebhookSupernode, push_image_http
from tests.fixtures.oci_image import build_oci_image
from tests.fixtures.registry import Registry
from tests.unit.webhooks.webhook_payloads import digest, envelope, harbor_default, registry_event

MB = 1e6
AUTH = "Bearer bench-webhooks"
DEAD_REGISTRY = "127.0.0.1:1"
REGISTRY_TYPE = "application/vnd.docker.distribution.events.v2+json"


def delivery_kinds(n: int) -> dict[str, list[tuple[str, dict, dict]]]:
    """(receiver, headers, body) lists per kind, ``n`` deliveries each."""
    harbor = {"Authorization": AUTH, "Content-Type": "application/json"}
    reg = {"Authorization": AUTH, "Content-Type": REGISTRY_TYPE}
    distinct = [("harbor", harbor, harbor_default(f"bench/app{i}", digest(f"bench-{i}"), "v1", host=DEAD_REGISTRY))
                for i in range(n)]
    one = harbor_default("bench/redelivered", digest("bench-redelivered"), "v1", host=DEAD_REGISTRY)
    pulls = [("registry", reg, envelope(registry_event(f"bench/app{i % 50}", digest(f"pull-{i}"), action="pull",
                                                       host=DEAD_REGISTRY))) for i in range(n)]
    return {"distinct pushes (queued)": distinct, "redeliveries (duplicates)": [("harbor", harbor, one)] * n,
            "registry pull events (ignored)": pulls}


def send(base_url: str, deliveries, threads: int) -> dict:
    local = threading.local()

    def one(item):
        receiver, headers, body = item
        if not hasattr(local, "http"):
            local.http = requests.Session()
        t = time.monotonic()
        r = local.http.post(f"{base_url}/api/v1/webhooks/{receiver}", json=body, headers=headers, timeout=(3, 10))
        return r.status_code, time.monotonic() - t

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, deliveries))
    wall = time.monotonic() - start
    lat = sorted(d for _, d in results)
    ok = sum(1 for s, _ in results if 200 <= s < 300)
    return {"count": len(results), "ok": ok, "wall_s": wall, "rate": ok / wall,
            "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))]}


def intake(work: str, n: int, threads: int) -> list[dict]:
    sn = WebhookSupernode(os.path.join(work, "sn-intake"),
                          webhooks={"harbor_auth": [AUTH], "registry_auth": [AUTH], "retry_backoff": "1h"},
                          preheat={"registries": [{"host": DEAD_REGISTRY, "scheme": "http"}]}).start()
    try:
        out = []
        for kind, deliveries in delivery_kinds(n).items():
            res = send(sn.url, deliveries, threads)
            res["kind"] = kind
            out.append(res)
            print(f"  {kind}: {res['rate']:.0f}/s", flush=True)
        return out
    finally:
        sn.stop()


def curl_blobs(urls: list[str], work: str) -> float:
    argv = ["curl", "-sf", "-Z", "--parallel-max", str(len(urls))]
    for i, url in enumerate(urls):
        argv += [url, "-o", os.path.join(work, f"curl-{i}")]
    t = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.monotonic() - t
    for i in range(len(urls)):
        os.remove(os.path.join(work, f"curl-{i}"))
    return elapsed


def preheat_once(work: str, reg: Registry, repo: str, image, run: int) -> float:
    sn = WebhookSupernode(os.path.join(work, f"sn-preheat-{run}"), webhooks={"registry_auth": [AUTH]},
                          preheat={"registries": [{"host": reg.host, "scheme": "http"}]},
                          base={"max_bandwidth": "20G", "system_bandwidth": "1M"}).start()
    try:
        url = f"http://{reg.host}/v2/{repo}/manifests/v1"
        body = envelope(registry_event(repo, image.manifest.digest, "v1", media_type=image.manifest.media_type,
                                       host=reg.host))
        start = time.monotonic()
        r = requests.post(f"{sn.url}/api/v1/webhooks/registry", json=body,
                          headers={"Authorization": AUTH, "Content-Type": REGISTRY_TYPE}, timeout=(3, 10))
        if r.status_code != 202:
            raise SystemExit(f"delivery refused: {r.status_code} {r.text}")
        deadline = start + 1800
        while time.monotonic() < deadline:
            rec = next((x for x in sn.image_records() if x["url"] == url), None)
            if rec is not None and rec["status"] in ("SUCCESS", "FAILED"):
                if rec["status"] != "SUCCESS":
                    raise SystemExit(f"preheat failed: {rec['errorMsg']}")
                return time.monotonic() - start
            time.sleep(0.05)
        raise SystemExit("preheat did not finish within 30 minutes")
    finally:
        sn.stop()
        shutil.rmtree(sn.home, ignore_errors=True)


def preheat_throughput(work: str, layers: int, layer_mib: int, repeats: int) -> dict:
    image = build_oci_image(os.path.join(work, "image"), tag="v1", layers=layers, layer_size=layer_mib << 20,
                            seed=4242)
    total = sum(b.size for b in image.blobs)
    reg = Registry(os.path.join(work, "registry")).start()
    try:
        repo = "bench/large"
        push_image_http(reg.url, repo, image, "v1")
        urls = [f"{reg.url}/v2/{repo}/blobs/{b.digest}" for b in image.blobs]
        curl_s = min(curl_blobs(urls, work) for _ in range(repeats))
        preheat_s = min(preheat_once(work, reg, repo, image, i) for i in range(repeats))
    finally:
        reg.stop()
    return {"layers": layers, "layer_mib": layer_mib, "bytes": total, "curl_s": curl_s, "preheat_s": preheat_s,
            "curl_MBps": total / curl_s / MB, "preheat_MBps": total / preheat_s / MB,
            "ratio": curl_s / preheat_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=2000, help="deliveries per kind")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--layer-mib", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if shutil.which("docker-registry") is None or shutil.which("curl") is None:
        print("docker-registry and curl are needed (make test installs them)")
        return 1
    work = tempfile.mkdtemp(prefix="bench-webhooks-")
    data = {"machine": machine(), "threads": args.threads}
    try:
        print("webhook intake", flush=True)
        data["intake"] = intake(work, args.deliveries, args.threads)
        print("preheat throughput", flush=True)
        data["preheat"] = preheat_throughput(work, args.layers, args.layer_mib, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ih = ["deliveries", "count", "answered 2xx", "per second", "p50 (ms)", "p99 (ms)"]
    irows = [[r["kind"], r["count"], r["ok"], r["rate"], r["p50_ms"], r["p99_ms"]] for r in data["intake"]]
    p = data["preheat"]
    ph = ["image", "MB", "curl (s)", "curl MB/s", "preheat (s)", "preheat MB/s", "% of curl"]
    prows = [[f"{p['layers']} x {p['layer_mib']} MiB layers + config", round(p["bytes"] / MB, 1), p["curl_s"],
              p["curl_MBps"], p["preheat_s"], p["preheat_MBps"], round(100 * p["ratio"])]]
    print_table(ih, irows)
    print_table(ph, prows)
    md = f"""## Webhook intake and preheat throughput (`python -m bench.webhooks_preheat`)

Machine: {data['machine']}. One supernode process; {args.threads} client threads in the benchmark process
(which shares the cores with it) post the deliveries.

Intake: {args.deliveries} deliveries of each kind. A distinct push costs one SQLite transaction in the
durable queue (and the dispatcher's first attempt runs meanwhile); a redelivery is found in the queue's
dedup window; a pull event is parsed and ignored.

{table(ih, irows)}

Preheat: a registry:2 push notification for an image on a local docker-registry, timed from the delivery
to the image record's SUCCESS (manifest fetched, every blob in the CDN, fetched {min(p['layers'] + 1, 4)} at
a time); `curl` fetches the same blobs from the registry in parallel. A fresh supernode (empty CDN) per
run, back-to-source limit lifted (`max_bandwidth: 20G`); best of {args.repeats}.

{table(ph, prows)}

What limits the preheat: the supernode's CDN data path in one Python process (reading the source, the
per-piece md5, writing the store); the preheat engine's own work (manifest, records, one warm per blob)
is a small share of the samples when profiled. `curl` only moves bytes.
"""
    write_section("webhooks_preheat", md, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
