"""The dfpy container image built by `make image` (scripts/build_image.sh): no image registry involved.

The image is built once and reused while its tag exists (set DFPY_IMAGE_REBUILD=1 to build it again). The docker
daemon is the one DOCKER_HOST or /var/run/docker.sock names, else a dockerd this test starts (as root) whose data
root stays in build/image/dockerd so the image survives between runs. Containers use the host network and talk
only to loopback: a supernode container (its HEALTHCHECK must turn healthy) and a dfget container that downloads
one file from a test origin through it.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest
import yaml

from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

docker = pytest.importorskip("docker", reason="the docker Python SDK is not installed")

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA_ROOT = ROOT / "build" / "image" / "dockerd"
BUILD_LOG = ROOT / "build" / "image" / "build.log"
EXIT_NO_DAEMON, EXIT_NO_DEBIAN = 2, 3


def chart_default_image() -> str:
    chart = yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())
    return f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"


def _answers(base_url: str) -> bool:
    try:
        client = docker.DockerClient(base_url=base_url, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:   # noqa: BLE001 - any failure means no daemon there
        return False


@pytest.fixture(scope="module")
def docker_url():
    for url in filter(None, (os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock")):
        if _answers(url):
            yield url
            return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("no docker daemon answers and none can be started here (needs root and dockerd)")
    from tests.e2e.runtimes.conftest import short_tmpdir
    from tests.e2e.runtimes.daemons import DockerdProcess
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    try:
        daemon = DockerdProcess(short_tmpdir("dfimg-"), {}, data_root=str(DATA_ROOT), timeout=120)
    except (RuntimeError, TimeoutError) as e:
        pytest.skip(f"dockerd cannot run here: {str(e)[-500:]}")
    yield daemon.base_url
    daemon.stop()


@pytest.fixture(scope="module")
def client(docker_url):
    c = docker.DockerClient(base_url=docker_url, timeout=300)
    yield c
    c.close()


@pytest.fixture(scope="module")
def image(client, docker_url):
    tag = chart_default_image()
    if os.environ.get("DFPY_IMAGE_REBUILD") != "1":
        try:
            return client.images.get(tag)
        except docker.errors.ImageNotFound:
            pass
    env = dict(os.environ, DOCKER_HOST=docker_url, IMAGE_TAG=tag)
    with open(BUILD_LOG, "w") as log:
        run = subprocess.run(["bash", "scripts/build_image.sh"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, timeout=3000)
    tail = BUILD_LOG.read_text(errors="replace")[-2000:]
    if run.returncode == EXIT_NO_DEBIAN:
        pytest.skip(f"the Debian base of the image cannot be built here (no Debian packages?): {tail}")
    if run.returncode == EXIT_NO_DAEMON:
        pytest.skip(f"the build found no docker daemon: {tail}")
    assert run.returncode == 0, tail
    return client.images.get(tag)


def run(client, image, argv, **kw) -> str:
    out = client.containers.run(image.id, argv, remove=True, network_mode="host", stdout=True, stderr=True, **kw)
    return out.decode()


@pytest.mark.timeout(3600)
def test_image_is_the_charts_default_non_root_with_a_health_check(client, image):
    assert chart_default_image() in image.tags
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert config["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/dfpy-healthcheck"]
    assert run(client, image, ["id", "-u"]).strip() == "1000"
    for tool in ("supernode", "dfdaemon", "dfget"):
        assert run(client, image, ["sh", "-c", f"command -v {tool}"]).strip() == f"/opt/dfpy/bin/{tool}"


@pytest.mark.timeout(3600)
def test_supernode_version_in_a_container(client, image):
    info = json.loads(run(client, image, ["supernode", "--version"]))
    chart = yaml.safe_load((ROOT / "helm" / "Chart.yaml").read_text())
    assert info["Version"] == chart["appVersion"]
    assert json.loads(run(client, image, ["dfdaemon", "version"]))["version"] == chart["appVersion"]


def wait_healthy(container, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        state = container.attrs["State"]
        status = state.get("Health", {}).get("Status")
        if status == "healthy":
            return
        if not state["Running"] or time.monotonic() > deadline:
            raise AssertionError(f"supernode container {status or state['Status']}: "
                                 f"{container.logs()[-3000:].decode(errors='replace')}")
        time.sleep(0.5)


@pytest.mark.timeout(3600)
def test_dfget_container_downloads_a_file_through_a_supernode_container(client, image, tmp_path):
    (tmp_path / "www").mkdir()
    size = 3 * (1 << 20) + 12345
    digest = make_file(str(tmp_path / "www" / "one.bin"), size, seed=7)
    origin = OriginServer(str(tmp_path / "www")).start()
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)                         # the container's user (1000) writes the download here
    port, download_port = free_port(), free_port()
    supernode = client.containers.run(
        image.id, ["supernode", "--port", str(port), "--download-port", str(download_port),
                   "--listen-ip", "127.0.0.1", "--advertise-ip", "127.0.0.1",
                   "--fetch-allow", "127.0.0.0/8,::1"],                     # the test origin is on loopback
        detach=True, network_mode="host", environment={"DFPY_HEALTH_URL": f"http://127.0.0.1:{port}/_ping"})
    try:
        wait_healthy(supernode)
        log = run(client, image, ["dfget", "-u", origin.url("one.bin"), "-o", "/out/one.bin",
                                  "--node", f"127.0.0.1:{port}", "--home", "/tmp/dfget", "--alivetime", "5s"],
                  volumes={str(out): {"bind": "/out", "mode": "rw"}})
        data = (out / "one.bin").read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == digest, log[-2000:]
        assert origin.bytes_sent["/one.bin"] == size          # fetched from the origin once, by the CDN
        metrics = subprocess.run(["curl", "-fsS", f"http://127.0.0.1:{port}/metrics"], capture_output=True,
                                 text=True, timeout=30).stdout
        served = [line for line in metrics.splitlines()
                  if line.startswith("dragonfly_supernode_cdn_download_size_bytes_total ")]
        assert served and float(served[0].split()[1]) == size, metrics[-2000:]
    finally:
        supernode.remove(force=True)
        origin.stop()
