"""WebhookSink: pushed images become image preheats of the right manifest URL; failures raise for a retry."""
import pytest

from supernode.config import load_config
from supernode.preheat import PreheatFailed, install
from supernode.services import build_services
from tests.helpers import free_port
from webhooks import ImageEvent


@pytest.fixture
def comp(tmp_path):
    down = f"127.0.0.1:{free_port()}"
    conf = load_config(overrides={"storage_driver": "memory", "home_dir": str(tmp_path),
                                  "preheat": {"registries": [{"host": down, "scheme": "http"}]}, "fetch": {"allow": ["127.0.0.0/8", "::1"]}}, environ={})
    s = build_services(conf)
    c = install(s)
    c.down = down
    yield c
    c.stop()
    s.close()


def event(registry, repo="proj/a/b", tag="v1", digest="sha256:" + "1" * 64):
    return ImageEvent(action="push", registry=registry, repository=repo, tag=tag, digest=digest)


def test_manifest_urls(comp):
    sink = comp.sink
    assert sink.manifest_url(event("harbor.example")) == "https://harbor.example/v2/proj/a/b/manifests/v1"
    by_digest = event(comp.down, tag="sha256:" + "1" * 64)
    assert sink.manifest_url(by_digest) == f"http://{comp.down}/v2/proj/a/b/manifests/sha256:{'1' * 64}"


def test_a_failed_preheat_raises_so_the_dispatcher_retries(comp):
    sink = comp.sink
    with pytest.raises(PreheatFailed, match="registry unreachable"):
        sink.preheat_image(event(comp.down))
    rec = comp.preheat.list()[0]
    assert rec.status == "FAILED" and rec.url.startswith(f"http://{comp.down}/v2/proj/a/b/manifests/v1")
