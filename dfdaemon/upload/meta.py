"""``<workHome>/meta/host.meta`` (JSON ``{"servicePort": N}``) and the lock on its directory."""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile

log = logging.getLogger(__name__)

META_FILE = "host.meta"


def read_service_port(meta_path: str) -> int:
    """The port recorded in the meta file, 0 when missing or unreadable."""
    try:
        with open(meta_path, encoding="utf-8") as f:
            port = json.load(f).get("servicePort", 0)
        return int(port) if isinstance(port, int) and 0 < port < 65536 else 0
    except (OSError, ValueError, AttributeError):
        return 0


def write_service_port(meta_path: str, port: int) -> None:
    """Replace the meta file atomically, keeping any other keys it holds."""
    doc = {}
    try:
        with open(meta_path, encoding="utf-8") as f:
            loaded = json.load(f)
            if isinstance(loaded, dict):
                doc = loaded
    except (OSError, ValueError):
        pass
    doc["servicePort"] = int(port)
    directory = os.path.dirname(meta_path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".host.meta.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.replace(tmp, meta_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clear_service_port(meta_path: str, port: int) -> None:
    """Write servicePort 0, unless another server has since recorded its own port."""
    current = read_service_port(meta_path)
    if current in (0, port):
        write_service_port(meta_path, 0)
    else:
        log.info("host.meta names another server, left as is port=%d meta_port=%d", port, current)


@contextlib.contextmanager
def dir_lock(directory: str):
    """Exclusive flock on the directory itself (what Dragonfly 1.x dfget locks too)."""
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
