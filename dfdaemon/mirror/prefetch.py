"""Layer prefetch: after the mirror serves an image manifest, the supernode starts fetching every blob of it.

Many clients pull an image's layers one after another (skopeo into ``dir:``, docker past its three
concurrent downloads, containerd past its limit). The CDN would then start each layer only when the
first host asks for it, after it finished the layer before, and the origin link would idle in
between. So when an image manifest (not an index: the client picks a platform next) has been sent to
the client whole, the mirror asks its supernode to preheat that manifest by digest with the
client's registry authorization (``POST /preheats`` ``{"type": "image"}``): the CDN fetches every
layer from the origin once, all at once, and later downloads join those tasks. The supernode's
preheat engine computes the same task ids as this dfdaemon's downloads (the blob URL, with the same
query keys filtered), so nothing is fetched twice.

Best effort: a refused or failed request is logged (a refusal once per supernode) and the pull goes
on as without prefetch. Each manifest digest is asked for once per ``remember`` seconds on this host.
Nothing here serves bytes to clients: every blob request still goes through the access guard.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

from dfcommon.http import make_session

log = logging.getLogger(__name__)

IMAGE_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.v2+json")
MAX_MANIFEST = 4 << 20          # larger bodies are not kept to be parsed


def image_manifest_layers(body: bytes, content_type: str) -> int:
    """The number of layers when ``body`` is an image manifest (0 for an index, a list or anything else)."""
    ctype = (content_type or "").split(";")[0].strip()
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return 0
    if not isinstance(doc, dict):
        return 0
    media = doc.get("mediaType") or ctype
    if media not in IMAGE_MANIFEST_TYPES and not (media == "" and "layers" in doc and "config" in doc):
        return 0
    layers = doc.get("layers")
    return len(layers) if isinstance(layers, list) else 0


class LayerPrefetch:
    def __init__(self, nodes: list[str], scheme: str = "http", token: str | None = None, verify=True,
                 timeout: float = 5.0, remember: float = 600.0, clock=time.monotonic, min_layers: int = 2):
        self.nodes = list(nodes)
        self.scheme = scheme
        self.token = token
        self.verify = verify
        self.timeout = timeout
        self.remember = remember
        self.clock = clock
        self.min_layers = min_layers          # a one-layer image gains nothing: its only layer is asked at once
        self.session = make_session(timeout=timeout)
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
        body = {"type": "image", "url": url, "headers": {"Authorization": authorization} if authorization else {}}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for node in self.nodes:
            try:
                resp = self.session.post(f"{self.scheme}://{node}/preheats", json=body, headers=headers,
                                         timeout=self.timeout, verify=self.verify)
            except Exception as e:  # noqa: BLE001 - best effort: the next supernode, then give up
                log.info("layer prefetch: supernode %s unreachable (%s)", node, e.__class__.__name__)
                continue
            if resp.status_code in (200, 201, 208):
                log.info("layer prefetch started url=%s node=%s", url, node)
                return
            if resp.status_code in (401, 403):
                if node not in self._refused:
                    self._refused.add(node)
                    log.warning("layer prefetch refused by supernode %s (HTTP %d): give this dfdaemon a "
                                "supernode_token the preheat API accepts, or set prefetch: false",
                                node, resp.status_code)
                continue
            log.info("layer prefetch: supernode %s answered HTTP %d: %s", node, resp.status_code,
                     resp.text[:200].strip())
            return

    def close(self) -> None:
        self.session.close()
