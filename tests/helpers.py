"""Small helpers shared by the test tree: free ports, waiting for sockets, in-thread HTTP servers,
the venv's scripts, a settable clock, file digests, metric sums."""
from __future__ import annotations

import hashlib
import os
import socket
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def serve_http(handler, host: str = "127.0.0.1", port: int = 0, *, name: str = "test-http",
               server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer, poll_interval: float = 0.05,
               ssl_context: ssl.SSLContext | None = None, start: bool = True) -> ThreadingHTTPServer:
    """Serve ``handler`` on ``host`` (a free port unless ``port`` is given) from a daemon thread.

    Returns the server with ``daemon_threads`` on; the port is ``server.server_address[1]`` and the
    thread is ``server.thread``. ``ssl_context`` wraps the listening socket (server side) before serving.
    ``start=False`` leaves the thread unstarted: call ``server.thread.start()``. Stop with
    ``server.shutdown()`` (then ``server.server_close()``).
    """
    server = server_class((host, port), handler)
    server.daemon_threads = True
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    server.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval},
                                     name=name, daemon=True)
    if start:
        server.thread.start()
    return server


def script(name: str) -> str:
    """Path of a console script installed next to the running interpreter."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} is not installed in the venv (run make test)")
    return path


class ManualClock:
    """A clock a test sets by hand (``clock.now += 60``), passed where the code takes a ``clock`` callable,
    so expiry, windows and delays are checked without waiting. Starts at ``now`` (default: the wall clock)."""

    def __init__(self, now: float | None = None):
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


def sha256_file(path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def metric_total(text: str, name: str, **labels) -> float:
    """Sum of the samples named ``name`` (a prefix match, as ``_total``/``_sum`` suffixes) whose labels include
    ``labels``, in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram_quantiles(texts, name: str, qs=(0.5, 0.9, 1.0), **labels) -> dict[float, float] | None:
    """For each ``q``: the least bucket bound (``le``) of histogram ``name`` holding at least ``q`` of the
    observations whose labels include ``labels``, over the Prometheus texts ``texts`` summed (exact where the
    buckets are one per value). None when nothing was observed."""
    counts: dict[float, float] = {}
    for text in texts:
        for line in text.splitlines():
            if not line.startswith(name + "_bucket{") or not all(f'{k}="{v}"' in line for k, v in labels.items()):
                continue
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            counts[bound] = counts.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    total = counts.get(float("inf"), 0.0)
    if not total:
        return None
    bounds = sorted(counts)
    return {q: next(b for b in bounds if counts[b] >= q * total) for q in qs}


def round_trip_report(texts) -> str:
    """The cluster members' Redis round trips per call of the peer API (from the round-trip histograms of
    supernode/cluster/round_trips.py): mean, p50, p90 and max per call kind, one line each."""
    calls = sorted({line.split('call="', 1)[1].split('"', 1)[0] for text in texts for line in text.splitlines()
                    if line.startswith("dragonfly_supernode_cluster_redis_round_trips_per_call_count{")})
    out = []
    for call in calls:
        n = sum(metric_total(t, "dragonfly_supernode_cluster_redis_round_trips_per_call_count", call=call)
                for t in texts)
        trips = sum(metric_total(t, "dragonfly_supernode_cluster_redis_round_trips_per_call_sum", call=call)
                    for t in texts)
        q = histogram_quantiles(texts, "dragonfly_supernode_cluster_redis_round_trips_per_call", call=call)
        if n and q:
            out.append(f"  {call}: {n:.0f} calls, mean {trips / n:.2f}, p50 {q[0.5]:g}, p90 {q[0.9]:g}, "
                       f"max {q[1.0]:g}")
    misses = sum(metric_total(t, "dragonfly_supernode_cluster_snapshot_misses_total") for t in texts)
    out.append(f"  snapshot misses: {misses:.0f}")
    return "\n".join(out)
