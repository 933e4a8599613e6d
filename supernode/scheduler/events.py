"""The scheduler's side of the CDN contract: CDN progress becomes supernode piece progress."""
from __future__ import annotations

import logging

from supernode.cdn.types import FAILED, SOURCE_ERROR, SUCCESS

from .state import SchedulerState

log = logging.getLogger(__name__)


class CdnEvents:
    """Implements :class:`supernode.cdn.types.CdnListener` on the scheduler state."""

    def __init__(self, state: SchedulerState):
        self.state = state

    def on_piece(self, task_id: str, piece_num: int, piece_md5: str) -> None:
        st = self.state
        with st.lock:
            if st.tasks.get(task_id) is not None:
                st.progress.sn_piece(task_id, piece_num, piece_md5)
                st.signals.notify(task_id)

    def on_success(self, task_id: str, file_length: int, real_md5: str, source_length: int) -> None:
        st = self.state
        with st.lock:
            task = st.tasks.get(task_id)
            if task is None:
                return
            task.file_length, task.real_md5 = file_length, real_md5
            if task.source_length <= 0 and source_length >= 0:
                task.source_length = source_length
            if task.piece_size > 0:
                task.piece_total = max(1, (file_length + task.piece_size - 1) // task.piece_size)
            st.set_cdn_status(task, SUCCESS)
            st.progress.sn_finished(task_id)
            st.signals.notify(task_id)
        log.info("cdn success task=%s file_length=%d pieces=%d", task_id, file_length, task.piece_total)

    def on_failure(self, task_id: str, reason: str, source_error: bool) -> None:
        st = self.state
        with st.lock:
            task = st.tasks.get(task_id)
            if task is None:
                return
            st.set_cdn_status(task, SOURCE_ERROR if source_error else FAILED, reason)
            st.progress.sn_stopped(task_id)
            st.signals.notify(task_id)
        log.warning("cdn failure task=%s source_error=%s reason=%s", task_id, source_error, reason)
