import json

from dfdaemon.mirror.prefetch import LayerPrefetch, image_manifest_layers
from dfdaemon.p2p.supernode_client import SupernodeClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def manifest(layers=3, media=OCI_MANIFEST):
    return json.dumps({"schemaVersion": 2, "mediaType": media,
                       "config": {"digest": "sha256:" + "c" * 64, "size": 1},
                       "layers": [{"digest": "sha256:%064d" % i, "size": 1} for i in range(layers)]}).encode()


def test_image_manifests_count_their_layers():
    assert image_manifest_layers(manifest(3), OCI_MANIFEST) == 3
    assert image_manifest_layers(manifest(2, "application/vnd.docker.distribution.manifest.v2+json"), "") == 2
    body = json.loads(manifest(2))
    del body["mediaType"]                                 # OCI manifests may leave mediaType out
    assert image_manifest_layers(json.dumps(body).encode(), OCI_MANIFEST) == 2


def test_indexes_lists_and_garbage_are_not_prefetched():
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    assert image_manifest_layers(index, OCI_INDEX) == 0
    assert image_manifest_layers(b"not json", OCI_MANIFEST) == 0
    assert image_manifest_layers(b"[1, 2]", OCI_MANIFEST) == 0
    assert image_manifest_layers(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(),
                                 "application/vnd.docker.distribution.manifest.v1+prettyjws") == 0


def test_one_layer_images_no_nodes_and_repeats_start_nothing():
    asked = []
    p = LayerPrefetch(SupernodeClient(), ["127.0.0.1:1"], clock=lambda: 100.0)
    p._ask = lambda url, auth: asked.append((url, auth))       # noqa: SLF001 - the network part is tested live
    assert not p.manifest_served("http://r", "a/b", manifest(1), OCI_MANIFEST, "sha256:" + "1" * 64, None)
    assert p.manifest_served("http://r", "a/b", manifest(3), OCI_MANIFEST, "sha256:" + "2" * 64, "Bearer t")
    assert not p.manifest_served("http://r", "a/b", manifest(3), OCI_MANIFEST, "sha256:" + "2" * 64, "Bearer t")
    assert not LayerPrefetch(SupernodeClient(), []).manifest_served("http://r", "a/b", manifest(3), OCI_MANIFEST, "", None)
