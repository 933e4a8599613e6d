"""The chart's values: the supernode config file it renders loads with the supernode's own loader, only known
keys are accepted, values.schema.json rejects wrong types, and helm lint finds no problems."""
from __future__ import annotations

import dataclasses
import json

import pytest

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk; part of the test extra)")

from tests.unit.helm.chart_render import (  # noqa: E402
    CHART_DIR, CHART_OWNED_KEYS, KUBE_VERSION, NAMESPACE, SN, VALUE_SETS, container, load_rendered_config,
    objects, render, supernode_config_file,
)
from supernode.config import SupernodeConfig  # noqa: E402


@pytest.mark.parametrize("case", sorted(VALUE_SETS))
def test_supernode_configmap_loads_with_the_real_config_loader(chart, case, tmp_path):
    conf = load_rendered_config(tmp_path, objects(chart, VALUE_SETS[case]))
    assert (conf.port, conf.download_port, conf.home_dir) == (8002, 8001, "/home/admin/supernode")


@pytest.mark.parametrize("case", sorted(VALUE_SETS))
def test_lint_is_clean(case):
    """`helm lint --strict` reports nothing at all, not even the INFO notes (such as a missing icon)."""
    report = helm.lint(str(CHART_DIR), VALUE_SETS[case], strict=True, kube_version="v" + KUBE_VERSION,
                       namespace=NAMESPACE)
    assert report["total_charts_linted"] == 1
    assert report["errors"] == [] and report["messages"] == []


# --- supernode config: only known keys, every key reachable ---------------------------------------------------------

def schema():
    return json.loads((CHART_DIR / "values.schema.json").read_text())


def test_schema_knows_exactly_the_supernode_config_keys():
    props = set(schema()["properties"]["supernode"]["properties"]["config"]["properties"])
    fields = {f.name for f in dataclasses.fields(SupernodeConfig)}
    assert props | CHART_OWNED_KEYS == fields
    assert not props & CHART_OWNED_KEYS


def test_every_supernode_key_set_through_the_chart_loads(chart, tmp_path):
    config = {"listen_ip": "0.0.0.0", "advertise_ip": "10.0.0.9", "cdn_pattern": "source", "storage_driver": "memory",
              "max_bandwidth": "1G", "system_bandwidth": 1048576, "fail_access_interval": "1m30s",
              "source_connect_timeout": 2.5, "source_read_timeout": "30s", "cdn_writers": 8,
              "source_streams": 3, "source_chunk": "8MB", "fast_digest": False,
              "scheduler_policy": "rarest-first", "peer_up_limit": 6, "peer_down_limit": 5, "elimination_limit": 3,
              "failure_count_limit": 4, "supernode_upload_limit": 2,
              "supernode_upload_total": 6, "piece_size": "2M", "pull_hold": "500ms", "upload_rate": "11M", "gc_initial_delay": "1s", "gc_meta_interval": "1m",
              "task_expire_time": "10m", "peer_gc_delay": "5m", "gc_disk_interval": "30s",
              "young_gc_threshold": 107374182400, "full_gc_threshold": "10GB", "interval_threshold": "1h",
              "clean_ratio": 2, "max_body_size": "2MB", "max_header_size": "32KB",
              "request_head_timeout": "20s", "client_read_timeout": "2m", "max_source_downloads": 16, "log_level": "DEBUG", "log_json": False, "debug": True,
              "preheat": {"ttl": "12h", "auth_mode": "oauth", "auth_token": "pat",
                          "registries": [{"host": "harbor.local", "scheme": "http"}], "platforms": ["linux/amd64"]},
              "webhooks": {"harbor_auth": ["Bearer x"], "dedup_window": "5m"},
              "policies": {"misfire_grace_time": "2m", "credentials": {"robot": "u:p"}},
              "auth": {"enabled": False, "peer_token_ttl": "5m", "open_paths": ["/_ping"], "mode": "none",
                       "interop": True},
              "cluster": {"heartbeat_interval": "3s", "member_ttl": "15s", "key_prefix": "prod"},
              "fetch": {"allow": ["10.0.0.0/8"], "deny": ["*.internal"], "allow_only": True}}
    assert set(config) | CHART_OWNED_KEYS == {f.name for f in dataclasses.fields(SupernodeConfig)}
    objs = objects(chart, {"supernode": {"config": config, "ports": {"api": 9002, "download": 9001},
                                         "homeDir": "/data/sn"}})
    conf = load_rendered_config(tmp_path, objs)
    assert (conf.port, conf.download_port, conf.home_dir) == (9002, 9001, "/data/sn")
    assert conf.cdn_pattern == "source" and conf.storage_driver == "memory"
    assert conf.max_bandwidth == 1 << 30 and conf.system_bandwidth == 1 << 20
    assert conf.young_gc_threshold == 107374182400 and conf.fail_access_interval == 90.0
    assert conf.source_connect_timeout == 2.5 and conf.debug is True and conf.cdn_writers == 8
    assert (conf.supernode_upload_total, conf.piece_size, conf.pull_hold) == (6, 2 << 20, 0.5)
    assert (conf.source_streams, conf.source_chunk, conf.fast_digest) == (3, 8 << 20, False)
    assert conf.preheat.ttl == 43200.0 and conf.preheat.auth_mode == "bearer"
    assert conf.preheat.registries[0].scheme == "http" and conf.webhooks.dedup_window == 300.0
    assert conf.auth.peer_token_ttl == 300.0 and conf.auth.open_paths == ["/_ping"]
    assert (conf.auth.mode, conf.auth.interop) == ("none", True)
    assert (conf.max_header_size, conf.request_head_timeout, conf.client_read_timeout,
            conf.max_source_downloads) == (32 << 10, 20.0, 120.0, 16)
    assert (conf.fetch.allow, conf.fetch.deny, conf.fetch.allow_only) == (["10.0.0.0/8"], ["*.internal"], True)
    assert (conf.cluster.heartbeat_interval, conf.cluster.member_ttl, conf.cluster.key_prefix) == (3, 15, "prod")
    sts = objs[("StatefulSet", SN)]
    c = container(sts, "supernode")
    assert {p["containerPort"] for p in c["ports"]} == {9001, 9002}
    assert {m["name"]: m["mountPath"] for m in c["volumeMounts"]}["home"] == "/data/sn"


