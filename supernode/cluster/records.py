"""Task, peer and dfget-task records shared through Redis, so any member can answer any peer.

The member a peer registers with publishes the records; another member adopts them into its own registries
the first time it sees a call about that task (and again when the task's record version changed). Keys:

- ``t:<id>:rec``: hash ``doc`` (JSON identity: URLs, md5, identifier, headers for the source), ``status``,
  ``reason``, ``source_length``, ``piece_size``, ``piece_total``, ``file_length``, ``real_md5``;
- ``t:<id>:dfget``: hash cid -> JSON (the dfget task and its peer); ``t:<id>:ver``: bumped at each change;
- ``t:<id>:owner``: the member whose CDN holds the whole file (set when its fetch succeeded).
"""
from __future__ import annotations

import base64
import json
import logging

from supernode.cdn.types import FAILED, RUNNING, SOURCE_ERROR, SUCCESS, WAITING
from supernode.scheduler.peers import Peer
from supernode.scheduler.tasks import DfgetTask, Task

from .keys import Keys

log = logging.getLogger(__name__)
_STATUSES = (WAITING, RUNNING, SUCCESS, FAILED, SOURCE_ERROR)


def _task_doc(task: Task) -> str:
    return json.dumps({"raw_url": task.raw_url, "task_url": task.task_url, "md5": task.md5,
                       "identifier": task.identifier, "headers": [list(h) for h in task.headers],
                       "insecure": task.insecure,
                       "root_cas": [base64.b64encode(c).decode() for c in task.root_cas], "created": task.created})


_READ = object()       # sync: read the record version

