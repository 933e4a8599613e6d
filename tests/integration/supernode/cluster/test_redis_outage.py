"""Redis stopped during a run: calls that need the shared state answer 503 with a clear message, the failure is
logged once per interval (not once per call), and the member recovers by itself when Redis is back."""
import logging
import time

from supernode.app import create_app
from supernode.cluster import cluster_of
from tests.integration.supernode.cluster.helpers import cluster_services
from tests.unit.supernode.api.origin_http import Origin

MiB = 1 << 20


def test_redis_down_answers_503_logs_once_and_recovers(redis_factory, tmp_path, caplog):
    redis = redis_factory()
    origin = Origin({"/f": b"x" * (2 * MiB)}).start()
    services = cluster_services(redis.url, str(tmp_path), "sn-a", redis_timeout="500ms")
    node = cluster_of(services)
    client = create_app(services.config, services).test_client()
    body = {"rawUrl": origin.url + "/f", "taskUrl": origin.url + "/f", "ip": "127.0.0.1", "hostName": "h",
            "port": 65001, "path": "/peer/file/c", "version": "1.0.6", "superNodeIp": "127.0.0.1"}
    try:
        first = client.post("/peer/registry", json={**body, "cid": "c1"}).get_json()
        assert first["code"] == 200
        task_id = first["data"]["taskId"]
        deadline = time.monotonic() + 20                  # its CDN run done before Redis goes away
        while services.state.tasks.get(task_id).cdn_status != "SUCCESS" and time.monotonic() < deadline:
            time.sleep(0.05)
        redis.stop()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            replies = [client.post("/peer/registry", json={**body, "cid": f"c{i}"}) for i in range(2, 6)]
            pulls = [client.get("/peer/task", query_string={"taskId": task_id, "srcCid": "c1", "status": 700})
                     for _ in range(3)]
            cluster = client.get("/api/v1/cluster")
        # a registration the supernode cannot take now is 503 (dfget then tries its next supernode)
        assert {r.status_code for r in replies} == {503} and cluster.status_code == 503
        assert {r.status_code for r in pulls} == {200}                 # the protocol's ResultInfo ...
        assert {r.get_json()["code"] for r in pulls} == {500}            # ... with the failure code
        for r in (replies[0], pulls[0], cluster):
            text = r.get_data(as_text=True)
            assert "(Redis) is unreachable" in text and "Traceback" not in text
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len([m for m in lines if "redis unreachable" in m]) == 1           # once, not once per call
        assert not [m for m in lines if "request failed" in m or "Traceback" in m], lines
        assert node.metrics.redis_errors._value.get() >= 4
        redis.start()                                                   # same port: no restart of the member
        ok = client.post("/peer/registry", json={**body, "cid": "c9"})
        assert ok.status_code == 200 and ok.get_json()["code"] == 200
        assert client.get("/api/v1/cluster").status_code == 200
        pull = client.get("/peer/task", query_string={"taskId": task_id, "srcCid": "c1", "status": 700})
        assert pull.status_code == 200 and pull.get_json()["code"] in (601, 602)
    finally:
        services.close()
        origin.stop()
