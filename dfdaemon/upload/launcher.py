"""Find or start this host's upload server (``dfget server`` child process).

Under an exclusive lock on ``<workHome>/meta``: read the port from ``host.meta``; if a
server answers there, reuse it; otherwise bind the listening socket, spawn a detached child
on it (``--listen-fd``) and record the port; then wait for ``/server/ping`` (at once, or in
the background so that the download registers while the child starts).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from dfcommon.errors import DfError

from .client import UploaderClient
from .listen import bind_listener
from .meta import META_FILE, dir_lock, read_service_port, write_service_port

log = logging.getLogger(__name__)

READY_TIMEOUT = 10.0
PING_INTERVAL = 0.005


def _format_seconds(value: float) -> str:
    return f"{float(value):g}s"


def _server_alive(ip: str, port: int, task_file_name: str | None, data_dir: str, total_limit: int,
                  scheme: str = "http") -> bool:
    client = UploaderClient(ip, port, scheme=scheme)
    if task_file_name:
        return client.check(task_file_name, data_dir, total_limit)
    return client.ping()


def _child_env(extra_env=None) -> dict:
    """The child must import this same code base, wherever it runs from."""
    env = {**os.environ, **(extra_env or {})}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _spawn(work_home: str, ip: str, port: int, alive: float, expire: float, total_limit: int,
           extra_args=(), extra_env=None) -> tuple[int, subprocess.Popen]:
    """Bind the listening socket here, start the child on it and return at once: (port, child)."""
    meta_path = os.path.join(work_home, "meta", META_FILE)
    data_dir = os.path.join(work_home, "data")
    logs = os.path.join(work_home, "logs")
    os.makedirs(logs, exist_ok=True)
    sock = bind_listener(ip or "0.0.0.0", int(port or 0))
    try:
        got = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "dfdaemon.upload", "--ip", ip or "0.0.0.0", "--port", str(got),
               "--listen-fd", str(sock.fileno()), "--home", work_home, "--meta", meta_path, "--data", data_dir,
               "--expiretime", _format_seconds(expire), "--alivetime", _format_seconds(alive),
               "--totallimit", str(int(total_limit or 0)), *extra_args]
        with open(os.path.join(logs, "dfserver.out"), "ab") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True, close_fds=True, pass_fds=(sock.fileno(),),
                                    env=_child_env(extra_env))
    finally:
        sock.close()                  # the child holds its own copy of the listening socket
    # reap the child whenever it exits, so it never lingers as a zombie
    threading.Thread(target=proc.wait, name="upload-server-reaper", daemon=True).start()
    return got, proc


def _wait_ready(ip: str, port: int, proc: subprocess.Popen, deadline: float, scheme: str = "http") -> None:
    """Wait until the child answers ``/server/ping`` (a ping sent early waits in the listen backlog)."""
    client = UploaderClient(ip, port, scheme=scheme)
    while time.monotonic() < deadline:
        if client.ping():
            log.info("upload server started port=%d pid=%d", port, proc.pid)
            return
        if proc.poll() is not None:
            break
        time.sleep(PING_INTERVAL)
    raise DfError("UNAVAILABLE", f"upload server on port {port} does not answer")


class Launch:
    """An upload server that runs or is starting: its port at once, its readiness (and the task's
    ``/check``) either done before :func:`launch_upload_server` returns or in a background thread."""

    def __init__(self, port: int, ready=None, background: bool = False):
        self.port = port
        self.error: BaseException | None = None
        self._done = threading.Event()
        if ready is None:
            self._done.set()
        elif background:
            threading.Thread(target=self._run, args=(ready,), name="upload-server-ready", daemon=True).start()
        else:
            self._run(ready)

    def _run(self, ready) -> None:
        try:
            ready()
        except Exception as e:        # noqa: BLE001 - kept for wait(); the download goes on without it
            self.error = e
            log.warning("upload server not ready port=%d error=%s", self.port, e)
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self.error is None

    def wait(self, timeout: float | None = None) -> int:
        """The port once the server answers; raises DfError(UNAVAILABLE) when it does not."""
        if not self._done.wait(timeout):
            raise DfError("UNAVAILABLE", f"upload server on port {self.port} is still starting")
        if self.error is not None:
            raise self.error if isinstance(self.error, DfError) else DfError("UNAVAILABLE", str(self.error))
        return self.port


def launch_upload_server(work_home: str, ip: str, port: int = 0, alive: float = 300.0, expire: float = 180.0,
                         total_limit: int = 0, task_file_name: str | None = None, timeout: float = READY_TIMEOUT,
                         extra_args=(), background: bool = False, scheme: str = "http", extra_env=None) -> Launch:
    """Reuse this host's upload server or start one; see :func:`ensure_upload_server`.

    A new server's socket is bound here, so its port is known before the child has started; with
    ``background`` the wait for the child and the task's ``/check`` run in a thread (``Launch.ready``).
    """
    work_home = os.path.abspath(os.path.expanduser(work_home))
    meta_dir = os.path.join(work_home, "meta")
    meta_path = os.path.join(meta_dir, META_FILE)
    data_dir = os.path.join(work_home, "data")
    os.makedirs(data_dir, exist_ok=True)
    with dir_lock(meta_dir):
        known = read_service_port(meta_path)
        if known and _server_alive(ip, known, task_file_name, data_dir, total_limit, scheme):
            log.debug("reusing upload server port=%d", known)
            return Launch(known)
        started, proc = _spawn(work_home, ip, port, alive, expire, total_limit, extra_args, extra_env)
        write_service_port(meta_path, started)
    deadline = time.monotonic() + timeout

    def ready() -> None:
        _wait_ready(ip, started, proc, deadline, scheme)
        if task_file_name:
            UploaderClient(ip, started, scheme=scheme).check(task_file_name, data_dir, total_limit)
    return Launch(started, ready, background)


def ensure_upload_server(work_home: str, ip: str, port: int = 0, alive: float = 300.0, expire: float = 180.0,
                         total_limit: int = 0, task_file_name: str | None = None,
                         timeout: float = READY_TIMEOUT, extra_args=()) -> int:
    """Return the port of this host's upload server, starting one if none is alive.

    With ``task_file_name`` the reuse probe is ``/check/<name>``, which also registers
    the task (and ``total_limit``) on the server; without it, ``/server/ping``.
    Raises DfError(UNAVAILABLE) when no server can be started.
    """
    return launch_upload_server(work_home, ip, port, alive, expire, total_limit, task_file_name, timeout,
                                extra_args).wait()


def notify_finish(port: int, task_file_name: str, task_id: str, cid: str, super_node: str,
                  ip: str = "127.0.0.1", scheme: str = "http") -> None:
    """Tell the upload server the file is complete (``/client/finish``); failures are logged."""
    UploaderClient(ip, port, scheme=scheme).finish(task_file_name, task_id, cid, super_node)
