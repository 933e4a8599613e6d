"""The upload server's state and operations, independent of HTTP.

Files live flat in ``data_dir`` under their taskFileName. Names are checked before any
path is built, and the resolved path must sit directly in ``data_dir``: nothing outside
it is ever opened.
"""
from __future__ import annotations

import logging
import os
import stat
import time
from importlib import metadata

from dfcommon.errors import DfError

from .rate import UploadRate
from .tasks import TaskTable
from .wrapping import PieceRequest, PieceStream, ReadPlan, plan_read

log = logging.getLogger(__name__)


def server_version() -> str:
    try:
        return metadata.version("dfpy")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def check_name(name) -> str:
    """A taskFileName must be one plain path component."""
    if (not isinstance(name, str) or not name or name in (".", "..") or len(name) > 255
            or any(c in name for c in ("/", "\\", "\x00"))):
        raise DfError("INVALID_PARAM", "invalid taskFileName")
    return name


class ServedPiece(PieceStream):
    """A piece body that tells the task table once when the server is done with it."""

    def __init__(self, *args, on_done=None, **kw):
        super().__init__(*args, **kw)
        self._on_done = on_done

    def close(self) -> None:
        super().close()
        done, self._on_done = self._on_done, None
        if done is not None:
            done()


class UploadService:
    def __init__(self, data_dir: str, total_limit: int = 0, tasks: TaskTable | None = None,
                 rate: UploadRate | None = None, clock=time.monotonic):
        self.data_dir = os.path.realpath(data_dir)
        self.tasks = tasks if tasks is not None else TaskTable()
        self.rate = rate if rate is not None else UploadRate(total_limit)
        self._clock = clock
        self._last_activity = clock()

    # -- idle tracking -------------------------------------------------------------
    def mark_active(self) -> None:
        self._last_activity = self._clock()

    def idle_seconds(self) -> float:
        return self._clock() - self._last_activity

    # -- files ---------------------------------------------------------------------
    def path_of(self, name: str) -> str:
        path = os.path.join(self.data_dir, check_name(name))
        if os.path.dirname(os.path.realpath(path)) != self.data_dir:
            raise DfError("NOT_FOUND", "file not found")
        return path

    def open_piece(self, name: str, req: PieceRequest) -> tuple[PieceStream, ReadPlan]:
        path = self.path_of(name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise DfError("NOT_FOUND", "file not found") from None
        except PermissionError:
            raise DfError("DENIED", "file not readable") from None
        except OSError:
            raise DfError("NOT_FOUND", "file not found") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise DfError("NOT_FOUND", "file not found")
            plan = plan_read(req, st.st_size)
        except BaseException:
            os.close(fd)
            raise
        self.tasks.begin_serve(name)               # the disk GC leaves a file alone while a body goes out
        return ServedPiece(fd, plan, req.piece_size, limiter=self.rate,
                           on_done=lambda: self.tasks.end_serve(name)), plan

    def delete_file(self, name: str) -> None:
        try:
            os.unlink(self.path_of(name))
        except FileNotFoundError:
            pass
        except (OSError, DfError) as e:
            log.warning("cannot delete upload file file=%s error=%s", name, e)

    # -- control routes ------------------------------------------------------------
    def check(self, name: str, total_limit: int = 0) -> str:
        check_name(name)
        self.rate.set_total_limit(total_limit)
        self.tasks.register(name)
        return f"{name}@{server_version()}"

    def grant_rate(self, name: str, client_rate: int) -> int:
        check_name(name)
        if client_rate < 0:
            raise DfError("INVALID_PARAM", "invalid rateLimit")
        self.tasks.set_rate(name, client_rate)
        return self.rate.grant(client_rate, self.tasks.running_rate_sum())

    def finish(self, name: str, task_id: str, cid: str, super_node: str) -> None:
        check_name(name)
        if not task_id or not cid:
            raise DfError("INVALID_PARAM", "taskID and cid are required")
        self.tasks.finish(name, task_id, cid, super_node)
        log.info("task finished file=%s task=%s cid=%s supernode=%s", name, task_id, cid, super_node)
