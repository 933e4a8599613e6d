"""Dragonfly 1.x legacy peer endpoints (what dfget calls): registry, the pull loop and reports."""
from __future__ import annotations

import logging
from contextlib import nullcontext

from flask import Blueprint, Response, jsonify, request

from dfcommon.errors import DfError
from supernode.piece_digests import finish_md5
from supernode.scheduler import PieceErrorReport, PullRequest, RegisterRequest

from .errors import result_info
from .params import (body_params, check_ip, check_task_id, check_url, parse_headers, parse_root_cas,
                     query_params)

log = logging.getLogger(__name__)
STATUSES = (700, 701, 702)


def parse_register(p) -> RegisterRequest:
    pattern = p.str("pattern", default="p2p", max_len=16)
    if pattern not in ("p2p", "cdn", "source"):
        raise DfError("INVALID_PARAM", "pattern must be p2p, cdn or source")
    raw_url = check_url(p.str("rawUrl", required=True))
    task_url = p.str("taskUrl")
    if task_url:
        check_url(task_url, "taskUrl")
    return RegisterRequest(
        raw_url=raw_url, task_url=task_url, cid=p.str("cid", required=True, max_len=256),
        ip=check_ip(p.str("ip", required=True, max_len=64)), host_name=p.str("hostName", required=True, max_len=255),
        port=p.int("port", required=True, lo=0, hi=65535), path=p.str("path", required=True),
        version=p.str("version", max_len=64), md5=p.str("md5", max_len=64), identifier=p.str("identifier"),
        call_system=p.str("callSystem", max_len=128), headers=parse_headers(p.list("headers")),
        dfdaemon=p.bool("dfdaemon"), insecure=p.bool("insecure"), root_cas=parse_root_cas(p.list("rootCAs")),
        super_node_ip=p.str("superNodeIp", max_len=64), pattern=pattern, upload_scheme=_scheme(p),
        location=p.str("location", max_len=256), idc=p.str("idc", max_len=128))


def _scheme(p) -> str:
    """Our optional ``uploadScheme`` register key: how peers reach this peer's upload server."""
    scheme = p.str("uploadScheme", max_len=8).lower()
    if scheme not in ("", "http", "https"):
        raise DfError("INVALID_PARAM", "uploadScheme must be http or https")
    return scheme


def parse_pull(p) -> PullRequest:
    status = p.int("status", required=True)
    if status not in STATUSES:
        raise DfError("INVALID_PARAM", "status must be 700, 701 or 702")
    req = PullRequest(task_id=check_task_id(p.str("taskId", required=True)), src_cid=p.str("srcCid", required=True),
                      status=status, dst_cid=p.str("dstCid"), piece_range=p.str("range", max_len=64),
                      result=p.int("result", lo=-1000, hi=1000))
    if status == 701 and req.result in (500, 501, 503) and not req.piece_range:
        raise DfError("INVALID_PARAM", "range is required with a piece result")
    return req


OUR_VERSION_SUFFIX = "-py"      # our dfget and dfdaemon register as "<dragonfly version>-py"


def refuse_tokenless_peer(services, req: RegisterRequest) -> None:
    """With piece tokens required (auth on, ``auth.interop`` off) a Dragonfly 1.x peer, which never sends one,
    would be refused every piece and retry until its own timeout: refuse its registration at once instead, with
    the setting that lets it in. It then tries its next supernode or the source (unless ``--notbs``)."""
    from supernode.auth.wiring import auth_of
    wiring = auth_of(services)
    if wiring is None or not wiring.piece_tokens or req.version.endswith(OUR_VERSION_SUFFIX):
        return
    log.warning("refused a Dragonfly 1.x peer: piece tokens are required cid=%s ip=%s version=%s "
                "(auth.interop: true lets such peers in)", req.cid, req.ip, req.version or "-")
    services.metrics.peers_refused.labels("piece_tokens").inc()
    raise DfError("DENIED", f"dfget {req.version or '(no version)'} cannot send the piece tokens this supernode "
                  "requires; its operator can set auth.interop: true to serve Dragonfly 1.x peers",
                  http_status=500)


