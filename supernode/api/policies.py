"""``/api/v1/policies`` and ``/api/v1/runs``: preheat policies and their run records.

Errors are JSON problem objects: 400 for bad input (globs, crons, unknown fields), 404 for unknown ids,
409 for a duplicate policy name.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from dfcommon.errors import DfError
from supernode.policies.service import policy_service_of

MAX_RUNS = 1000


def _body():
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise DfError("INVALID_PARAM", "a JSON object body is expected")
    return data


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RUNS:
        raise DfError("INVALID_PARAM", f"limit: an integer from 1 to {MAX_RUNS} is expected")
    return int(raw)


def create_policies_blueprint(services) -> Blueprint:
    bp = Blueprint("policies", __name__, url_prefix="/api/v1")
    svc = policy_service_of(services)

    @bp.get("/policies")
    def list_policies():
        return jsonify([svc.view(p) for p in svc.list()])

    @bp.post("/policies")
    def create_policy():
        policy = svc.create(_body())
        resp = jsonify(svc.view(policy))
        resp.status_code = 201
        resp.headers["Location"] = url_for(".get_policy", policy_id=policy.id)
        return resp

    @bp.get("/policies/<policy_id>")
    def get_policy(policy_id):
        return jsonify(svc.view(svc.get(policy_id)))

    @bp.put("/policies/<policy_id>")
    def replace_policy(policy_id):
        return jsonify(svc.view(svc.update(policy_id, _body(), partial=False)))

    @bp.patch("/policies/<policy_id>")
    def patch_policy(policy_id):
        return jsonify(svc.view(svc.update(policy_id, _body(), partial=True)))

    @bp.delete("/policies/<policy_id>")
    def delete_policy(policy_id):
        svc.delete(policy_id)
        return Response(status=204)

    @bp.post("/policies/<policy_id>/run")
    def run_policy(policy_id):
        run = svc.run_now(policy_id)
        resp = jsonify(run.to_json())
        resp.status_code = 202
        resp.headers["Location"] = url_for(".get_run", run_id=run.id)
        return resp

    @bp.get("/policies/<policy_id>/runs")
    def list_runs(policy_id):
        return jsonify([r.to_json() for r in svc.runs(policy_id, _limit())])

    @bp.get("/runs/<run_id>")
    def get_run(run_id):
        return jsonify(svc.run(run_id).to_json())

    return bp
