"""Three emulated hosts (network namespaces with their own addresses and 100 Mbit/s uplinks) download one file
with dfget through a supernode in a fourth namespace; an origin HTTP server runs in a fifth.

Checks that pieces really move between host addresses (the supernode's peer list holds the hosts' addresses,
pieces were reported as coming from peers, and the hosts' own uplinks carried them), that the files are right,
and that nothing with the lab's name is left once the lab exits. Not timed.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from bench.hosts import HostSpec, Lab, cleanup_stale, leftovers, missing_requirements
from tests.fixtures.origin import make_file
from tests.helpers import metric_total, script, sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1 << 20
SIZE = 24 * MiB
HOSTS = ("h1", "h2", "h3")
ORIGIN_CODE = ("import sys,time\nfrom tests.fixtures.origin import OriginServer\n"
               "OriginServer(sys.argv[1], host=sys.argv[2], port=int(sys.argv[3])).start()\n"
               "while True: time.sleep(3600)\n")


@pytest.fixture
def lab_prefix():
    why = missing_requirements()
    if why:
        pytest.skip(why)
    return "dfe"


def test_pieces_move_between_namespaced_hosts(tmp_path, lab_prefix):
    src = tmp_path / "origin"
    src.mkdir()
    digest = make_file(str(src / "blob.bin"), SIZE, seed=5)
    specs = [HostSpec("origin"), HostSpec("sn", up="100mbit")] + [HostSpec(h, up="100mbit") for h in HOSTS]
    with Lab(specs, prefix=lab_prefix, workdir=str(tmp_path / "lab")) as lab:
        tag = lab.tag
        assert any(n.startswith(tag) for n in leftovers(lab_prefix))
        origin_ip, sn_ip = lab.ip("origin"), lab.ip("sn")
        origin = lab.popen("origin", [sys.executable, "-c", ORIGIN_CODE, str(src), origin_ip, "8080"],
                           name="origin", cwd=ROOT)
        lab.wait_tcp("sn", origin_ip, 8080, proc=origin)
        sn = lab.popen("sn", [script("supernode"), "--home-dir", str(tmp_path / "sn"), "--port", "8002",
                              "--download-port", "8001", "--listen-ip", sn_ip, "--advertise-ip", sn_ip,
                              "--max-bandwidth", "2G", "--system-bandwidth", "1M"], name="supernode")
        lab.wait_tcp("h1", sn_ip, 8002, proc=sn)
        procs = {}
        for h in HOSTS:
            argv = [script("dfget"), "-u", f"http://{origin_ip}:8080/blob.bin", "-o", str(tmp_path / f"{h}.out"),
                    "--home", str(tmp_path / f"home-{h}"), "--node", f"{sn_ip}:8002", "--ip", lab.ip(h),
                    "--locallimit", "0", "--notbs", "--alivetime", "60s", "--expiretime", "60s"]
            procs[h] = lab.popen(h, argv, name="dfget")
        for h, p in procs.items():
            assert p.wait(240) == 0, f"dfget on {h} failed: {lab.output(p)}"
        for h in HOSTS:
            assert sha256_file(str(tmp_path / f"{h}.out")) == digest

        api = f"http://{sn_ip}:8002"
        # the API binds a non-loopback address: auth is on by default, with an admin token in the home
        admin = (tmp_path / "sn" / "auth" / "admin.token").read_text().strip()
        peers = requests.get(api + "/api/v1/peers", headers={"Authorization": f"Bearer {admin}"}, timeout=5).json()
        metrics = requests.get(api + "/metrics", timeout=5).text
        peer_ips = {p["IP"] for p in peers}
        assert {lab.ip(h) for h in HOSTS} <= peer_ips, peers
        assert all(p["port"] > 0 for p in peers if p["IP"] in {lab.ip(h) for h in HOSTS})
        from_peers = metric_total(metrics, "dragonfly_supernode_pieces_reported_total", source="peer")
        from_sn = metric_total(metrics, "dragonfly_supernode_pieces_reported_total", source="supernode")
        assert from_peers > 0, metrics
        assert from_sn > 0
        # the hosts' own uplinks carried pieces: bytes a host sent well beyond request/ack traffic
        sent = {h: lab.qdisc_stats(h)["bytes"] for h in HOSTS}
        assert sum(sent.values()) > SIZE // 4, sent
        sn_sent = metric_total(metrics, "dragonfly_supernode_piece_server_bytes_total")
        assert sn_sent < len(HOSTS) * SIZE        # the supernode did not serve every copy
        namespaces = [h.ns for h in lab.hosts.values()] + [lab.bridge_ns]
        assert all(os.path.exists(f"/run/netns/{ns}") for ns in namespaces)
    left = [n for n in leftovers(lab_prefix) if n.startswith(tag)]
    assert left == []
    assert not any(os.path.exists(f"/run/netns/{ns}") for ns in namespaces)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert tag not in links


def _cpu_group_of(pid: int) -> str:
    """The cpu cgroup path of ``pid`` (v1 ``cpu`` line, else the v2 unified line)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.strip().split(":", 2) for line in f if line.strip()]
    for _, controllers, path in lines:
        if "cpu" in controllers.split(","):
            return path
    return next(path for _, controllers, path in lines if controllers == "")


