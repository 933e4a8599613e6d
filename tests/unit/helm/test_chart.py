"""The Helm chart in helm/, rendered offline through the bundled Helm library: the objects each value set
produces, every one checked against the Kubernetes 1.30 API schemas in strict mode."""
from __future__ import annotations

import base64
import json

import pytest
import yaml

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk; part of the test extra)")
kv = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (part of the test extra)")

from tests.unit.helm.chart_render import (  # noqa: E402
    CHART_DIR, CRD_KINDS, KUBE_VERSION, NAMESPACE, RELEASE, SN, VALUE_SETS, container, load_rendered_config, objects,
    render, supernode_config_file,
)

# --- every value set renders valid Kubernetes objects -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(VALUE_SETS))
def test_every_object_is_valid_kubernetes(chart, case):
    objs = objects(chart, VALUE_SETS[case])
    assert objs
    for (kind, name), obj in objs.items():
        assert obj["metadata"]["namespace"] == NAMESPACE, (kind, name)
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if kind in CRD_KINDS:
            continue
        assert kv.validate(obj, KUBE_VERSION, strict=True), (kind, name)


# --- default install ------------------------------------------------------------------------------------------------

def test_default_objects(chart):
    objs = objects(chart)
    assert set(objs) == {
        ("StatefulSet", SN), ("Service", SN), ("Service", f"{SN}-headless"), ("ConfigMap", SN),
        ("DaemonSet", f"{RELEASE}-dfpy-dfdaemon"), ("ConfigMap", f"{RELEASE}-dfpy-dfdaemon"),
    }


