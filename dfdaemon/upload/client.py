"""Calls a downloader makes to its host's upload server (``/server/ping``, ``/check``,
``/client/finish``, ``/rate``). Short timeouts: the server is local."""
from __future__ import annotations

import logging

import requests

from dfcommon.http import make_session

log = logging.getLogger(__name__)

LOCAL_TIMEOUT = (1.0, 5.0)


def local_host(ip: str) -> str:
    """Where to reach a server bound to ``ip`` from this host."""
    if not ip or ip in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


class UploaderClient:
    def __init__(self, ip: str, port: int, session: requests.Session | None = None, timeout=LOCAL_TIMEOUT,
                 scheme: str = "http"):
        self.base = f"{scheme}://{local_host(ip)}:{int(port)}"
        self._session = session or make_session(timeout=timeout, retries=0)
        if scheme == "https":
            # this host's own server on a local address: its certificate names the peer IP, and these calls
            # carry nothing secret, so the certificate is not checked here (peers do check it)
            import urllib3
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._timeout = timeout
        self._verify = scheme != "https"

    def _get(self, path: str, **kwargs) -> requests.Response:
        return self._session.get(self.base + path, timeout=self._timeout, verify=self._verify, **kwargs)

    def ping(self) -> bool:
        try:
            r = self._get("/server/ping")
            return r.status_code == 200 and r.text == "success"
        except requests.RequestException:
            return False

    def check(self, task_file_name: str, data_dir: str = "", total_limit: int = 0) -> bool:
        """True when a live upload server of ours answers for ``task_file_name``."""
        try:
            r = self._get("/check/" + task_file_name,
                          headers={"dataDir": data_dir, "totalLimit": str(int(total_limit or 0))})
        except requests.RequestException:
            return False
        return r.status_code == 200 and r.text.startswith(task_file_name + "@")

    def finish(self, task_file_name: str, task_id: str, cid: str, super_node: str) -> bool:
        try:
            r = self._get("/client/finish", params={"taskFileName": task_file_name, "taskID": task_id,
                                                     "cid": cid, "superNode": super_node})
        except requests.RequestException as e:
            log.warning("client finish failed file=%s task=%s error=%s", task_file_name, task_id, e)
            return False
        if r.status_code != 200:
            log.warning("client finish refused file=%s task=%s status=%d", task_file_name, task_id, r.status_code)
        return r.status_code == 200

    def rate(self, task_file_name: str, client_rate: int) -> int:
        """The rate granted for this task; ``client_rate`` when the server cannot be asked."""
        try:
            r = self._get("/rate/" + task_file_name, headers={"rateLimit": str(int(client_rate))})
            if r.status_code == 200:
                return int(r.text.strip())
        except (requests.RequestException, ValueError) as e:
            log.debug("rate request failed file=%s error=%s", task_file_name, e)
        return client_rate
