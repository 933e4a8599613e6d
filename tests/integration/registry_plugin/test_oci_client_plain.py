"""RegistryClient against a real docker-registry without auth."""
import hashlib
import http.client

import pytest

from dfcommon.errors import DfError
from registry_plugin.oci import RegistryClient, parse_manifest, walk
from registry_plugin.oci import mediatypes as mt
from tests.fixtures.oci_image import build_oci_image, build_oci_index, read_blob

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pushed(registry_plain, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("img")), tag="v1", layers=3, layer_size=300_000, seed=7)
    registry_plain.push(img, "it/plain-app")
    idx = build_oci_index(str(tmp_path_factory.mktemp("idx")), tag="multi",
                          platforms=("linux/amd64", "linux/arm64/v8"), layers=2, layer_size=50_000, seed=8)
    registry_plain.push(idx, "it/plain-multi")
    docker = build_oci_image(str(tmp_path_factory.mktemp("dock")), tag="d1", layers=1, layer_size=10_000)
    registry_plain.push(docker, "it/plain-docker", format="v2s2")
    for t in ("a", "b", "c", "d", "e"):
        registry_plain.push(img, "it/plain-tags", tag=t)
    return {"img": img, "idx": idx, "docker": docker}


@pytest.fixture
def client(registry_plain):
    return RegistryClient(registry_plain.url)


def test_ping(client):
    assert client.ping() is True


def test_manifest_by_tag_and_digest_byte_identical(client, pushed):
    img = pushed["img"]
    got = client.get_manifest("it/plain-app", "v1")
    assert got.content == img.manifest_bytes
    assert got.digest == img.manifest.digest == got.header_digest
    assert got.media_type == mt.OCI_MANIFEST
    by_digest = client.get_manifest("it/plain-app", img.manifest.digest)
    assert by_digest.content == img.manifest_bytes


def test_accept_negotiation(client, pushed):
    with pytest.raises(DfError) as e:
        client.get_manifest("it/plain-app", "v1", accept=[mt.DOCKER_MANIFEST])
    assert e.value.code == "MANIFEST_UNKNOWN"
    idx = client.get_manifest("it/plain-multi", "multi", accept=[mt.OCI_INDEX, mt.OCI_MANIFEST])
    assert idx.media_type == mt.OCI_INDEX and idx.content == pushed["idx"].index_bytes
    docker = client.get_manifest("it/plain-docker", "d1")
    assert docker.media_type == mt.DOCKER_MANIFEST
    assert hashlib.sha256(docker.content).hexdigest() == docker.digest.split(":")[1]
    assert parse_manifest(docker.content, docker.media_type).layers[0].media_type == mt.DOCKER_LAYER


def test_head_manifest_and_resolve(client, pushed):
    img = pushed["img"]
    info = client.head_manifest("it/plain-app", "v1")
    assert (info.digest, info.size, info.media_type) == (img.manifest.digest, img.manifest.size, mt.OCI_MANIFEST)
    assert client.resolve("it/plain-app", "v1").digest == img.manifest.digest
    assert client.resolve("it/plain-multi", "multi").digest == pushed["idx"].index.digest


def test_blob_streaming_and_range(client, pushed):
    img = pushed["img"]
    layer = img.layers[0]
    data = read_blob(img, layer.digest)
    with client.get_blob("it/plain-app", layer.digest) as blob:
        assert blob.status_code == 200 and blob.size == layer.size
        chunks = list(blob.iter_chunks())
    assert b"".join(chunks) == data
    with client.get_blob("it/plain-app", layer.digest, range=(100, 1099)) as part:
        assert part.status_code == 206 and part.partial
        assert part.content_range == (100, 1099) and part.total_size == layer.size
        assert b"".join(part) == data[100:1100]
    with client.get_blob("it/plain-app", layer.digest, range="bytes=%d-" % (layer.size - 10)) as tail:
        assert tail.read() == data[-10:]
    info = client.head_blob("it/plain-app", layer.digest)
    assert (info.digest, info.size) == (layer.digest, layer.size)


def test_unknown_things(client, pushed):
    missing = "sha256:" + "0" * 64
    for call, code in ((lambda: client.get_manifest("it/plain-app", "nope"), "MANIFEST_UNKNOWN"),
                       (lambda: client.head_manifest("it/plain-app", "nope"), "MANIFEST_UNKNOWN"),
                       (lambda: client.get_blob("it/plain-app", missing), "BLOB_UNKNOWN"),
                       (lambda: client.head_blob("it/plain-app", missing), "BLOB_UNKNOWN"),
                       (lambda: client.list_tags("it/never-pushed"), "NAME_UNKNOWN"),
                       (lambda: client.get_manifest("it/never-pushed", "v1"), "MANIFEST_UNKNOWN")):
        with pytest.raises(DfError) as e:
            call()
        assert e.value.code == code
        assert e.value.http_status == 404
    with pytest.raises(DfError) as e:
        client.get_manifest("Bad/Name", "v1")
    assert e.value.code == "NAME_INVALID"


def test_tags_through_counting_front(registry_plain, pushed, counting_front):
    """Distribution 2.8 ignores ``n`` on tags/list (one page); Link pagination is covered by the stub suite."""
    front = counting_front(registry_plain)
    c = RegistryClient(front.url)
    assert sorted(c.list_tags("it/plain-tags", n=2)) == ["a", "b", "c", "d", "e"]
    pages = [r.path for r in front.requests if "/tags/list" in r.path]
    assert pages == ["/v2/it/plain-tags/tags/list?n=2"]
    assert sorted(c.list_tags("it/plain-tags")) == ["a", "b", "c", "d", "e"]


def test_walk_image_and_index(client, pushed):
    img = pushed["img"]
    assert [(b.digest, b.size) for b in walk(client, "it/plain-app", "v1")] == \
        [(b.digest, b.size) for b in img.blobs]
    idx = pushed["idx"]
    every = [b.digest for b in walk(client, "it/plain-multi", "multi")]
    expected = [b.digest for p in ("linux/amd64", "linux/arm64/v8") for b in idx.images[p].blobs]
    assert every == expected
    arm = [b.digest for b in walk(client, "it/plain-multi", "multi", platforms=["linux/arm64"])]
    assert arm == [b.digest for b in idx.images["linux/arm64/v8"].blobs]


def test_counting_front_counts_blobs_and_keeps_repeated_headers(registry_plain, pushed, counting_front):
    img = pushed["img"]
    front = counting_front(registry_plain)
    c = RegistryClient(front.url)
    layer = img.layers[1]
    for _ in range(2):
        with c.get_blob("it/plain-app", layer.digest) as b:
            for _chunk in b:
                pass
    assert front.served(layer.digest) == 2
    assert front.bytes_served(layer.digest) == 2 * layer.size
    assert front.served(img.layers[0].digest) == 0
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    conn.putrequest("GET", "/v2/it/plain-app/manifests/v1")
    conn.putheader("Accept", mt.DOCKER_MANIFEST)
    conn.putheader("Accept", mt.OCI_MANIFEST)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == img.manifest_bytes
    conn.close()
    accepts = [v for k, v in front.requests[-1].headers if k.lower() == "accept"]
    assert accepts == [mt.DOCKER_MANIFEST, mt.OCI_MANIFEST]