def test_supernode_statefulset(chart):
    objs = objects(chart)
    sts = objs[("StatefulSet", SN)]
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == f"{SN}-headless"
    pod = sts["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = container(sts, "supernode")
    assert c["image"] == "dfpy:0.1.0"
    assert c["command"] == ["supernode"]
    assert c["args"][:2] == ["--config", "/etc/dragonfly/supernode.yml"]
    assert c["args"][2:4] == ["--advertise-ip", "$(POD_IP)"]
    assert {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} in c["env"]
    assert {(p["name"], p["containerPort"]) for p in c["ports"]} == {("api", 8002), ("download", 8001)}
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert probe["httpGet"] == {"path": "/_ping", "port": "api"}
    assert c["resources"]["requests"]["memory"] == "512Mi"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["config"]["mountPath"] == "/etc/dragonfly/supernode.yml"
    assert mounts["config"]["subPath"] == "supernode.yml"
    assert mounts["home"]["mountPath"] == "/home/admin/supernode"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == SN
    assert volumes["home"] == {"name": "home", "emptyDir": {}}
    assert "volumeClaimTemplates" not in sts["spec"]


def test_supernode_services(chart):
    objs = objects(chart)
    svc, headless = objs[("Service", SN)], objs[("Service", f"{SN}-headless")]
    for s in (svc, headless):
        assert {(p["name"], p["port"], p["targetPort"]) for p in s["spec"]["ports"]} == {
            ("api", 8002, "api"), ("download", 8001, "download")}
        assert s["spec"]["selector"] == objs[("StatefulSet", SN)]["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert headless["spec"]["clusterIP"] == "None"


def test_default_supernode_config(chart, tmp_path):
    objs = objects(chart)
    assert yaml.safe_load(supernode_config_file(objs))["port"] == 8002
    conf = load_rendered_config(tmp_path, objs)
    assert conf.cdn_pattern == "local" and conf.max_bandwidth == 200 << 20 and conf.log_json is True


def test_dfdaemon_daemonset_defaults(chart):
    objs = objects(chart)
    ds = objs[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")]
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    c = container(ds, "dfdaemon")
    args = c["args"]
    assert args[args.index("--config") + 1] == "/etc/dragonfly/dfdaemon.yml"
    assert args[args.index("--port") + 1] == "65001"
    assert args[args.index("--node") + 1] == f"{SN}-0.{SN}-headless.{NAMESPACE}.svc:8002"
    assert args[args.index("--workHome") + 1] == "/var/lib/dfdaemon"
    assert c["ports"] == [{"name": "mirror", "containerPort": 65001, "hostPort": 65001, "protocol": "TCP"}]
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert probe["httpGet"] == {"path": "/healthz", "port": "mirror"}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["config"] == "/etc/dragonfly/dfdaemon.yml"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["hostPath"] == {"path": "/var/lib/dfpy/dfdaemon", "type": "DirectoryOrCreate"}
    assert volumes["config"]["configMap"]["name"] == f"{RELEASE}-dfpy-dfdaemon"
    (init,) = pod["initContainers"]
    assert init["command"] == ["chown", "1000:1000", "/var/lib/dfdaemon"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert yaml.safe_load(objs[("ConfigMap", f"{RELEASE}-dfpy-dfdaemon")]["data"]["dfdaemon.yml"]) == {}


# --- value sets -----------------------------------------------------------------------------------------------------

def test_replicas_3_lists_every_supernode_pod(chart):
    objs = objects(chart, VALUE_SETS["replicas3"])
    assert objs[("StatefulSet", SN)]["spec"]["replicas"] == 3
    args = container(objs[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")], "dfdaemon")["args"]
    nodes = args[args.index("--node") + 1].split(",")
    assert nodes == [f"{SN}-{i}.{SN}-headless.{NAMESPACE}.svc:8002" for i in range(3)]


def test_node_discovery_service_and_explicit_nodes(chart):
    args = container(objects(chart, VALUE_SETS["dfdaemon_emptydir"])[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")],
                     "dfdaemon")["args"]
    assert args[args.index("--node") + 1] == f"{SN}.{NAMESPACE}.svc:8002"
    objs = objects(chart, {"dfdaemon": {"nodes": ["a:8002=2", "b"]}})
    args = container(objs[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")], "dfdaemon")["args"]
    assert args[args.index("--node") + 1] == "a:8002=2,b"


def test_dfdaemon_emptydir_health_path_and_config(chart):
    objs = objects(chart, VALUE_SETS["dfdaemon_emptydir"])
    ds = objs[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")]
    pod = ds["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert "initContainers" not in pod
    assert container(ds, "dfdaemon")["livenessProbe"]["httpGet"]["path"] == "/_ping"
    cm = objs[("ConfigMap", f"{RELEASE}-dfpy-dfdaemon")]
    assert yaml.safe_load(cm["data"]["dfdaemon.yml"]) == {"registry_mirror": {"remote": "https://r"}}


def test_host_network_off_binds_host_port(chart):
    ds = objects(chart, VALUE_SETS["host_network_off"])[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")]
    pod = ds["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod and "dnsPolicy" not in pod
    assert container(ds, "dfdaemon")["ports"][0]["hostPort"] == 65001
    notes = render(chart, VALUE_SETS["host_network_off"])["dfpy/templates/NOTES.txt"]
    assert "<node IP>:65001" in notes
    ds = objects(chart, {"dfdaemon": {"hostNetwork": False, "hostPort": None}})[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")]
    assert "hostPort" not in container(ds, "dfdaemon")["ports"][0]


def test_dfdaemon_disabled(chart):
    objs = objects(chart, VALUE_SETS["dfdaemon_off"])
    assert not [k for k in objs if "dfdaemon" in k[1]]


def test_redis_on(chart):
    objs = objects(chart, VALUE_SETS["redis"])
    name = f"{RELEASE}-dfpy-redis"
    dep, svc = objs[("Deployment", name)], objs[("Service", name)]
    assert svc["spec"]["ports"][0]["port"] == 6379
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert container(dep, "redis")["image"] == "redis:7.2-alpine"
    env = {e["name"]: e for e in container(objs[("StatefulSet", SN)], "supernode")["env"]}
    assert env["SUPERNODE_REDIS_URL"]["value"] == f"redis://{name}.{NAMESPACE}.svc:6379/0"
    assert ("Secret", f"{RELEASE}-dfpy-auth") not in objs


def test_redis_password_lives_in_the_secret(chart):
    objs = objects(chart, VALUE_SETS["redis_password"])
    secret = objs[("Secret", f"{RELEASE}-dfpy-auth")]
    assert base64.b64decode(secret["data"]["redis-password"]).decode() == "s3cret-redis"
    redis = container(objs[("Deployment", f"{RELEASE}-dfpy-redis")], "redis")
    assert redis["args"][-2:] == ["--requirepass", "$(REDIS_PASSWORD)"]
    assert redis["env"][0]["valueFrom"]["secretKeyRef"] == {"name": f"{RELEASE}-dfpy-auth", "key": "redis-password"}
    assert "s3cret-redis" not in json.dumps(objs[("StatefulSet", SN)])


def test_external_redis_url(chart):
    objs = objects(chart, {"redis": {"externalUrl": "redis://cache.infra:6379/2"}})
    assert not [k for k in objs if k[0] == "Deployment"]
    env = {e["name"]: e for e in container(objs[("StatefulSet", SN)], "supernode")["env"]}
    assert env["SUPERNODE_REDIS_URL"]["value"] == "redis://cache.infra:6379/2"
    # each pod is a cluster member named after itself, reached at its pod IP
    assert env["SUPERNODE_CLUSTER_MEMBER_ID"]["value"] == "$(POD_NAME)"
    assert env["SUPERNODE_CLUSTER_ADVERTISE"]["value"] == "$(POD_IP)"


def test_several_supernodes_need_a_redis(chart):
    with pytest.raises(Exception, match=r"supernode.replicas > 1 needs a Redis"):
        render(chart, {"supernode": {"replicas": 2}})
    env = {e["name"] for e in container(objects(chart, {})[("StatefulSet", SN)], "supernode")["env"]}
    assert "SUPERNODE_CLUSTER_MEMBER_ID" not in env             # one supernode: no cluster, as before


def test_servicemonitor_on(chart):
    objs = objects(chart, VALUE_SETS["servicemonitor"])
    sm = objs[("ServiceMonitor", SN)]
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"][0]["port"] == "api" and sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["spec"]["selector"]["matchLabels"].items() <= objs[("Service", SN)]["metadata"]["labels"].items()
    pm = objs[("PodMonitor", f"{RELEASE}-dfpy-dfdaemon")]
    assert pm["metadata"]["labels"]["release"] == "prom"
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "mirror"
    ds = objs[("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")]
    assert pm["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert "mirror" in [p["name"] for p in container(ds, "dfdaemon")["ports"]]


def test_grafana_dashboard_configmap(chart):
    assert not [k for k in objects(chart) if k[1].endswith("-dashboards")]
    cm = objects(chart, VALUE_SETS["grafana_dashboard"])[("ConfigMap", f"{RELEASE}-dfpy-dashboards")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART_DIR / "dashboards" / "dfpy-overview.json").read_text())
    assert json.loads(cm["data"]["dfpy-overview.json"]) == shipped


def test_ingress_on(chart):
    ing = objects(chart, VALUE_SETS["ingress"])[("Ingress", SN)]
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "sn.example.com"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": SN, "port": {"name": "api"}}}
    assert ing["spec"]["tls"] == [{"secretName": "sn-tls", "hosts": ["sn.example.com"]}]


def test_custom_image(chart):
    objs = objects(chart, VALUE_SETS["image_tag"])
    for key, name in (("StatefulSet", SN), ("DaemonSet", f"{RELEASE}-dfpy-dfdaemon")):
        pod = objs[(key, name)]["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            assert c["image"] == "registry.example.com/dfpy:v9" and c["imagePullPolicy"] == "Always"
        assert pod["imagePullSecrets"] == [{"name": "pull"}]


def test_extra_labels_on_objects_and_pods_not_selectors(chart):
    for obj in objects(chart, VALUE_SETS["extra_labels"]).values():
        assert obj["metadata"]["labels"]["team"] == "p2p"
        assert obj["metadata"]["labels"]["example.com/tier"] == "infra"
        spec = obj.get("spec", {})
        if "template" in spec:
            assert spec["template"]["metadata"]["labels"]["team"] == "p2p"
            assert "team" not in spec["selector"]["matchLabels"]
        if obj["kind"] == "Service":
            assert "team" not in spec["selector"]


def test_persistence_uses_volume_claim_templates(chart):
    sts = objects(chart, VALUE_SETS["persistence"])[("StatefulSet", SN)]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "home"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "home" not in {v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]}


def test_auth_secret_and_env(chart):
    objs = objects(chart, VALUE_SETS["auth"])
    secret = objs[("Secret", f"{RELEASE}-dfpy-auth")]
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"harbor-webhook-auth": "Bearer harbor-secret", "registry-webhook-auth": "Basic cmVnOnB3",
                       "preheat-auth": "Bearer preheat-secret"}
    sts = objs[("StatefulSet", SN)]
    env = {e["name"]: e for e in container(sts, "supernode")["env"]}
    assert env["SUPERNODE_WEBHOOKS_HARBOR_AUTH"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-dfpy-auth", "key": "harbor-webhook-auth", "optional": True}
    dumped = json.dumps(sts) + supernode_config_file(objs)
    assert "harbor-secret" not in dumped and "preheat-secret" not in dumped


def test_existing_secret_is_referenced_not_rendered(chart):
    objs = objects(chart, VALUE_SETS["existing_secret"])
    assert not [k for k in objs if k[0] == "Secret"]
    env = {e["name"]: e for e in container(objs[("StatefulSet", SN)], "supernode")["env"]}
    assert env["SUPERNODE_PREHEAT_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "my-auth"


def test_no_secret_and_no_auth_env_by_default(chart):
    objs = objects(chart)
    env = {e["name"] for e in container(objs[("StatefulSet", SN)], "supernode")["env"]}
    assert env == {"POD_IP", "POD_NAME"}


def test_notes_tell_how_to_use_the_mirror(chart):
    notes = render(chart)["dfpy/templates/NOTES.txt"]
    assert '[host."http://127.0.0.1:65001"]' in notes
    assert '"registry-mirrors": ["http://127.0.0.1:65001"]' in notes
    assert f"http://{SN}.{NAMESPACE}.svc:8002" in notes


def test_long_release_name_gives_valid_names(chart):
    release = "a-very-long-release-name-that-reaches-the-helm-limit"[:53]
    values = {"redis": {"enabled": True}, "ingress": {"enabled": True}, "supernode": {"replicas": 2}}
    out = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        for obj in filter(None, yaml.safe_load_all(text)):
            name = obj["metadata"]["name"]
            assert len(name) <= 63 and not name.endswith("-"), name
            if obj["kind"] == "StatefulSet":
                assert len(name) + len("-99") + 11 <= 63      # pod name and controller-revision-hash label
            assert kv.validate(obj, KUBE_VERSION, strict=True)
