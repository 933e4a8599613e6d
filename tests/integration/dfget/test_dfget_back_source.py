"""dfget without a working supernode: back to the source, --notbs, source errors; never a partial output."""
import hashlib
import os

from tests.helpers import free_port


def dead_node():
    return f"127.0.0.1:{free_port()}"


def write(origin, name, size):
    data = os.urandom(size)
    (origin.root_path / name).write_bytes(data)
    return data


def test_back_to_source_when_no_supernode_listens(origin, dfget, work):
    data = write(origin, "f.bin", 5 << 20)
    out = work / "dl" / "f.bin"
    r = dfget("-u", origin.url("f.bin"), "-o", str(out), "-n", dead_node(), "-p", "cdn")
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_bytes() == data
    lines = r.stdout.splitlines()
    assert lines[0].startswith("--") and lines[0].endswith("--  " + origin.url("f.bin"))
    assert lines[1].startswith("dfget version:") and lines[2] == f"workspace:{work / 'home'}"
    assert lines[3].startswith("sign:")
    assert lines[-1].startswith("download SUCCESS cost:") and lines[-1].endswith(f"length:{len(data)} reason:1")
    assert os.listdir(work / "dl") == ["f.bin"]


def test_notbs_with_supernode_down_exits_79_and_leaves_nothing(origin, dfget, work):
    write(origin, "f.bin", 1 << 20)
    out = work / "dl" / "f.bin"
    r = dfget("-u", origin.url("f.bin"), "-o", str(out), "-n", dead_node(), "--notbs", "-p", "cdn")
    assert r.returncode == 79, r.stdout + r.stderr
    assert "download FAIL(1103)" in r.stdout and "reason:1001" in r.stdout
    assert not out.exists() and os.listdir(work / "dl") == []


def test_source_404_with_pattern_source(origin, dfget, work):
    out = work / "dl" / "missing.bin"
    r = dfget("-u", origin.url("missing.bin"), "-o", str(out), "-p", "source")
    assert r.returncode == 80, r.stdout + r.stderr
    assert "download FAIL(1104)" in r.stdout and "reason:100" in r.stdout and "HTTP 404" in r.stdout
    assert not out.exists() and os.listdir(work / "dl") == []


def test_private_source_needs_the_users_header(origin, dfget, work):
    data = write(origin, "private/p.bin", 300_000)
    out = work / "p.bin"
    r = dfget("-u", origin.url("private/p.bin"), "-o", str(out), "-p", "source")
    assert r.returncode == 80 and "HTTP 401" in r.stdout
    r = dfget("-u", origin.url("private/p.bin"), "-o", str(out), "-p", "source", "--header",
              f"Authorization: {origin.auth}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_bytes() == data


def test_md5_mismatch_keeps_old_output_untouched(origin, dfget, work):
    data = write(origin, "f.bin", 2 << 20)
    out = work / "f.bin"
    out.write_bytes(b"previous")
    r = dfget("-u", origin.url("f.bin"), "-o", str(out), "-p", "source", "-m", "0" * 32)
    assert r.returncode == 80 and "md5" in r.stdout
    assert out.read_bytes() == b"previous"
    assert sorted(os.listdir(work)) == ["f.bin", "home", "origin"]
    r = dfget("-u", origin.url("f.bin"), "-o", str(out), "-p", "source", "-m", hashlib.md5(data).hexdigest())
    assert r.returncode == 0 and out.read_bytes() == data


def test_output_is_a_directory_is_a_prepare_error(origin, dfget, work):
    write(origin, "f.bin", 10)
    (work / "adir").mkdir()
    r = dfget("-u", origin.url("f.bin"), "-o", str(work / "adir"), "-p", "source")
    assert r.returncode == 77 and "download FAIL(1101)" in r.stdout


def test_sigterm_mid_download_leaves_no_file(origin, work):
    import signal
    import subprocess
    import time

    from tests.helpers import script

    from .conftest import child_env
    write(origin, "slow.bin", 4 << 20)
    out_dir = work / "dl"
    out_dir.mkdir()
    proc = subprocess.Popen([script("dfget"), "--home", str(work / "home"), "-u", origin.url("slow.bin"),
                             "-o", str(out_dir / "slow.bin"), "-p", "source", "-s", "256K"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    deadline = time.monotonic() + 30
    while not os.listdir(out_dir) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert os.listdir(out_dir), "the download never started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 80 and "interrupted" in out
    assert os.listdir(out_dir) == []


def test_server_subcommand_delegates():
    import subprocess

    from tests.helpers import script

    from .conftest import child_env
    r = subprocess.run([script("dfget"), "server", "--help"], capture_output=True, text=True, timeout=60,
                       env=child_env())
    assert r.returncode == 0 and "--meta" in r.stdout and "--url" not in r.stdout
