"""Every metric the Grafana dashboard (helm/dashboards/) queries is exported by a running supernode or dfdaemon.

A real supernode, three real dfdaemons (two through P2P, one direct) and a real registry: an image is pulled through
each, once more from one cache, then both ``/metrics`` pages are scraped. Each metric name in a panel query must
appear in one of them (``# TYPE`` line, with the ``_total`` / ``_bucket`` suffix the query uses), and every label a
query filters or groups on must be a label of that metric's samples.
"""
from __future__ import annotations

import json
import pathlib
import re

import pytest
import requests

from tests.integration.dfdaemon.mirror_stack import pull_blob, sha256

pytestmark = pytest.mark.slow

DASHBOARDS = pathlib.Path(__file__).resolve().parents[3] / "helm" / "dashboards"
SELECTOR = re.compile(r"\b(dragonfly_[a-z0-9_]+)\s*(\{[^}]*\})?")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
SUFFIXES = {"counter": ("", "_total"), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
BUILT_IN = {"le", "instance", "job"}   # histogram buckets, and labels Prometheus adds when it scrapes


def queries(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def parse_exposition(text: str) -> dict[str, set]:
    """Every exported series name (with its suffixes) -> the label names seen on its samples."""
    types, labels = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line and not line.startswith("#"):
            series = line.rpartition(" ")[0]
            name, _, rest = series.partition("{")
            labels.setdefault(name, set()).update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest))
    out = {}
    for name, kind in types.items():
        for suffix in SUFFIXES.get(kind, ("",)):
            if not (kind == "counter" and name.endswith("_total") and suffix):
                out[name + suffix] = labels.get(name + suffix, set())
    return out


def test_dashboard_queries_only_exported_metrics(registry_plain, oci_image_factory, supernode, dfdaemon_factory):
    img = oci_image_factory(layers=2, layer_size=1 << 20, seed=31)
    registry_plain.push(img, "dash/app")
    p2p = [dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url) for _ in range(2)]
    direct = dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url,
                              extra={"registry_mirror": {"remote": registry_plain.url, "direct": True}})
    for host in p2p + [direct]:
        r = requests.get(f"{host.url}/v2/dash/app/manifests/latest", headers={"Accept": img.manifest.media_type},
                         timeout=10)
        assert r.status_code == 200 and r.content == img.manifest_bytes
        for blob in img.blobs:
            assert sha256(pull_blob(host.url, "dash/app", blob.digest)) == blob.digest
    assert sha256(pull_blob(p2p[0].url, "dash/app", img.layers[0].digest)) == img.layers[0].digest   # cache hit
    requests.get(f"{p2p[0].url}/v2/dash/app/manifests/nope", timeout=10)

    exported = parse_exposition(requests.get(f"{supernode.api}/metrics", timeout=10).text)
    exported.update(parse_exposition(requests.get(f"{p2p[0].url}/metrics", timeout=10).text))
    assert p2p[0].metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") > 0
    assert direct.metric("dragonfly_dfdaemon_blob_bytes_total", source="direct") > 0

    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, "no dashboard in helm/dashboards"
    missing, bad_labels, used = [], [], set()
    for path in files:
        dashboard = json.loads(path.read_text())
        exprs = queries(dashboard) + [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
        assert len(exprs) >= 7
        for expr in exprs:
            grouped = {g.strip() for groups in GROUPING.findall(expr) for g in groups.split(",") if g.strip()}
            for name, selector in SELECTOR.findall(expr):
                used.add(name)
                if name not in exported:
                    missing.append(f"{path.name}: {name}")
                    continue
                wanted = set(MATCHER.findall(selector or "")) | grouped
                unknown = wanted - exported[name] - BUILT_IN
                if unknown and exported[name]:
                    bad_labels.append(f"{path.name}: {name} has no label {sorted(unknown)}")
    assert missing == [], missing
    assert bad_labels == [], bad_labels
    assert {"dragonfly_dfdaemon_registry_requests_total", "dragonfly_supernode_cdn_download_size_bytes_total",
            "dragonfly_supernode_schedule_duration_milliseconds_bucket"} <= used


def test_panels_cover_what_an_operator_reads():
    dashboard = json.loads((DASHBOARDS / "dfpy-overview.json").read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("throughput", "p2p share", "origin bytes", "cache hit", "scheduler latency", "errors",
                  "per registry"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert {t["refId"] for p in dashboard["panels"] for t in p["targets"]} <= set("ABCDEFGH")