# --- values.schema.json rejects bad values ----------------------------------------------------------------------------

@pytest.mark.parametrize("values, where", [
    ({"supernode": {"replicas": "three"}}, "/supernode/replicas"),
    ({"supernode": {"config": {"bogus_key": 1}}}, "bogus_key"),
    ({"supernode": {"config": {"port": 9000}}}, "port"),
    ({"supernode": {"config": {"max_bandwidth": "lots"}}}, "/supernode/config/max_bandwidth"),
    ({"supernode": {"config": {"task_expire_time": "soon"}}}, "/supernode/config/task_expire_time"),
    ({"supernode": {"config": {"cdn_pattern": "p2p"}}}, "/supernode/config/cdn_pattern"),
    ({"supernode": {"ports": {"api": 70000, "download": 8001}}}, "/supernode/ports/api"),
    ({"dfdaemon": {"hostNetwork": "yes"}}, "/dfdaemon/hostNetwork"),
    ({"dfdaemon": {"dataDir": {"type": "nfs"}}}, "/dfdaemon/dataDir/type"),
    ({"dfdaemon": {"healthPath": "healthz"}}, "/dfdaemon/healthPath"),
    ({"image": {"tag": 9}}, "/image/tag"),
    ({"redis": {"enabled": "true"}}, "/redis/enabled"),
    ({"ingress": {"enabled": True, "hosts": "sn.example.com"}}, "/ingress/hosts"),
    ({"unknownTopLevel": 1}, "unknownTopLevel"),
])
def test_schema_rejects_wrong_values(chart, values, where):
    with pytest.raises(helm.HelmValuesError) as err:
        render(chart, values)
    assert where in str(err.value)


def test_supernode_command_line_accepts_the_rendered_args(chart, tmp_path):
    cli = pytest.importorskip("supernode.cli", reason="the supernode command line is not available")
    values = {"supernode": {"extraArgs": ["--log-level", "DEBUG"]}}
    objs = objects(chart, values)
    c = container(objs[("StatefulSet", SN)], "supernode")
    assert c["command"] == ["supernode"]
    config_path = tmp_path / "supernode.yml"
    config_path.write_text(supernode_config_file(objs))
    args = [a.replace("$(POD_IP)", "10.1.2.3") for a in c["args"]]
    args[args.index("--config") + 1] = str(config_path)
    conf = cli.load(cli.build_parser().parse_args(args))
    assert conf.advertise_ip == "10.1.2.3" and conf.log_level == "DEBUG" and conf.port == 8002
