"""Shared by the chart tests: the value sets, rendering and lookup helpers (no pytest fixtures here)."""
from __future__ import annotations

import pathlib

import yaml

from supernode.config import SupernodeConfig, load_config

CHART_DIR = pathlib.Path(__file__).resolve().parents[3] / "helm"
RELEASE, NAMESPACE = "rel1", "df-ns"
SN = f"{RELEASE}-dfpy-supernode"
KUBE_VERSION = "1.30.0"
CRD_KINDS = {"ServiceMonitor", "PodMonitor"}          # prometheus-operator CRD: not in the bundled Kubernetes schemas
CHART_OWNED_KEYS = {"port", "download_port", "home_dir"}

VALUE_SETS = {
    "default": {},
    "replicas3": {"supernode": {"replicas": 3}, "redis": {"enabled": True}},
    "redis": {"redis": {"enabled": True}},
    "redis_password": {"redis": {"enabled": True, "password": "s3cret-redis"}},
    "servicemonitor": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "grafana_dashboard": {"grafanaDashboard": {"enabled": True}},
    "ingress": {"ingress": {"enabled": True, "className": "nginx",
                           "hosts": [{"host": "sn.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                           "tls": [{"secretName": "sn-tls", "hosts": ["sn.example.com"]}]}},
    "image_tag": {"image": {"repository": "registry.example.com/dfpy", "tag": "v9", "pullPolicy": "Always"},
                  "imagePullSecrets": [{"name": "pull"}]},
    "extra_labels": {"extraLabels": {"team": "p2p", "example.com/tier": "infra"}},
    "host_network_off": {"dfdaemon": {"hostNetwork": False}},
    "persistence": {"supernode": {"persistence": {"enabled": True, "storageClassName": "fast", "size": "10Gi"}}},
    "auth": {"auth": {"harborWebhook": "Bearer harbor-secret", "registryWebhook": "Basic cmVnOnB3",
                      "preheat": "Bearer preheat-secret"}},
    "existing_secret": {"auth": {"existingSecret": "my-auth"}},
    "dfdaemon_off": {"dfdaemon": {"enabled": False}},
    "dfdaemon_emptydir": {"dfdaemon": {"dataDir": {"type": "emptyDir"}, "healthPath": "/_ping",
                                       "nodeDiscovery": "service", "config": {"registry_mirror": {"remote": "https://r"}}}},
    "scheduling": {"supernode": {"nodeSelector": {"disk": "ssd"}, "podAnnotations": {"a": "b"},
                                 "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                                 "extraArgs": ["--debug"], "extraEnv": [{"name": "X", "value": "1"}],
                                 "persistence": {"emptyDirSizeLimit": "20Gi"}},
                   "dfdaemon": {"tolerations": [{"operator": "Exists"}], "priorityClassName": "system-node-critical",
                                "extraArgs": ["--verbose"]}},
}


def render(chart, values=None) -> dict[str, str]:
    return chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(chart, values=None) -> dict[tuple[str, str], dict]:
    out = {}
    for path, text in render(chart, values).items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in out, f"duplicate object {key}"
                out[key] = doc
    return out


def container(obj, name):
    (c,) = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return c


def supernode_config_file(objs) -> str:
    return objs[("ConfigMap", SN)]["data"]["supernode.yml"]


def load_rendered_config(tmp_path, objs) -> SupernodeConfig:
    path = tmp_path / "supernode.yml"
    path.write_text(supernode_config_file(objs))
    return load_config(str(path), environ={})
