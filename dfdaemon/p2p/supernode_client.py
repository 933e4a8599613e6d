"""Typed client of the supernode's legacy peer endpoints (what dfget 1.x calls), 5 s timeouts.

Replies come in the ``{"code", "msg", "data"}`` ResultInfo envelope with HTTP 200; any other
HTTP status or a network error raises :class:`SupernodeError`, which the downloader treats
as a node failure (next node, or back to the source).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dfcommon import piece_digest
from dfcommon.pool_http import HttpError, PoolClient

from . import result as R

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0


class SupernodeError(Exception):
    """The call failed: network error, non-200 HTTP status or an unreadable body."""

    def __init__(self, node: str, message: str, status: int | None = None, code: int | None = None):
        super().__init__(f"{node}: {message}")
        self.node, self.status, self.code = node, status, code


@dataclass
class RegisterRequest:
    raw_url: str
    task_url: str
    cid: str
    ip: str
    host_name: str
    port: int
    path: str
    version: str
    md5: str = ""
    identifier: str = ""
    call_system: str = ""
    headers: list = field(default_factory=list)      # ["Key:Value", ...]
    dfdaemon: bool = False
    insecure: bool = False
    root_cas: list = field(default_factory=list)     # base64 PEM bytes
    pattern: str = "p2p"
    super_node_ip: str = ""
    upload_scheme: str = ""                          # our addition: "https" when the upload server uses TLS
    piece_digests: str = ""                          # our addition: fast piece digests we can check

    def body(self) -> dict:
        """The JSON body with the keys spelled exactly as dfget sends them."""
        return {
            "rawUrl": self.raw_url, "taskUrl": self.task_url, "cid": self.cid, "ip": self.ip,
            "hostName": self.host_name, "port": self.port, "path": self.path, "version": self.version,
            "md5": self.md5, "identifier": self.identifier, "callSystem": self.call_system,
            "headers": list(self.headers), "dfdaemon": self.dfdaemon, "insecure": self.insecure,
            "rootCAs": list(self.root_cas), "taskId": "", "fileLength": 0, "asSeed": False,
            "superNodeIp": self.super_node_ip, "pattern": self.pattern,
            **({"uploadScheme": self.upload_scheme} if self.upload_scheme else {}),
            **({"pieceDigests": self.piece_digests} if self.piece_digests else {}),
        }


@dataclass
class RegisterReply:
    code: int
    msg: str = ""
    task_id: str = ""
    file_length: int = -1
    piece_size: int = 0
    cdn_source: str = "supernode"
    report_in_pull: bool = False     # our addition: a /peer/task result 501 counts as /peer/piece/suc
    piece_digest: str = ""           # our addition: the fast digest the pieces carry ("" = md5 only)


@dataclass
class PieceTask:
    """One entry of a 601 reply: which piece to fetch, from whom."""
    range: str
    piece_num: int
    piece_size: int
    piece_md5: str = ""
    cid: str = ""
    peer_ip: str = ""
    peer_port: int = 0
    path: str = ""
    down_link: int = 0
    token: str = field(default="", repr=False)       # our addition: peer token for the piece request
    scheme: str = "http"                             # our addition: https when the serving side uses TLS
    piece_digest: str = ""                           # our addition: "xxh3-128:<hex>" of the wrapped piece

    @classmethod
    def from_json(cls, d: dict) -> "PieceTask":
        g = {str(k).lower(): v for k, v in (d or {}).items()}
        return cls(range=str(g.get("range", "")), piece_num=int(g.get("piecenum") or 0),
                   piece_size=int(g.get("piecesize") or 0), piece_md5=str(g.get("piecemd5") or ""),
                   cid=str(g.get("cid") or ""), peer_ip=str(g.get("peerip") or ""),
                   peer_port=int(g.get("peerport") or 0), path=str(g.get("path") or ""),
                   down_link=int(g.get("downlink") or 0), token=str(g.get("token") or ""),
                   scheme="https" if str(g.get("scheme") or "").lower() == "https" else "http",
                   piece_digest=str(g.get("piecedigest") or ""))

    @property
    def expected_md5(self) -> str:
        return self.piece_md5.split(":", 1)[0]

    @property
    def fast_digest(self) -> str:
        """The hex of ``piece_digest`` when this process can check it, else "" (check the md5)."""
        return piece_digest.parse(self.piece_digest)

    @property
    def expected_length(self) -> int | None:
        parts = self.piece_md5.split(":", 1)
        return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None


@dataclass
class PullReply:
    code: int
    msg: str = ""
    pieces: list = field(default_factory=list)       # list[PieceTask] for 601
    md5: str = ""                                    # 600: md5 of the source
    file_length: int = -1                            # 600: wrapped CDN length


def _lower(d) -> dict:
    return {str(k).lower(): v for k, v in d.items()} if isinstance(d, dict) else {}


class SupernodeClient:
    """One client per downloader; ``node`` is ``host:port`` on every call."""

    def __init__(self, http: PoolClient | None = None, timeout: float = DEFAULT_TIMEOUT,
                 scheme: str = "http", token: str | None = None, user_agent: str = "dfget", verify=True):
        self.http = http or PoolClient(pool_size=16, user_agent=user_agent)
        self.verify = verify                    # CA bundle of the supernode's TLS certificate, or True
        self.timeout = (timeout, timeout)
        self.scheme = scheme
        self.token = token

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _send(self, method: str, node: str, path: str, **kw):
        """The reply of one call, its body read; :class:`SupernodeError` when no complete reply came."""
        try:
            with self.http.request(method, f"{self.scheme}://{node}{path}", timeout=self.timeout,
                                   headers=self._headers(), verify=self.verify, **kw) as resp:
                resp.read()
            return resp
        except HttpError as e:
            raise SupernodeError(node, f"{path} failed: {e}") from None

    def _call(self, method: str, node: str, path: str, **kw) -> dict:
        resp = self._send(method, node, path, **kw)
        body = _lower(resp.json())
        if resp.status != 200:
            code = body.get("code")
            msg = body.get("message") or body.get("msg") or resp.text()
            raise SupernodeError(node, f"{path} replied HTTP {resp.status}: {msg}",
                                 status=resp.status, code=code if isinstance(code, int) else None)
        return body

    def auth_keys(self, node: str) -> dict | None:
        """``GET /api/v1/auth/keys`` (JWKS of the keys that sign peer tokens); None when the supernode has
        no such endpoint (Dragonfly 1.x) or cannot be asked."""
        try:
            resp = self._send("GET", node, "/api/v1/auth/keys")
        except SupernodeError as e:
            log.info("auth keys not fetched node=%s error=%s", node, e)
            return None
        if resp.status != 200:
            return None
        body = resp.json()
        return body if isinstance(body.get("keys"), list) else None

    def register(self, node: str, req: RegisterRequest) -> RegisterReply:
        body = self._call("POST", node, "/peer/registry", json=req.body())
        data = _lower(body.get("data"))
        return RegisterReply(code=int(body.get("code") or 0), msg=str(body.get("msg") or ""),
                             task_id=str(data.get("taskid") or ""),
                             file_length=int(data.get("filelength") if data.get("filelength") is not None else -1),
                             piece_size=int(data.get("piecesize") or 0),
                             cdn_source=str(data.get("cdnsource") or "supernode"),
                             report_in_pull=data.get("reportinpull") is True,
                             piece_digest=str(data.get("piecedigest") or ""))

    def pull_piece_task(self, node: str, task_id: str, src_cid: str, dst_cid: str = "", range_: str = "",
                        status: int = R.STATUS_STARTED, result: int = R.RESULT_INVALID) -> PullReply:
        params = {"srcCid": src_cid, "dstCid": dst_cid, "range": range_, "result": str(result),
                  "status": str(status), "taskId": task_id}
        body = self._call("GET", node, "/peer/task", params=params)
        reply = PullReply(code=int(body.get("code") or 0), msg=str(body.get("msg") or ""))
        data = body.get("data")
        if reply.code == R.CODE_PEER_CONTINUE and isinstance(data, list):
            reply.pieces = [PieceTask.from_json(d) for d in data if isinstance(d, dict)]
        elif reply.code == R.CODE_PEER_FINISH:
            d = _lower(data)
            reply.md5 = str(d.get("md5") or "")
            reply.file_length = int(d.get("filelength") if d.get("filelength") is not None else -1)
        return reply

    def report_piece(self, node: str, task_id: str, cid: str, dst_cid: str, piece_range: str) -> int:
        params = {"taskId": task_id, "cid": cid, "dstCid": dst_cid, "pieceRange": piece_range}
        return int(self._call("GET", node, "/peer/piece/suc", params=params).get("code") or 0)

    def report_piece_error(self, node: str, task_id: str, src_cid: str, dst_cid: str, dst_ip: str,
                           range_: str, error_type: str, real_md5: str = "", expected_md5: str = "") -> None:
        params = {"taskId": task_id, "range": range_, "srcCid": src_cid, "dstCid": dst_cid, "dstIp": dst_ip,
                  "realMd5": real_md5, "expectedMd5": expected_md5, "errorType": error_type}
        self._send("GET", node, "/peer/piece/error", params=params)      # an empty 200 body

    def service_down(self, node: str, task_id: str, cid: str) -> int:
        params = {"taskId": task_id, "cid": cid}
        return int(self._call("GET", node, "/peer/service/down", params=params).get("code") or 0)

    def preheat_image(self, node: str, manifest_url: str, authorization: str | None = None) -> int:
        """``POST /preheats`` ``{"type": "image"}`` (our supernode's and Dragonfly's preheat API); returns the
        HTTP status (201 started, 208 already done, 401/403 refused, ...)."""
        body = {"type": "image", "url": manifest_url,
                "headers": {"Authorization": authorization} if authorization else {}}
        return self._send("POST", node, "/preheats", json=body).status

    def report_metrics(self, node: str, body: dict) -> None:
        resp = self._send("POST", node, "/task/metrics", json=body)
        if resp.status != 200:
            raise SupernodeError(node, f"/task/metrics replied HTTP {resp.status}", status=resp.status)
