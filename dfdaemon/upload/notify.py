"""Tell a supernode that this host no longer serves a task (``/peer/service/down``)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:                      # requests is imported on first use: it is a tenth of the start-up time
    import requests

log = logging.getLogger(__name__)

DEFAULT_SUPERNODE_PORT = 8002
SERVICE_DOWN_TIMEOUT = (5.0, 5.0)


class ServiceDownNotifier(Protocol):
    def service_down(self, super_node: str, task_id: str, cid: str) -> bool: ...


def supernode_base(super_node: str) -> str:
    """``host``, ``host:port`` or a full URL -> ``scheme://host:port``."""
    node = super_node.strip().rstrip("/")
    if "://" in node:
        return node
    if node.startswith("["):                      # [v6] or [v6]:port
        return f"http://{node}" if "]:" in node else f"http://{node}:{DEFAULT_SUPERNODE_PORT}"
    if node.count(":") == 1 and node.rsplit(":", 1)[1].isdigit():
        return f"http://{node}"
    if ":" not in node:
        return f"http://{node}:{DEFAULT_SUPERNODE_PORT}"
    return f"http://[{node}]:{DEFAULT_SUPERNODE_PORT}"  # bare IPv6 literal


class HttpServiceDown:
    """Sends ``GET /peer/service/down?taskId=&cid=`` with a 5 s timeout, no retries; errors are logged."""

    def __init__(self, session: requests.Session | None = None, timeout=SERVICE_DOWN_TIMEOUT,
                 token: str | None = None, scheme: str = "http", verify=True):
        self._session = session
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}     # a supernode API token (peer)
        self._scheme, self._verify = scheme, verify

    def service_down(self, super_node: str, task_id: str, cid: str) -> bool:
        if not super_node or not task_id or not cid:
            return False
        import requests
        if self._session is None:
            from dfcommon.http import make_session
            self._session = make_session(timeout=self._timeout, retries=0)
        base = supernode_base(super_node)
        if self._scheme == "https" and base.startswith("http://"):
            base = "https://" + base[len("http://"):]
        url = base + "/peer/service/down"
        try:
            resp = self._session.get(url, params={"taskId": task_id, "cid": cid}, timeout=self._timeout,
                                     headers=self._headers, verify=self._verify)
            ok = resp.status_code == 200
            if not ok:
                log.warning("service down refused supernode=%s task=%s status=%d", super_node, task_id,
                            resp.status_code)
            else:
                log.info("service down sent supernode=%s task=%s cid=%s", super_node, task_id, cid)
            return ok
        except requests.RequestException as e:
            log.warning("service down failed supernode=%s task=%s error=%s", super_node, task_id, e)
            return False
