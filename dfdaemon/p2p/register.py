"""Registration walk over the supernode list, shared by the first register and migrations.

Walk the locator in order: an HTTP failure or an unexpected code moves to the next node;
609 (WaitAuth) retries the same node up to 3 times, 1 s apart; 200 registers; 608
(NeedAuth) and 607 (URL not reachable) stop the walk.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import result as R
from .locator import Locator
from .supernode_client import RegisterReply, RegisterRequest, SupernodeClient, SupernodeError

log = logging.getLogger(__name__)


@dataclass
class Registration:
    node: str
    task_id: str
    file_length: int
    piece_size: int
    cdn_source: str
    report_in_pull: bool = False    # the supernode takes a /peer/task result 501 as the piece's report

    @property
    def source_pieces(self) -> bool:
        return self.cdn_source == "source"


class RegisterFailed(Exception):
    def __init__(self, code: int, message: str, tried: list[str]):
        super().__init__(message)
        self.code, self.message, self.tried = code, message, tried

    @property
    def needs_auth(self) -> bool:
        return self.code == R.CODE_NEED_AUTH


def host_of(node: str) -> str:
    if node.startswith("["):
        return node[1:node.index("]")]
    return node.rsplit(":", 1)[0]


class Registrar:
    def __init__(self, client: SupernodeClient, locator: Locator, wait_auth_retries: int = 3,
                 wait_auth_delay: float = 1.0, sleep=time.sleep):
        self.client = client
        self.locator = locator
        self.wait_auth_retries = wait_auth_retries
        self.wait_auth_delay = wait_auth_delay
        self.sleep = sleep
        self.tried: list[str] = []

    def register(self, req: RegisterRequest) -> Registration:
        last_code, last_msg = R.CODE_HTTP_ERROR, "no supernode to register with"
        node = self.locator.next()
        retries = 0
        while node is not None:
            self.tried.append(node)
            req.super_node_ip = host_of(node)
            try:
                reply = self.client.register(node, req)
            except SupernodeError as e:
                log.warning("register failed node=%s error=%s", node, e)
                last_code, last_msg = e.code or R.CODE_HTTP_ERROR, str(e)
                node, retries = self.locator.next(), 0
                continue
            log.info("register reply node=%s code=%s msg=%s", node, reply.code, reply.msg)
            if reply.code == R.CODE_SUCCESS and reply.task_id:
                self.locator.select(node)
                return _registration(node, reply)
            last_code, last_msg = reply.code, f"{node}: register replied {reply.code} {reply.msg}".strip()
            if reply.code in (R.CODE_NEED_AUTH, R.CODE_URL_NOT_REACHABLE):
                break
            if reply.code == R.CODE_WAIT_AUTH and retries < self.wait_auth_retries:
                retries += 1
                self.sleep(self.wait_auth_delay)
                continue
            node, retries = self.locator.next(), 0
        raise RegisterFailed(last_code, last_msg, list(self.tried))


def _registration(node: str, reply: RegisterReply) -> Registration:
    return Registration(node=node, task_id=reply.task_id, file_length=reply.file_length,
                        piece_size=reply.piece_size, cdn_source=reply.cdn_source or "supernode",
                        report_in_pull=reply.report_in_pull)
