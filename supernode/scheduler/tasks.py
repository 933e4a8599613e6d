"""Tasks (one per task id) and dfget tasks (one per client id and task): identity and conflicts."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from dfcommon import task_id as tid
from dfcommon.errors import DfError
from supernode.cdn.types import WAITING, SourceRequest

# dfget task status (Dragonfly's DfGetTask status)
DF_WAITING, DF_RUNNING, DF_SUCCESS, DF_FAILED = "WAITING", "RUNNING", "SUCCESS", "FAILED"


def headers_map(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Merge repeated keys with ',' the way Dragonfly's ConvertHeaders does (used only for the task id)."""
    out: dict[str, str] = {}
    for k, v in headers:
        out[k] = f"{out[k]},{v}" if k in out else v
    return out


@dataclass
class Task:
    id: str
    raw_url: str
    task_url: str
    md5: str = ""
    identifier: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    insecure: bool = False
    root_cas: list[bytes] = field(default_factory=list)
    source_length: int = 0            # Dragonfly httpFileLength: 0 = not probed yet, -1 = unknown
    piece_size: int = 0
    piece_total: int = -1
    file_length: int = 0              # wrapped CDN length, known once the CDN succeeded
    real_md5: str = ""
    cdn_status: str = WAITING
    cdn_reason: str = ""
    created: float = field(default_factory=time.time)
    access_time: float = field(default_factory=time.time)

    def source_request(self) -> SourceRequest:
        return SourceRequest(task_id=self.id, raw_url=self.raw_url, task_url=self.task_url,
                             headers=list(self.headers), md5=self.md5, identifier=self.identifier,
                             insecure=self.insecure, root_cas=list(self.root_cas))

    def same_identity(self, other: "Task") -> bool:
        """Dragonfly's equalsTask: taskURL, then md5 when set, otherwise identifier."""
        if self.task_url != other.task_url:
            return False
        if self.md5:
            return self.md5 == other.md5
        return self.identifier == other.identifier

    def to_json(self) -> dict:
        """Public view (never the headers: they may carry credentials)."""
        return {"ID": self.id, "rawURL": self.raw_url, "taskURL": self.task_url, "md5": self.md5,
                "identifier": self.identifier, "cdnStatus": self.cdn_status, "httpFileLength": self.source_length,
                "fileLength": self.file_length, "pieceSize": self.piece_size, "pieceTotal": self.piece_total,
                "realMd5": self.real_md5}


def new_task(raw_url: str, task_url: str, md5: str = "", identifier: str = "",
             headers: list[tuple[str, str]] | None = None, clock=time.time) -> Task:
    headers = list(headers or [])
    task_url = task_url or raw_url
    ident = tid.task_id(task_url, md5, identifier, headers_map(headers))
    now = clock()
    return Task(id=ident, raw_url=raw_url, task_url=task_url, md5=md5, identifier=identifier,
                headers=headers, created=now, access_time=now)


class TaskRegistry:
    def __init__(self, clock=time.time):
        self._clock = clock
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def add_or_get(self, task: Task) -> tuple[Task, bool]:
        """The stored task with ``task.id`` (conflict checked), or ``task`` itself when new."""
        with self._lock:
            old = self._tasks.get(task.id)
            if old is not None:
                if not old.same_identity(task):
                    raise DfError("TASK_CONFLICT", f"task id {task.id} already used by another url/md5/identifier")
                old.access_time = self._clock()
                return old, False
            self._tasks[task.id] = task
            return task, True

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def require(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise DfError("NOT_FOUND", f"task {task_id} not found")
        return task

    def touch(self, task_id: str) -> None:
        task = self._tasks.get(task_id)
        if task is not None:
            task.access_time = self._clock()

    def delete(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.pop(task_id, None)

    def list(self) -> list[Task]:
        return list(self._tasks.values())

    def ids(self) -> set[str]:
        return set(self._tasks)

    def idle_since(self, deadline: float) -> list[Task]:
        return [t for t in list(self._tasks.values()) if t.access_time < deadline]


@dataclass(slots=True)
class DfgetTask:
    cid: str
    task_id: str
    peer_id: str
    path: str = ""
    status: str = DF_WAITING
    call_system: str = ""
    dfdaemon: bool = False
    super_node_ip: str = ""
    created: float = field(default_factory=time.time)


class DfgetTaskRegistry:
    """dfget tasks keyed by (cid, task id), with an index by peer."""

    def __init__(self):
        self._items: dict[tuple[str, str], DfgetTask] = {}
        # peer id -> its dfget task (a peer is one dfget run: one task, nearly always), or task id -> dfget task
        # when it has several; no (peer id, task id) tuple per registration
        self._by_peer: dict[str, DfgetTask | dict[str, DfgetTask]] = {}
        self._lock = threading.Lock()

    def add(self, dt: DfgetTask) -> DfgetTask | None:
        """Store ``dt``; returns the dfget task it replaced, if any."""
        with self._lock:
            old = self._items.get((dt.cid, dt.task_id))
            if old is not None:
                self._unindex(old)
            self._items[(dt.cid, dt.task_id)] = dt
            self._index(dt)
            return old

    def _index(self, dt: DfgetTask) -> None:
        cur = self._by_peer.get(dt.peer_id)
        if cur is None or (type(cur) is not dict and cur.task_id == dt.task_id):
            self._by_peer[dt.peer_id] = dt
        elif type(cur) is not dict:
            self._by_peer[dt.peer_id] = {cur.task_id: cur, dt.task_id: dt}
        else:
            cur[dt.task_id] = dt

    def _unindex(self, dt: DfgetTask) -> None:
        cur = self._by_peer.get(dt.peer_id)
        if cur is None:
            return
        if type(cur) is not dict:
            if cur is dt:
                del self._by_peer[dt.peer_id]
            return
        if cur.get(dt.task_id) is dt:
            del cur[dt.task_id]
        if len(cur) == 1:
            self._by_peer[dt.peer_id] = next(iter(cur.values()))
        elif not cur:
            del self._by_peer[dt.peer_id]

    def get(self, cid: str, task_id: str) -> DfgetTask | None:
        return self._items.get((cid, task_id))

    def require(self, cid: str, task_id: str) -> DfgetTask:
        dt = self._items.get((cid, task_id))
        if dt is None:
            raise DfError("NOT_FOUND", f"no dfget task for cid {cid} and task {task_id}")
        return dt

    def cid_of(self, peer_id: str, task_id: str) -> str | None:
        cur = self._by_peer.get(peer_id)
        if cur is not None and type(cur) is dict:
            cur = cur.get(task_id)
        return cur.cid if cur is not None and cur.task_id == task_id else None

    def delete(self, cid: str, task_id: str) -> DfgetTask | None:
        with self._lock:
            dt = self._items.pop((cid, task_id), None)
            if dt is not None:
                self._unindex(dt)
            return dt

    def for_task(self, task_id: str) -> list[DfgetTask]:
        return [d for d in list(self._items.values()) if d.task_id == task_id]

    def for_peer(self, peer_id: str) -> list[DfgetTask]:
        return [d for d in list(self._items.values()) if d.peer_id == peer_id]

    def list(self) -> list[DfgetTask]:
        return list(self._items.values())