class SharedRecords:
    def __init__(self, client, keys: Keys, state, member_id: str):
        self.r, self.k, self.state, self.me = client, keys, state, member_id
        self._seen: dict[str, int] = {}         # task id -> record version adopted last
        self._member_of: dict[tuple[str, str], str] = {}     # (task id, cid) -> member the dfget registered with

    # --- publish (the member that took the call) ------------------------------------------------------
    def publish_task(self, task: Task) -> None:
        key = self.k.task(task.id, "rec")
        p = self.r.pipeline()
        p.hsetnx(key, "doc", _task_doc(task))
        p.hsetnx(key, "status", task.cdn_status)
        if task.source_length:
            for name in ("source_length", "piece_size", "piece_total"):
                p.hsetnx(key, name, getattr(task, name))
        p.incr(self.k.task(task.id, "ver"))
        p.execute()

    def publish_status(self, task: Task) -> None:
        """The CDN run's outcome, written by the member that ran it."""
        p = self.r.pipeline()
        p.hset(self.k.task(task.id, "rec"), mapping={
            "status": task.cdn_status, "reason": task.cdn_reason, "source_length": task.source_length,
            "piece_size": task.piece_size, "piece_total": task.piece_total, "file_length": task.file_length,
            "real_md5": task.real_md5})
        if task.cdn_status == SUCCESS:
            p.set(self.k.task(task.id, "owner"), self.me)
        p.incr(self.k.task(task.id, "ver"))
        p.execute()

    def publish_validators(self, task_id: str, etag: str, last_modified_ms: int) -> None:
        self.r.hset(self.k.task(task_id, "rec"), mapping={"etag": etag or "", "last_modified": last_modified_ms or 0})

    def publish_dfget(self, dt: DfgetTask, peer: Peer) -> None:
        doc = {"cid": dt.cid, "peer_id": peer.id, "path": dt.path, "call_system": dt.call_system,
               "dfdaemon": dt.dfdaemon, "super_node_ip": dt.super_node_ip, "created": dt.created,
               "member": self.me,
               "peer": {"ip": peer.ip, "host_name": peer.host_name, "port": peer.port, "version": peer.version,
                        "cdn_pattern": peer.cdn_pattern, "scheme": getattr(peer, "scheme", "http"),
                        "created": peer.created, "down": peer.service_down_time}}
        self._member_of[(dt.task_id, dt.cid)] = self.me
        p = self.r.pipeline()
        p.hset(self.k.task(dt.task_id, "dfget"), dt.cid, json.dumps(doc))
        p.incr(self.k.task(dt.task_id, "ver"))
        p.execute()

    def publish_down(self, task_id: str, cid: str, when: float) -> None:
        key = self.k.task(task_id, "dfget")
        raw = self.r.hget(key, cid)
        if raw:
            doc = json.loads(raw)
            doc["peer"]["down"] = when
            p = self.r.pipeline()
            p.hset(key, cid, json.dumps(doc))
            p.incr(self.k.task(task_id, "ver"))
            p.execute()

    def member_of(self, task_id: str, cid: str) -> str | None:
        """The member the dfget task ``cid`` registered with last (None: not a peer this member knows of)."""
        return self._member_of.get((task_id, cid))

    def owner(self, task_id: str) -> str | None:
        return self.r.get(self.k.task(task_id, "owner"))

    def forget_task(self, task_id: str) -> None:
        self.r.delete(*(self.k.task(task_id, part) for part in ("rec", "dfget", "ver", "owner")))
        self._seen.pop(task_id, None)
        for key in [k for k in self._member_of if k[0] == task_id]:
            del self._member_of[key]

    # --- adopt (a member that gets a call about a task it has not seen, or that changed) --------------------
    def sync(self, task_id: str, runs_cdn: bool = False, ver=_READ) -> Task | None:
        """Bring the task's shared records into this member's registries (call with the state lock held).
        ``runs_cdn``: this member runs the task's CDN download, so its own status is the one that counts.
        ``ver``: the record version, when the caller read it already (a call's snapshot)."""
        if ver is _READ:
            ver = self.r.get(self.k.task(task_id, "ver"))
        st = self.state
        task = st.tasks.get(task_id)
        if ver is None:
            return task
        ver = int(ver)
        if self._seen.get(task_id) == ver and task is not None:
            return task
        p = self.r.pipeline()
        p.hgetall(self.k.task(task_id, "rec"))
        p.hgetall(self.k.task(task_id, "dfget"))
        rec, dfgets = p.execute()
        if rec.get("doc"):
            task = self._adopt_task(task_id, rec, task, runs_cdn)
        if task is not None:
            for raw in dfgets.values():
                self._adopt_dfget(task_id, json.loads(raw))
        self._seen[task_id] = ver
        return task

    def _adopt_task(self, task_id: str, rec: dict, task: Task | None, runs_cdn: bool) -> Task:
        st = self.state
        if task is None:
            doc = json.loads(rec["doc"])
            candidate = Task(id=task_id, raw_url=doc["raw_url"], task_url=doc["task_url"], md5=doc["md5"],
                             identifier=doc["identifier"], headers=[tuple(h) for h in doc["headers"]],
                             insecure=bool(doc.get("insecure")),
                             root_cas=[base64.b64decode(c) for c in doc.get("root_cas", [])],
                             created=float(doc.get("created", 0)) or st.clock())
            task, created = st.tasks.add_or_get(candidate)
            if created:
                st.new_task(task)
        if task.source_length == 0 and int(rec.get("source_length", 0) or 0):
            task.source_length = int(rec["source_length"])
            task.piece_size = int(rec.get("piece_size", 0) or 0)
            task.piece_total = int(rec.get("piece_total", -1) or -1)
        status = rec.get("status", WAITING)
        if not runs_cdn and status in _STATUSES and status != task.cdn_status:
            if status == SUCCESS:
                task.file_length = int(rec.get("file_length", 0) or 0)
                task.real_md5 = rec.get("real_md5", "")
                task.piece_total = int(rec.get("piece_total", task.piece_total) or task.piece_total)
                task.source_length = int(rec.get("source_length", task.source_length) or task.source_length)
            st.set_cdn_status(task, status, rec.get("reason", ""))
        return task

    def _adopt_dfget(self, task_id: str, doc: dict) -> None:
        st = self.state
        pd = doc["peer"]
        if doc.get("member"):
            self._member_of[(task_id, doc["cid"])] = doc["member"]
        peer = st.peers.get(doc["peer_id"])
        if peer is None:
            peer = st.peers.adopt(Peer(id=doc["peer_id"], ip=pd["ip"], host_name=pd["host_name"],
                                       port=int(pd["port"]), version=pd.get("version", ""),
                                       cdn_pattern=bool(pd.get("cdn_pattern")), created=float(pd["created"]),
                                       scheme=pd.get("scheme", "http")))
        if float(pd.get("down") or 0) and not peer.service_down_time:
            peer.service_down_time = float(pd["down"])
        known = st.dfget_tasks.get(doc["cid"], task_id)
        # a client that moved to another member registered again there under a new peer id (same cid): the
        # shared doc names the new peer, which is the one to schedule from now on
        if known is None or known.peer_id != peer.id:
            dt = DfgetTask(cid=doc["cid"], task_id=task_id, peer_id=peer.id, path=doc.get("path", ""),
                           call_system=doc.get("call_system", ""), dfdaemon=bool(doc.get("dfdaemon")),
                           super_node_ip=doc.get("super_node_ip", ""), created=float(doc.get("created", 0)))
            if known is not None:
                st.metrics.dfgettasks.labels(known.call_system, known.status).dec()
            st.dfget_tasks.add(dt)          # not add_dfget_task: its progress is in the shared store already
            st.metrics.dfgettasks.labels(dt.call_system, dt.status).inc()
