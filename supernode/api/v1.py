"""``/api/v1``: peers, tasks, piece errors and the network/heartbeat stubs."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from dfcommon.errors import DfError

from .params import body_params, check_ip, check_task_id, query_params
from .peer import parse_piece_error

MAX_PEER_ID = 512


def create_v1_blueprint(services) -> Blueprint:
    bp = Blueprint("v1", __name__, url_prefix="/api/v1")
    state, manager = services.state, services.manager

    def _peer_json(peer) -> dict:
        doc = peer.to_json()
        with state.lock:
            # peers this one refuses to fetch from after a failure (bad bytes, refused connections)
            doc["blacklist"] = dict(state.progress.blacklist.get(peer.id, {}))
            load = state.progress.peers.get(peer.id)
            doc["clientErrorCount"] = load.client_error_count if load else 0
            doc["serviceErrorCount"] = load.service_error_count if load else 0
        return doc

    def _peer_id(peer_id: str) -> str:
        if not peer_id or len(peer_id) > MAX_PEER_ID:
            raise DfError("INVALID_PARAM", "invalid peer id")
        return peer_id

    @bp.post("/peers")
    def create_peer():
        p = body_params(request)
        peer = state.peers.register(check_ip(p.str("IP", required=True, max_len=64), "IP"),
                                    p.str("HostName", required=True, max_len=255),
                                    p.int("Port", required=True, lo=0, hi=65535), p.str("Version", max_len=64))
        with state.lock:
            state.progress.init_peer(peer.id)
        return jsonify({"ID": peer.id}), 201

    @bp.get("/peers")
    def list_peers():
        return jsonify([_peer_json(p) for p in state.peers.list()])

    @bp.get("/peers/<peer_id>")
    def get_peer(peer_id):
        return jsonify(_peer_json(state.peers.require(_peer_id(peer_id))))

    @bp.delete("/peers/<peer_id>")
    def delete_peer(peer_id):
        if not state.drop_peer(_peer_id(peer_id)):
            raise DfError("NOT_FOUND", f"peer {peer_id} not found")
        return Response(status=200)

    @bp.get("/tasks/<task_id>")
    def get_task(task_id):
        return jsonify(state.tasks.require(check_task_id(task_id)).to_json())

    @bp.delete("/tasks/<task_id>")
    def delete_task(task_id):
        if not manager.delete_task(check_task_id(task_id), full=False):
            raise DfError("NOT_FOUND", f"task {task_id} not found")
        return Response(status=200)

    @bp.get("/tasks/<task_id>/pieces/<piece_range>/error")
    def piece_error(task_id, piece_range):
        manager.piece_error(parse_piece_error(query_params(request), check_task_id(task_id), piece_range))
        return Response(status=200)

    @bp.post("/peer/network")
    def network():
        return jsonify({})

    @bp.post("/peer/heartbeat")
    def heartbeat():
        return jsonify({})

    return bp
