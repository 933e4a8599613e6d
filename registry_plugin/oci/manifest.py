"""Manifest parsing (Docker schema2, manifest list, OCI manifest and index, schema1 read-only) and
:func:`walk`, which yields every blob (config + layers) of an image, recursing into indexes."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from dfcommon.digest import is_digest
from dfcommon.errors import DfError

from . import mediatypes as mt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platform:
    os: str = ""
    architecture: str = ""
    variant: str = ""
    os_version: str = ""

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """``os/arch[/variant]``, e.g. ``linux/arm64/v8``."""
        parts = (text or "").strip().split("/")
        if len(parts) < 2 or not all(parts) or len(parts) > 3:
            raise DfError("INVALID_PARAM", f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def from_json(cls, doc) -> "Platform | None":
        if not isinstance(doc, dict):
            return None
        return cls(doc.get("os", ""), doc.get("architecture", ""), doc.get("variant", ""),
                   doc.get("os.version", ""))

    def matches(self, want: "Platform") -> bool:
        """``want`` without a variant matches any variant."""
        if (self.os, self.architecture) != (want.os, want.architecture):
            return False
        return not want.variant or want.variant == self.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple = ()
    annotations: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_json(cls, doc, where: str) -> "Descriptor":
        if not isinstance(doc, dict) or not is_digest(doc.get("digest", "")):
            raise DfError("INVALID_PARAM", f"manifest {where} has no valid digest")
        size = doc.get("size", -1)
        if not isinstance(size, int):
            raise DfError("INVALID_PARAM", f"manifest {where} has an invalid size")
        return cls(doc.get("mediaType", ""), doc["digest"], size, Platform.from_json(doc.get("platform")),
                   tuple(doc.get("urls") or ()), dict(doc.get("annotations") or {}))


@dataclass
class ImageManifest:
    """A single-image manifest (Docker schema2, OCI, or schema1 with ``config`` None)."""
    media_type: str
    config: Descriptor | None
    layers: list

    @property
    def blobs(self) -> list:
        return ([self.config] if self.config else []) + list(self.layers)

    is_index = False


@dataclass
class ImageIndex:
    """A manifest list / OCI index: children are manifests with optional platforms."""
    media_type: str
    manifests: list

    is_index = True

    def select(self, platforms=None) -> list:
        if not platforms:
            return list(self.manifests)
        wants = [p if isinstance(p, Platform) else Platform.parse(p) for p in platforms]
        return [d for d in self.manifests if d.platform and any(d.platform.matches(w) for w in wants)]


def detect_media_type(doc: dict, header_type: str | None) -> str:
    """The header's type when it names a manifest type, else the body's ``mediaType`` or its shape."""
    ht = (header_type or "").split(";")[0].strip()
    known = mt.IMAGE_MANIFESTS + mt.INDEXES + mt.SCHEMA1
    if ht in known:
        return ht
    body = doc.get("mediaType")
    if body in known:
        return body
    if doc.get("schemaVersion") == 1 or "fsLayers" in doc:
        return mt.DOCKER_SCHEMA1_SIGNED if "signatures" in doc else mt.DOCKER_SCHEMA1
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "layers" in doc or "config" in doc:
        return mt.OCI_MANIFEST
    raise DfError("INVALID_PARAM", f"unrecognised manifest (media type {header_type!r})")


def parse_manifest(data: bytes, media_type: str | None = None):
    """Parse manifest bytes into an :class:`ImageManifest` or :class:`ImageIndex`."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise DfError("INVALID_PARAM", "manifest is not valid JSON") from None
    if not isinstance(doc, dict):
        raise DfError("INVALID_PARAM", "manifest is not a JSON object")
    kind = detect_media_type(doc, media_type)
    if kind in mt.INDEXES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise DfError("INVALID_PARAM", "index has no manifests list")
        return ImageIndex(kind, [Descriptor.from_json(c, f"manifests[{i}]") for i, c in enumerate(children)])
    if kind in mt.SCHEMA1:
        return _schema1(doc, kind)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise DfError("INVALID_PARAM", "manifest has no layers list")
    config = Descriptor.from_json(doc.get("config"), "config") if doc.get("config") is not None else None
    return ImageManifest(kind, config, [Descriptor.from_json(l, f"layers[{i}]") for i, l in enumerate(layers)])


def _schema1(doc: dict, kind: str) -> ImageManifest:
    fs = doc.get("fsLayers")
    if not isinstance(fs, list):
        raise DfError("INVALID_PARAM", "schema1 manifest has no fsLayers")
    layers, seen = [], set()
    for i, entry in enumerate(reversed(fs)):  # fsLayers lists the top layer first
        d = entry.get("blobSum") if isinstance(entry, dict) else None
        if not is_digest(d or ""):
            raise DfError("INVALID_PARAM", f"schema1 fsLayers[{i}] has no valid blobSum")
        if d not in seen:  # schema1 repeats the empty layer; fetch each blob once
            seen.add(d)
            layers.append(Descriptor(mt.DOCKER_LAYER, d, -1))
    return ImageManifest(kind, None, layers)


def walk(client, repo: str, ref: str, platforms=None, accept=None, max_depth: int = 4):
    """Yield each distinct blob :class:`Descriptor` (config, then layers) of ``repo:ref``.

    Indexes are recursed; ``platforms`` (``["linux/amd64", ...]`` or Platform objects) filters their
    children. ``client`` needs ``get_manifest(repo, ref, accept=...)`` returning an object with
    ``content`` and ``media_type``.
    """
    seen: set = set()
    yield from _walk(client, repo, ref, platforms, accept, max_depth, seen)


def _walk(client, repo, ref, platforms, accept, depth, seen):
    if depth < 0:
        raise DfError("INVALID_PARAM", f"index nesting too deep at {repo}@{ref}")
    kw = {"accept": accept} if accept else {}
    got = client.get_manifest(repo, ref, **kw)
    parsed = parse_manifest(got.content, got.media_type)
    if parsed.is_index:
        children = parsed.select(platforms)
        log.debug("walk index repo=%s ref=%s children=%d", repo, ref, len(children))
        for child in children:
            if child.media_type in mt.IMAGE_MANIFESTS + mt.INDEXES + mt.SCHEMA1 or not child.media_type:
                yield from _walk(client, repo, child.digest, platforms, accept, depth - 1, seen)
        return
    for blob in parsed.blobs:
        if blob.digest not in seen:
            seen.add(blob.digest)
            yield blob