def test_each_host_runs_in_its_own_cpu_group(lab_prefix):
    with Lab(["a", "b"], prefix=lab_prefix, cpu_groups=True) as lab:
        if not lab.cpu.active:
            pytest.skip(f"no CPU groups here: {lab.cpu.why_off}")
        tag = lab.tag
        proc = lab.popen("a", ["sh", "-c", "sleep 60 & sleep 60"], name="sleepers")
        deadline = time.monotonic() + 10
        while len(lab.cpu.pids("a")) < 3 and time.monotonic() < deadline:     # sh and both sleeps
            time.sleep(0.05)
        assert len(lab.cpu.pids("a")) >= 3, lab.cpu.pids("a")
        assert proc.pid in lab.cpu.pids("a")
        assert _cpu_group_of(proc.pid).endswith(f"/{tag}-a")
        seen = lab.run("b", ["cat", "/proc/self/cgroup"], check=True).stdout       # run() joins the group too
        assert f"/{tag}-b" in seen
        assert lab.cpu.pids("b") == []                                            # cat is gone
        groups = list(lab.cpu.paths.values())
        assert len(groups) == 2 and all(os.path.isdir(g) for g in groups)
    assert not any(os.path.exists(g) for g in groups)
    assert [n for n in leftovers(lab_prefix) if n.startswith(tag)] == []


def test_cpu_groups_are_off_by_default(lab_prefix):
    with Lab(["a"], prefix=lab_prefix) as lab:
        assert not lab.cpu.active and lab.cpu.why_off == "turned off"
        proc = lab.popen("a", ["sleep", "60"], name="sleeper")
        assert lab.tag not in _cpu_group_of(proc.pid)


def test_host_priority_applies_to_what_runs_in_it(lab_prefix):
    with Lab([HostSpec("infra", nice=-10), HostSpec("h1")], prefix=lab_prefix) as lab:
        fast = lab.popen("infra", ["sleep", "60"], name="fast")
        plain = lab.popen("h1", ["sleep", "60"], name="plain")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "sleep" not in open(f"/proc/{fast.pid}/comm").read():
            time.sleep(0.05)                 # nsenter and nice exec into sleep
        assert os.getpriority(os.PRIO_PROCESS, fast.pid) == -10
        assert os.getpriority(os.PRIO_PROCESS, plain.pid) == 0
        if os.path.exists(f"/proc/{fast.pid}/autogroup"):          # sessions share the cores first
            assert open(f"/proc/{fast.pid}/autogroup").read().split()[-1] == "-10"
            assert open(f"/proc/{plain.pid}/autogroup").read().split()[-1] == "0"


HOLD_CODE = ("import sys,time\nfrom bench.hosts import Lab\nlab = Lab(['a', 'b'], prefix=sys.argv[1]).start()\n"
             "p = lab.popen('a', ['sleep', '600'])\nprint(lab.tag, p.pid, flush=True)\ntime.sleep(600)\n")


def _start_holder(prefix: str):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_CODE, prefix], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    tag, pid = proc.stdout.readline().split()
    assert tag.startswith(prefix), tag
    assert any(n.startswith(tag) for n in leftovers(prefix))
    return proc, tag, int(pid)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_cleans_up(lab_prefix, sig):
    proc, tag, pid = _start_holder("dfs")
    proc.send_signal(sig)
    assert proc.wait(30) != 0
    assert [n for n in leftovers("dfs") if n.startswith(tag)] == []
    assert _gone(pid)


def test_cleanup_stale_after_kill(lab_prefix):
    proc, tag, pid = _start_holder("dfk")
    proc.kill()
    proc.wait(10)
    assert any(n.startswith(tag) for n in leftovers("dfk"))       # SIGKILL leaves everything behind
    removed = cleanup_stale("dfk")
    assert any(n.startswith(tag) for n in removed)
    assert [n for n in leftovers("dfk") if n.startswith(tag)] == []
    assert _gone(pid)                                              # the process left in the namespace too


def test_refuses_without_root(lab_prefix):
    if not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("setpriv is needed to drop root for this check")
    code = ("from bench.hosts import Lab, LabError\ntry:\n Lab(['a']).start()\nexcept LabError as e:\n"
            " print('refused:', e)\n")
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    if "Permission denied" in res.stderr:
        pytest.skip("the interpreter is not readable by an unprivileged user here")
    assert "refused: emulated hosts need root" in res.stdout, res.stdout + res.stderr
