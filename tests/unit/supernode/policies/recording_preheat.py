"""RecordingPreheat: stands in for the preheat engine (``supernode.preheat``) where a test is about the
policy side only. It has the engine's ``create(type, url, headers, filter, identifier, platforms)`` and
``get(id)``, records every call, and finishes image records after ``polls`` reads with one child record per
layer. With ``registry=True`` it reads the real manifest through the registry client, so children and bytes
are the image's real layers; otherwise it invents ``layers`` children of ``layer_bytes`` each.
"""
from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit

from supernode.preheat.models import FAILED, FILE, RUNNING, SUCCESS, WAITING, PreheatRecord


class RecordingPreheat:
    def __init__(self, layers: int = 2, layer_bytes: int = 1000, polls: int = 1, fail=(), registry: bool = False):
        self.layers, self.layer_bytes, self.polls = layers, layer_bytes, polls
        self.fail = set(fail)
        self.registry = registry
        self.calls: list[dict] = []
        self.records: dict[str, PreheatRecord] = {}
        self._reads: dict[str, int] = {}
        self._lock = threading.Lock()

    def create(self, type, url, headers, filter, identifier, platforms=None, credentials=None):
        with self._lock:
            self.calls.append({"type": type, "url": url, "headers": dict(headers), "filter": filter,
                               "identifier": identifier, "platforms": platforms, "credentials": credentials})
            for rec in self.records.values():
                if rec.url == url and not rec.parent_id:
                    return rec, False
            rec = PreheatRecord(id=uuid.uuid4().hex, type=type, url=url, platforms=list(platforms or []),
                                status=WAITING)
            self.records[rec.id] = rec
            for i, size in enumerate(self._layer_sizes(url, credentials)):
                child = PreheatRecord(id=uuid.uuid4().hex, type=FILE, url=f"{url}#layer{i}", parent_id=rec.id,
                                      status=WAITING, bytes=size)
                self.records[child.id] = child
                rec.children.append(child.id)
            return rec, True

    def _layer_sizes(self, url: str, credentials) -> list[int]:
        if not self.registry:
            return [self.layer_bytes] * self.layers
        from registry_plugin.oci import RegistryClient, parse_manifest
        parts = urlsplit(url)
        repo, _, ref = parts.path[len("/v2/"):].rpartition("/manifests/")
        client = RegistryClient(f"{parts.scheme}://{parts.netloc}", credentials=credentials)
        resp = client.get_manifest(repo, ref)
        return [layer.size for layer in parse_manifest(resp.content, resp.media_type).layers]

    def get(self, record_id: str):
        with self._lock:
            rec = self.records.get(record_id)
            if rec is None or rec.parent_id:
                return rec
            self._reads[record_id] = self._reads.get(record_id, 0) + 1
            if self._reads[record_id] >= self.polls and rec.status not in (SUCCESS, FAILED):
                final = FAILED if rec.url in self.fail else SUCCESS
                rec.status = final
                rec.error = "origin refused" if final == FAILED else ""
                for cid in rec.children:
                    self.records[cid].status = final
                rec.bytes = sum(self.records[c].bytes for c in rec.children) if final == SUCCESS else 0
            elif rec.status == WAITING:
                rec.status = RUNNING
            return rec

    def image_urls(self) -> list[str]:
        return [c["url"] for c in self.calls if c["type"] == "image"]
