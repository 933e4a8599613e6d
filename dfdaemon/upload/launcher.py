"""Find or start this host's upload server (``dfget server`` child process).

Under an exclusive lock on ``<workHome>/meta``: read the port from ``host.meta``; if a
server answers there, reuse it; otherwise spawn a detached child, read its
``dfget uploader server port is N`` line, wait for ``/server/ping``, record the port.
"""
from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import threading
import time

from dfcommon.errors import DfError

from .client import UploaderClient
from .meta import META_FILE, dir_lock, read_service_port, write_service_port

log = logging.getLogger(__name__)

READY_TIMEOUT = 10.0
PING_INTERVAL = 0.005


def _format_seconds(value: float) -> str:
    return f"{float(value):g}s"


def _server_alive(ip: str, port: int, task_file_name: str | None, data_dir: str, total_limit: int) -> bool:
    client = UploaderClient(ip, port)
    if task_file_name:
        return client.check(task_file_name, data_dir, total_limit)
    return client.ping()


def _child_env() -> dict:
    """The child must import this same code base, wherever it runs from."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _read_ready_port(proc: subprocess.Popen, deadline: float) -> int:
    """Read the child's stdout until the ready line; its last token is the port."""
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        complete = buf[:buf.rfind(b"\n") + 1]   # only whole lines: the port may still be arriving
        for line in complete.decode("utf-8", "replace").splitlines():
            if line.startswith("dfget uploader server port is"):
                token = line.split()[-1]
                if token.isdigit():
                    return int(token)
    raise DfError("UNAVAILABLE", "upload server did not start")


def _spawn(work_home: str, ip: str, port: int, alive: float, expire: float, total_limit: int,
           timeout: float, extra_args=()) -> int:
    meta_path = os.path.join(work_home, "meta", META_FILE)
    data_dir = os.path.join(work_home, "data")
    logs = os.path.join(work_home, "logs")
    os.makedirs(logs, exist_ok=True)
    cmd = [sys.executable, "-m", "dfdaemon.upload", "--ip", ip or "0.0.0.0", "--port", str(int(port or 0)),
           "--home", work_home, "--meta", meta_path, "--data", data_dir,
           "--expiretime", _format_seconds(expire), "--alivetime", _format_seconds(alive),
           "--totallimit", str(int(total_limit or 0)), *extra_args]
    with open(os.path.join(logs, "dfserver.out"), "ab") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True, close_fds=True, env=_child_env())
    # reap the child whenever it exits, so it never lingers as a zombie
    threading.Thread(target=proc.wait, name="upload-server-reaper", daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        got = _read_ready_port(proc, deadline)
    finally:
        proc.stdout.close()
    client = UploaderClient(ip, got)
    while time.monotonic() < deadline:
        if client.ping():
            log.info("upload server started port=%d pid=%d", got, proc.pid)
            return got
        time.sleep(PING_INTERVAL)
    raise DfError("UNAVAILABLE", f"upload server on port {got} does not answer")


def ensure_upload_server(work_home: str, ip: str, port: int = 0, alive: float = 300.0, expire: float = 180.0,
                         total_limit: int = 0, task_file_name: str | None = None,
                         timeout: float = READY_TIMEOUT, extra_args=()) -> int:
    """Return the port of this host's upload server, starting one if none is alive.

    With ``task_file_name`` the reuse probe is ``/check/<name>``, which also registers
    the task (and ``total_limit``) on the server; without it, ``/server/ping``.
    Raises DfError(UNAVAILABLE) when no server can be started.
    """
    work_home = os.path.abspath(os.path.expanduser(work_home))
    meta_dir = os.path.join(work_home, "meta")
    meta_path = os.path.join(meta_dir, META_FILE)
    data_dir = os.path.join(work_home, "data")
    os.makedirs(data_dir, exist_ok=True)
    with dir_lock(meta_dir):
        known = read_service_port(meta_path)
        if known and _server_alive(ip, known, task_file_name, data_dir, total_limit):
            log.debug("reusing upload server port=%d", known)
            return known
        started = _spawn(work_home, ip, port, alive, expire, total_limit, timeout, extra_args)
        write_service_port(meta_path, started)
    if task_file_name:
        UploaderClient(ip, started).check(task_file_name, data_dir, total_limit)
    return started


def notify_finish(port: int, task_file_name: str, task_id: str, cid: str, super_node: str,
                  ip: str = "127.0.0.1") -> None:
    """Tell the upload server the file is complete (``/client/finish``); failures are logged."""
    UploaderClient(ip, port).finish(task_file_name, task_id, cid, super_node)
