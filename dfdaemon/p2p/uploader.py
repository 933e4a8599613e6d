"""The host's peer upload server as the downloader sees it: start or reuse, rate, finish.

:class:`UploadServer` is the small interface; :class:`LauncherUploadServer` adapts the
upload package's launcher (spawns or reuses the ``dfget server`` process of this work
home). The dfdaemon, which runs its upload server in-process, passes its own object.
"""
from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class UploadServer(Protocol):
    def ensure(self, task_file_name: str) -> int:
        """Start or reuse the server, register the task's file; return the port (raise on failure)."""

    def notify_finish(self, port: int, task_file_name: str, task_id: str, cid: str, super_node: str) -> None:
        """Tell the server the task's data file is complete and servable."""

    def rate(self, port: int, task_file_name: str, rate: int) -> int | None:
        """Ask for a download rate (``/rate``); None when the server does not answer."""


class LauncherUploadServer:
    """Adapter over ``dfdaemon.upload.launcher`` (imported when first used).

    A server this process starts is launched in the background: ``ensure`` returns its port as soon
    as the socket is bound, so the download registers and fetches while the child starts; ``rate``
    is skipped until the child answers, and ``notify_finish`` waits for it.
    """

    READY_WAIT = 10.0

    def __init__(self, work_home: str, ip: str, port: int = 0, alive: float = 300.0, expire: float = 180.0,
                 total_limit: int = 0, tls_cert: str = "", tls_key: str = "", supernode_token: str | None = None,
                 supernode_ca=()):
        self.work_home, self.ip, self.port = work_home, ip, port
        self.alive, self.expire, self.total_limit = alive, expire, total_limit
        self.scheme = "https" if tls_cert else "http"
        self.extra_args = ["--tls-cert", tls_cert, "--tls-key", tls_key] if tls_cert else []
        for ca in supernode_ca or ():
            self.extra_args += ["--supernode-ca", ca]
        self.child_env = {"DFGET_SUPERNODE_TOKEN": supernode_token} if supernode_token else {}
        self._launch = None

    def ensure(self, task_file_name: str) -> int:
        from dfdaemon.upload import launcher
        self._launch = launcher.launch_upload_server(self.work_home, self.ip, port=self.port, alive=self.alive,
                                                     expire=self.expire, total_limit=self.total_limit,
                                                     task_file_name=task_file_name, background=True,
                                                     extra_args=self.extra_args, scheme=self.scheme,
                                                     extra_env=self.child_env)
        return int(self._launch.port)

    def _ready(self, wait: float = 0.0) -> bool:
        launch = self._launch
        if launch is None:
            return True
        try:
            launch.wait(wait)
            return True
        except Exception as e:      # noqa: BLE001 - still starting, or failed to start
            log.debug("upload server not ready error=%s", e)
            return False

    def notify_finish(self, port, task_file_name, task_id, cid, super_node) -> None:
        from dfdaemon.upload import launcher
        if not self._ready(self.READY_WAIT):
            log.warning("upload server did not start; not serving file=%s", task_file_name)
            return
        launcher.notify_finish(port, task_file_name, task_id, cid, super_node, ip=self.ip, scheme=self.scheme)

    def rate(self, port, task_file_name, rate) -> int | None:
        from dfdaemon.upload.client import UploaderClient
        if not self._ready():
            return None
        return UploaderClient(self.ip, port, scheme=self.scheme).rate(task_file_name, rate)
