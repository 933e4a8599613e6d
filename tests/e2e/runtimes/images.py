"""A small runnable OCI image built from the static busybox binary (Debian ``busybox-static``).

Two layers: the busybox root file system (``/bin/busybox`` plus ``sh``/``echo``/``cat`` links and an
``/etc/image-name`` file that makes every image's layers unique) and a layer of seeded random
bytes, so a pull moves a few MiB. Returned as :class:`tests.fixtures.oci_image.OciImage`, ready for
``Registry.push``.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile

from tests.fixtures.oci_image import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Blob, OciImage

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "ls")


def _put(out: str, data: bytes, media_type: str) -> Blob:
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(out, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    return Blob("sha256:" + digest, len(data), media_type)


def _entry(t: tarfile.TarFile, name: str, data: bytes | None = None, kind=tarfile.REGTYPE, mode=0o644,
           link: str = "") -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.linkname = kind, mode, 0, link
    if data is not None:
        ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if data is not None else None)


def _layer(out: str, fill) -> tuple[Blob, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        fill(t)
    tar = raw.getvalue()
    return _put(out, gzip.compress(tar, compresslevel=6, mtime=0), OCI_LAYER_GZIP), \
        "sha256:" + hashlib.sha256(tar).hexdigest()


def build_busybox_image(out: str, name: str, tag: str = "v1", filler: int = 1 << 20, seed: int = 0) -> OciImage:
    """An OCI layout in ``out`` of a busybox image whose ``/etc/image-name`` holds ``name``."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()

    def rootfs(t):
        for d in ("bin", "etc", "tmp"):
            _entry(t, d, kind=tarfile.DIRTYPE, mode=0o755)
        _entry(t, "bin/busybox", busybox, mode=0o755)
        for applet in APPLETS:
            _entry(t, f"bin/{applet}", kind=tarfile.SYMTYPE, mode=0o777, link="busybox")
        _entry(t, "etc/image-name", (name + "\n").encode())

    def data(t):
        _entry(t, "data", kind=tarfile.DIRTYPE, mode=0o755)
        _entry(t, "data/filler.bin", random.Random(f"{name}/{seed}").randbytes(filler))

    layers, diff_ids = zip(*(_layer(out, fill) for fill in (rootfs, data)))
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
           "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}
    config = _put(out, json.dumps(cfg, sort_keys=True).encode(), OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
           "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in layers]}
    data_bytes = json.dumps(doc).encode()
    manifest = _put(out, data_bytes, OCI_MANIFEST)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": manifest.digest, "size": manifest.size,
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return OciImage(out, tag, manifest, config, list(layers), "linux/amd64", data_bytes)
