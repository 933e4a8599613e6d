"""What the upload server knows about the tasks whose files it serves."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace


@dataclass
class TaskRecord:
    name: str                 # taskFileName: the data file's name
    task_id: str = ""
    cid: str = ""
    super_node: str = ""      # "host[:port]" of the supernode that scheduled the task
    rate_limit: int = 0       # last rate the downloader offered on /rate
    finished: bool = False    # set by /client/finish: the whole file is there
    access_time: float = field(default_factory=time.time)
    serving: int = 0          # piece bodies of this file being sent now


class TaskTable:
    """Thread-safe map taskFileName -> TaskRecord; readers get copies."""

    def __init__(self, clock=time.time):
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRecord] = {}
        self._clock = clock

    def _ensure(self, name: str) -> TaskRecord:
        rec = self._tasks.get(name)
        if rec is None:
            rec = self._tasks[name] = TaskRecord(name=name, access_time=self._clock())
        return rec

    def get(self, name: str) -> TaskRecord | None:
        with self._lock:
            rec = self._tasks.get(name)
            return replace(rec) if rec else None

    def touch(self, name: str) -> None:
        """Record an access (a piece was served); registers the file if it was unknown."""
        with self._lock:
            self._ensure(name).access_time = self._clock()

    def begin_serve(self, name: str) -> None:
        """A piece body of the file starts going out (an access too); ended by :meth:`end_serve`."""
        with self._lock:
            rec = self._ensure(name)
            rec.access_time = self._clock()
            rec.serving += 1

    def end_serve(self, name: str) -> None:
        with self._lock:
            rec = self._tasks.get(name)
            if rec is not None and rec.serving > 0:
                rec.serving -= 1

    def register(self, name: str) -> None:
        """``/check``: a downloader is about to write this file (an unfinished task)."""
        with self._lock:
            rec = self._ensure(name)
            rec.finished = False
            rec.access_time = self._clock()

    def set_rate(self, name: str, rate: int) -> None:
        with self._lock:
            self._ensure(name).rate_limit = rate

    def finish(self, name: str, task_id: str, cid: str, super_node: str) -> None:
        with self._lock:
            rec = self._ensure(name)
            rec.task_id, rec.cid, rec.super_node = task_id, cid, super_node
            rec.rate_limit = 0
            rec.finished = True
            rec.access_time = self._clock()

    def remove(self, name: str) -> TaskRecord | None:
        with self._lock:
            return self._tasks.pop(name, None)

    def running_rate_sum(self) -> int:
        with self._lock:
            return sum(r.rate_limit for r in self._tasks.values() if not r.finished)

    def snapshot(self) -> list[TaskRecord]:
        with self._lock:
            return [replace(r) for r in self._tasks.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)