def host_ip() -> str:
    """The address the client used to reach us (from the Host header), without the port."""
    host = request.host or ""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_peer_blueprint(services) -> Blueprint:
    bp = Blueprint("peer", __name__)
    manager = services.manager
    metrics = services.metrics
    digests = services.extras.get("piece_digests")
    cluster = services.extras.get("cluster")
    meter = cluster.round_trips.call if cluster is not None else (lambda name: nullcontext({}))

    @bp.post("/peer/registry")
    def registry():
        params = body_params(request)
        req = parse_register(params)
        offer = params.str("pieceDigests", max_len=128)        # our addition; Dragonfly 1.x sends none
        if not req.super_node_ip:
            req.super_node_ip = host_ip()
        refuse_tokenless_peer(services, req)
        try:
            with meter("/peer/registry"):
                data = manager.register(req)
        except DfError as e:
            if e.kind.code in ("INVALID_PARAM", "FETCH_REFUSED", "UNAVAILABLE"):   # 4xx / 503 (a cap) as they are
                raise
            # task-register failures are returned as HTTP 500, as Dragonfly does (dfget moves on)
            raise DfError(e.kind.code, e.message, http_status=500) from None
        algo = digests.negotiate(req.cid, offer) if digests is not None else ""
        if algo and isinstance(data, dict):
            data["pieceDigest"] = algo
        return result_info(200, data, "success")

    @bp.get("/peer/task")
    def pull_piece_task():
        req = parse_pull(query_params(request))
        try:
            with meter("/peer/task") as call:
                code, data = manager.pull(req)
                call["call"] = f"/peer/task {code}"
        except DfError as e:
            if e.kind.code == "INVALID_PARAM":
                raise
            metrics.child(metrics.pull_replies, str(e.df_code)).inc()
            return result_info(e.df_code, None, e.message)
        metrics.child(metrics.pull_replies, str(code)).inc()
        if code == 600:
            finish_md5(services, req.task_id, req.src_cid, data)       # lazy md5: computed for a peer that needs it
        return result_info(code, data)

    @bp.get("/peer/piece/suc")
    def piece_success():
        p = query_params(request)
        with meter("/peer/piece/suc"):
            code = manager.piece_success(check_task_id(p.str("taskId", required=True)), p.str("cid", required=True),
                                         p.str("dstCid"), p.str("pieceRange", required=True, max_len=64))
        return result_info(code)

    @bp.get("/peer/piece/error")
    def piece_error():
        manager.piece_error(parse_piece_error(query_params(request)))
        return Response(status=200)

    @bp.get("/peer/service/down")
    def service_down():
        p = query_params(request)
        return result_info(manager.service_down(check_task_id(p.str("taskId", required=True)),
                                                p.str("cid", required=True)))

    @bp.post("/task/metrics")
    def task_metrics():
        p = body_params(request)
        call_system, ip = p.str("callSystem", max_len=128), p.str("IP", max_len=64)
        duration, length = max(0.0, p.float("duration")), max(0, p.int("fileLength", default=0))
        reason, success = p.int("backsourceReason", default=0), p.bool("success")
        if success:
            metrics.dfget_duration.labels(call_system, ip).observe(duration)
            metrics.dfget_size.labels(call_system, ip).inc(length)
        else:
            metrics.dfget_failed.labels(call_system, ip, str(reason)).inc()
        metrics.dfget_total.labels(call_system, ip).inc()
        return jsonify(None)

    @bp.post("/peer/network")
    def network():
        return jsonify({})

    @bp.post("/peer/heartbeat")
    def heartbeat():
        return jsonify({})

    return bp


PIECE_ERROR_TYPES = ("FILE_NOT_EXIST", "FILE_MD5_NOT_MATCH")


def parse_piece_error(p, task_id: str | None = None, piece_range: str | None = None) -> PieceErrorReport:
    error_type = p.str("errorType", max_len=64)
    if error_type and error_type not in PIECE_ERROR_TYPES:
        raise DfError("INVALID_PARAM", f"errorType must be one of {', '.join(PIECE_ERROR_TYPES)}, got {error_type!r}")
    return PieceErrorReport(
        task_id=check_task_id(task_id or p.str("taskId", required=True)),
        piece_range=piece_range or p.str("range", required=True, max_len=64), src_cid=p.str("srcCid"),
        dst_cid=p.str("dstCid"), dst_ip=p.str("dstIp", max_len=64), real_md5=p.str("realMd5", max_len=64),
        expected_md5=p.str("expectedMd5", max_len=128), error_type=error_type)
