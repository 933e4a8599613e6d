"""Dragonfly 1.x preheat API (what Harbor's legacy "Dragonfly" provider calls), at ``/preheats`` and
``/api/v1/preheats``:

- ``POST /preheats`` ``{type, url, headers, filter, identifier}`` (Harbor adds image/tag/digest,
  ignored) -> 201 ``{"ID"}``; 208 ``{"code":208,"message":"preheat task already exists, id:<id>"}``
  when that preheat already succeeded; 400 on a bad body or type.
- ``GET /preheats`` -> the list; ``GET /preheats/<id>`` -> ``{"ID","status","startTime","finishTime",
  "errorMsg"}``, 404 ``{"code":404,"message":"<id> doesn't exists"}``; ``DELETE /preheats/<id>`` -> ``true``.
Errors are Dragonfly's ``{"code": <http status>, "message": ...}``.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from dfcommon.errors import DfError
from supernode.preheat.models import SUCCESS

from .params import body_params

PREFIXES = ("", "/api/v1")


def dragonfly_error(err: DfError):
    resp = jsonify({"code": err.http_status, "message": err.message})
    resp.status_code = err.http_status
    return resp


def parse_create(p) -> dict:
    type_ = p.str("type", required=True, max_len=16)
    headers = p.raw("headers") or {}
    if not isinstance(headers, dict):
        raise DfError("INVALID_PARAM", "headers must be an object")
    return {"type": type_, "url": p.str("url", required=True, max_len=8192), "headers": headers,
            "filter": p.str("filter", max_len=1024), "identifier": p.str("identifier", max_len=1024)}


def create_preheat_blueprint(services) -> Blueprint:
    bp = Blueprint("preheat", __name__)
    preheat = services.extras["preheat"]
    auth = services.extras.get("provider_auth")
    if auth is not None:
        bp.before_request(auth.check)

    def create():
        args = parse_create(body_params(request))
        rec, created = preheat.create(args["type"], args["url"], args["headers"], args["filter"],
                                      args["identifier"])
        if not created and rec.status == SUCCESS:
            return jsonify({"ID": rec.id, "code": 208,
                            "message": f"preheat task already exists, id:{rec.id}"}), 208
        return jsonify({"ID": rec.id}), 201

    def list_all():
        return jsonify([r.to_public() for r in preheat.list()])

    def get_one(rec_id):
        rec = preheat.get(rec_id)
        if rec is None:
            raise DfError("NOT_FOUND", f"{rec_id} doesn't exists")
        return jsonify(rec.to_legacy())

    def delete_one(rec_id):
        preheat.delete(rec_id)
        return jsonify(True)

    for prefix in PREFIXES:
        name = prefix.strip("/").replace("/", "_") or "legacy"
        bp.add_url_rule(f"{prefix}/preheats", f"create_{name}", create, methods=["POST"])
        bp.add_url_rule(f"{prefix}/preheats", f"list_{name}", list_all, methods=["GET"])
        bp.add_url_rule(f"{prefix}/preheats/<rec_id>", f"get_{name}", get_one, methods=["GET"])
        bp.add_url_rule(f"{prefix}/preheats/<rec_id>", f"delete_{name}", delete_one, methods=["DELETE"])

    bp.register_error_handler(DfError, dragonfly_error)
    return bp
