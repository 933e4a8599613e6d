"""Builders of exact Harbor (Default, CloudEvents) and registry:2 notification bodies."""
from __future__ import annotations

import hashlib
import uuid

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def harbor_data(repo_full_name: str, dgst: str, tag: str | None = None, host: str = "harbor.dev",
                repo_type: str = "public", date_created: int | None = 1677053165) -> dict:
    """``event_data`` of a PUSH_ARTIFACT: tag None = pushed by digest (Harbor puts the digest in tag)."""
    namespace, _, name = repo_full_name.partition("/")
    if tag is None:
        resource = {"digest": dgst, "tag": dgst, "resource_url": f"{host}/{repo_full_name}@{dgst}"}
    else:
        resource = {"digest": dgst, "tag": tag, "resource_url": f"{host}/{repo_full_name}:{tag}"}
    repository = {"name": name, "namespace": namespace, "repo_full_name": repo_full_name, "repo_type": repo_type}
    if date_created is not None:
        repository["date_created"] = date_created
    return {"resources": [resource], "repository": repository}


def harbor_default(repo_full_name: str, dgst: str, tag: str | None = None, operator: str = "admin",
                   event_type: str = "PUSH_ARTIFACT", host: str = "harbor.dev", **kw) -> dict:
    return {"type": event_type, "occur_at": 1678082303, "operator": operator,
            "event_data": harbor_data(repo_full_name, dgst, tag, host, **kw)}


CE_TYPES = {"PUSH_ARTIFACT": "harbor.artifact.pushed", "PULL_ARTIFACT": "harbor.artifact.pulled",
            "DELETE_ARTIFACT": "harbor.artifact.deleted", "SCANNING_COMPLETED": "harbor.scan.completed",
            "QUOTA_EXCEED": "harbor.quota.exceeded"}


def harbor_cloudevent(repo_full_name: str, dgst: str, tag: str | None = None, operator: str = "admin",
                      event_type: str = "PUSH_ARTIFACT", host: str = "harbor.dev", event_id: str | None = None,
                      **kw) -> dict:
    return {"specversion": "1.0", "id": event_id or str(uuid.uuid4()),
            "source": "/projects/1/webhook/policies/3", "type": CE_TYPES[event_type],
            "datacontenttype": "application/json", "time": "2023-03-06T06:08:43Z",
            "requestid": "7b1e4b8a-61a4-4c2a-9a0e-6d1d4d2b7f10", "operator": operator,
            "data": harbor_data(repo_full_name, dgst, tag, host, **kw)}


def registry_event(repository: str, dgst: str, tag: str = "", action: str = "push",
                   media_type: str = MANIFEST_V2, host: str = "registry.local:5000", event_id: str | None = None,
                   with_request: bool = True) -> dict:
    event = {
        "id": event_id or str(uuid.uuid4()), "timestamp": "2026-11-26T10:01:02.123456789Z", "action": action,
        "target": {"mediaType": media_type, "digest": dgst, "size": 528, "length": 528,
                   "repository": repository,
                   "url": f"http://{host}/v2/{repository}/manifests/{dgst}"},
        "actor": {"name": "ci"}, "source": {"addr": "10.0.0.5:5000", "instanceID": "6a1c2f0e"},
    }
    if tag:
        event["target"]["tag"] = tag
    if with_request:
        event["request"] = {"id": "req-1", "addr": "10.0.0.9:41234", "host": host, "method": "PUT",
                            "useragent": "skopeo/1.9.3"}
    return event


def envelope(*events: dict) -> dict:
    return {"events": list(events)}
