import json

import pytest

from dfcommon.errors import DfError
from registry_plugin.oci import mediatypes as mt
from registry_plugin.oci.manifest import ImageIndex, ImageManifest, Platform, parse_manifest, walk
from registry_plugin.oci.responses import ManifestResponse


def d(c):
    return "sha256:" + c * 64


def schema2(media=mt.DOCKER_MANIFEST, cfg=mt.DOCKER_CONFIG, layer=mt.DOCKER_LAYER, layers=("b", "c")):
    return {"schemaVersion": 2, "mediaType": media,
            "config": {"mediaType": cfg, "digest": d("a"), "size": 10},
            "layers": [{"mediaType": layer, "digest": d(x), "size": 100 + i} for i, x in enumerate(layers)]}


def index(media=mt.OCI_INDEX):
    return {"schemaVersion": 2, "mediaType": media, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": d("1"), "size": 5, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": mt.OCI_MANIFEST, "digest": d("2"), "size": 5,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": mt.OCI_MANIFEST, "digest": d("3"), "size": 5, "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}


def test_docker_schema2():
    m = parse_manifest(json.dumps(schema2()).encode(), mt.DOCKER_MANIFEST)
    assert isinstance(m, ImageManifest) and m.media_type == mt.DOCKER_MANIFEST
    assert m.config.digest == d("a") and m.config.size == 10
    assert [l.digest for l in m.layers] == [d("b"), d("c")]
    assert [b.digest for b in m.blobs] == [d("a"), d("b"), d("c")]


def test_oci_manifest_detected_from_body_or_shape():
    body = schema2(mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_GZIP)
    assert parse_manifest(json.dumps(body).encode(), "application/octet-stream").media_type == mt.OCI_MANIFEST
    del body["mediaType"]
    assert parse_manifest(json.dumps(body).encode()).media_type == mt.OCI_MANIFEST
    assert parse_manifest(json.dumps(body).encode(), mt.OCI_MANIFEST + "; charset=utf-8").media_type == mt.OCI_MANIFEST


@pytest.mark.parametrize("media", [mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST])
def test_index_and_list(media):
    idx = parse_manifest(json.dumps(index(media)).encode(), media)
    assert isinstance(idx, ImageIndex) and idx.is_index and idx.media_type == media
    assert [c.platform.architecture for c in idx.manifests] == ["amd64", "arm64", "unknown"]
    assert [c.digest for c in idx.select(["linux/arm64"])] == [d("2")]
    assert [c.digest for c in idx.select(["linux/arm64/v8", "linux/amd64"])] == [d("1"), d("2")]
    assert idx.select(["linux/arm64/v7"]) == []
    assert len(idx.select(None)) == 3


def test_index_without_media_type_field():
    doc = index()
    del doc["mediaType"]
    assert parse_manifest(json.dumps(doc).encode()).is_index


def test_schema1_read_only():
    doc = {"schemaVersion": 1, "name": "x", "tag": "t", "fsLayers": [{"blobSum": d("c")}, {"blobSum": d("b")},
                                                                      {"blobSum": d("c")}],
           "history": [], "signatures": [{}]}
    m = parse_manifest(json.dumps(doc).encode(), mt.DOCKER_SCHEMA1_SIGNED)
    assert m.config is None and [l.digest for l in m.layers] == [d("c"), d("b")]
    del doc["signatures"]
    assert parse_manifest(json.dumps(doc).encode()).media_type == mt.DOCKER_SCHEMA1


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"schemaVersion":2}',
                                  json.dumps({"layers": [{"digest": "sha256:bad", "size": 1}]}).encode(),
                                  json.dumps({"manifests": "x", "mediaType": mt.OCI_INDEX}).encode()])
def test_invalid_manifests(body):
    with pytest.raises(DfError) as e:
        parse_manifest(body)
    assert e.value.code == "INVALID_PARAM"


def test_platform_parse():
    assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert str(Platform.parse("linux/amd64")) == "linux/amd64"
    with pytest.raises(DfError):
        Platform.parse("linux")


class StoredManifests:
    """A fake manifest source (the real registry walk is covered by the integration suite)."""

    def __init__(self, docs):
        self.docs = docs
        self.asked = []

    def get_manifest(self, repo, ref, accept=None):
        self.asked.append(ref)
        media, doc = self.docs[ref]
        raw = json.dumps(doc).encode()
        return ManifestResponse(raw, media, ref, None)


def test_walk_recurses_index_with_filter_and_dedups():
    a = schema2(mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_GZIP, layers=("b", "c"))
    b = schema2(mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_GZIP, layers=("c", "e"))
    src = StoredManifests({"v1": (mt.OCI_INDEX, index()), d("1"): (mt.OCI_MANIFEST, a),
                           d("2"): (mt.OCI_MANIFEST, b), d("3"): (mt.OCI_MANIFEST, a)})
    assert [x.digest for x in walk(src, "r", "v1")] == [d("a"), d("b"), d("c"), d("e")]
    src.asked.clear()
    assert [x.digest for x in walk(src, "r", "v1", platforms=["linux/arm64"])] == [d("a"), d("c"), d("e")]
    assert src.asked == ["v1", d("2")]
