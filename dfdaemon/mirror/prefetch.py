"""Layer prefetch: after the mirror serves an image manifest, the supernode starts fetching every blob of it.

Many clients pull an image's layers one after another (skopeo into ``dir:``, docker past its three
concurrent downloads, containerd past its limit). The CDN would then start each layer only when the
first host asks for it, after it finished the layer before, and the origin link would idle in
between. So when an image manifest (not an index: the client picks a platform next) has been sent to
the client whole, the mirror asks its supernode to preheat that manifest by digest with the
client's registry authorization (``POST /preheats`` ``{"type": "image"}``): the CDN fetches every
layer from the origin once, one after another, and later downloads join those tasks. The supernode's
preheat engine computes the same task ids as this dfdaemon's downloads (the blob URL, with the same
query keys filtered), so nothing is fetched twice.

Best effort: a refused or failed request is logged (a refusal once per supernode) and the pull goes
on as without prefetch. Each manifest digest is asked for once per ``remember`` seconds on this host.
Nothing here serves bytes to clients: every blob request still goes through the access guard.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time

from dfcommon.errors import DfError
from dfdaemon.p2p.supernode_client import SupernodeClient, SupernodeError
from registry_plugin.oci import mediatypes as mt
from registry_plugin.oci.manifest import parse_manifest

log = logging.getLogger(__name__)

MAX_MANIFEST = 4 << 20          # larger bodies are not kept to be parsed


def image_manifest_layers(body: bytes, content_type: str) -> int:
    """The number of layers when ``body`` is an image manifest (0 for an index, schema 1 or anything else)."""
    try:
        parsed = parse_manifest(body, content_type)
    except DfError:
        return 0
    return len(parsed.layers) if not parsed.is_index and parsed.media_type in mt.IMAGE_MANIFESTS else 0


class LayerPrefetch:
    def __init__(self, client: SupernodeClient, nodes: list[str], remember: float = 600.0, clock=time.monotonic,
                 min_layers: int = 2):
        self.client = client                  # the downloader's supernode client (scheme, token, TLS)
        self.nodes = list(nodes)
        self.remember = remember
        self.clock = clock
        self.min_layers = min_layers          # a one-layer image gains nothing: its only layer is asked at once
        self._asked: dict[str, float] = {}    # manifest URL -> when it was asked
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def manifest_served(self, manifest_base_url: str, repository: str, body: bytes, content_type: str,
                        digest: str, authorization: str | None) -> bool:
        """Called once the client got the whole manifest. Returns whether a prefetch was started."""
        if not self.nodes or len(body) > MAX_MANIFEST:
            return False
        if image_manifest_layers(body, content_type) < self.min_layers:
            return False
        digest = digest or "sha256:" + hashlib.sha256(body).hexdigest()
        url = f"{manifest_base_url}/v2/{repository}/manifests/{digest}"
        now = self.clock()
        with self._lock:
            if now - self._asked.get(url, -self.remember - 1) < self.remember:
                return False
            self._asked = {u: t for u, t in self._asked.items() if now - t < self.remember}
            self._asked[url] = now
        threading.Thread(target=self._ask, args=(url, authorization), daemon=True, name="layer-prefetch").start()
        return True

    def _ask(self, url: str, authorization: str | None) -> None:
        for node in self.nodes:
            try:
                status = self.client.preheat_image(node, url, authorization)
            except SupernodeError as e:
                log.info("layer prefetch: %s", e)
                continue
            if status in (200, 201, 208):
                log.info("layer prefetch started url=%s node=%s", url, node)
                return
            if status in (401, 403):
                if node not in self._refused:
                    self._refused.add(node)
                    log.warning("layer prefetch refused by supernode %s (HTTP %d): give this dfdaemon a "
                                "supernode_token the preheat API accepts, or set prefetch: false", node, status)
                continue
            log.info("layer prefetch: supernode %s answered HTTP %d", node, status)
            return
