"""The Dragonfly 2 preheat API as Harbor (>= 2.12) calls it.

- ``GET /healthy`` -> 200.
- ``POST /oapi/v1/jobs`` ``{"type":"preheat","args":{type,url,tag,filtered_query_params,headers,scope,
  concurrent_count,timeout,platform?,username?,password?},"scheduler_cluster_ids":...}`` -> 200
  ``{"id":<int>,"created_at","updated_at","state":"PENDING",...}``.
- ``GET /oapi/v1/jobs/<id>`` -> ``state`` PENDING | SUCCESS | FAILURE with ``result.job_states[]``
  (``error``, ``results[].success_tasks[]`` / ``failure_tasks[]``).
Job ids are integers persisted with the preheat records; ``args.tag`` is the task identifier.
"""
from __future__ import annotations

import socket

from flask import Blueprint, jsonify, request

from dfcommon.errors import DfError
from supernode.preheat.engine import job_state
from supernode.preheat.models import FAILED, FILE, SUCCESS, rfc3339

from .params import body_params
from .preheat import dragonfly_error

SCHEDULER_CLUSTER_ID = 1
PUBLIC_ARGS = ("type", "url", "tag", "filtered_query_params", "scope", "concurrent_count", "timeout", "platform")


def parse_job(p) -> dict:
    kind = p.str("type", required=True, max_len=32)
    if kind != "preheat":
        raise DfError("INVALID_PARAM", f"unsupported job type {kind!r}: only preheat")
    args = p.raw("args")
    if not isinstance(args, dict):
        raise DfError("INVALID_PARAM", "args must be an object")
    args = {str(k).lower(): v for k, v in args.items()}
    for key in ("type", "url", "tag", "filtered_query_params", "platform", "username", "password"):
        if args.get(key) is not None and not isinstance(args[key], str):
            raise DfError("INVALID_PARAM", f"args.{key} must be a string")
    if not args.get("url"):
        raise DfError("INVALID_PARAM", "args.url is required")
    return args


def _task_entry(url: str, description: str = "") -> dict:
    host = socket.gethostname()
    return {"url": url, "hostname": host, "ip": "", "description": description}


class JobView:
    """Renders one job as Dragonfly 2's manager does, with the fields Harbor reads."""

    def __init__(self, preheat, ip: str = ""):
        self.preheat, self.ip = preheat, ip

    def tasks(self, rec) -> tuple[list, list]:
        recs = [rec] if rec.type == FILE else [self.preheat.get(c) for c in rec.children]
        ok, bad = [], []
        for child in recs:
            if child is None:
                continue
            entry = _task_entry(child.url, child.error)
            entry["ip"] = self.ip
            if child.status == SUCCESS:
                ok.append(entry)
            elif child.status == FAILED:
                bad.append(entry)
        return ok, bad

    def render(self, job) -> dict:
        rec = self.preheat.get(job.record_id)
        state = job_state(rec)
        updated = rec.updated if rec is not None else job.created
        body = {"id": job.id, "created_at": rfc3339(job.created), "updated_at": rfc3339(max(updated, job.created)),
                "type": "preheat", "task_id": job.record_id, "state": state, "args": job.args,
                "scheduler_clusters": [{"id": SCHEDULER_CLUSTER_ID}], "result": {}}
        if state != "PENDING":
            ok, bad = self.tasks(rec) if rec is not None else ([], [])
            error = rec.error if rec is not None else "preheat record expired"
            body["result"] = {"state": state, "job_states": [{
                "state": state, "error": error if state == "FAILURE" else "", "ttl": 0,
                "results": [{"success_tasks": ok, "failure_tasks": bad,
                             "scheduler_cluster_id": SCHEDULER_CLUSTER_ID}]}]}
        return body


def create_df2_blueprint(services) -> Blueprint:
    bp = Blueprint("harbor_df2", __name__)
    preheat = services.extras["preheat"]
    store = preheat.store
    auth = services.extras.get("provider_auth")
    view = JobView(preheat, getattr(services.config, "advertise_ip", "") or "")

    @bp.get("/healthy")
    def healthy():
        return jsonify({"status": "ok"})

    def _guard():
        if auth is not None and request.path.startswith("/oapi/"):
            return auth.check()
        return None

    bp.before_request(_guard)

    @bp.post("/oapi/v1/jobs")
    def create_job():
        args = parse_job(body_params(request))
        platforms = [args["platform"]] if args.get("platform") else None
        creds = (args["username"], args["password"]) if args.get("username") and args.get("password") else None
        headers = args.get("headers") or {}
        rec, _ = preheat.create(args.get("type") or "image", args["url"], headers,
                                args.get("filtered_query_params") or "", args.get("tag") or "",
                                platforms=platforms, credentials=creds)
        job = store.new_job(rec.id, {k: args[k] for k in PUBLIC_ARGS if k in args})
        return jsonify(view.render(job)), 200

    @bp.get("/oapi/v1/jobs")
    def list_jobs():
        return jsonify([view.render(j) for j in store.jobs()])

    @bp.get("/oapi/v1/jobs/<job_id>")
    def get_job(job_id):
        if not job_id.isdigit():
            raise DfError("INVALID_PARAM", "job id must be an integer")
        job = store.job(int(job_id))
        if job is None:
            raise DfError("NOT_FOUND", f"job {job_id} not found")
        return jsonify(view.render(job))

    bp.register_error_handler(DfError, dragonfly_error)
    return bp
