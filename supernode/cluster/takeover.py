"""CDN lease take-over: when the member fetching a task from the origin dies, its lease expires (or is
released when the others drop it) and another member resumes the fetch where it stopped.

The resuming member first rebuilds every piece the cluster already has (the task's shared piece md5s) from
the peers that hold them, each checked against its md5, into its own CDN store with a meta that names the
origin's validators (ETag / Last-Modified, published by the first fetcher as soon as its first chunk answered);
then its CDN run finds a partial copy and fetches only the missing pieces, with Range requests. The origin
serves the rest, not the file again.
"""
from __future__ import annotations

import logging
import threading

from dfcommon import pieces
from dfcommon.http import make_session
from supernode.cdn.layout import data_key
from supernode.cdn.metadata import FileMeta, now_ms
from supernode.cdn.types import SUCCESS

from .cdn import lease_name
from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)


class TakeOver:
    def __init__(self, node, records, cdn, state, timeout=(3.05, 30.0)):
        self.node, self.records, self.cdn, self.state = node, records, cdn, state
        self.session = make_session(timeout=timeout, retries=0)
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def check(self) -> list[str]:
        """Called after each heartbeat: take the lease of every unfinished fetch whose holder is gone."""
        r, k = self.node.redis, self.node.keys
        taken = []
        for task_id in r.smembers(k.g("fetching")):
            if self.cdn.runs(task_id) or r.exists(k.lease(lease_name(task_id))):
                continue
            with self._lock:
                if task_id in self._busy:
                    continue
            if r.get(k.task(task_id, "owner")) or not r.exists(k.task(task_id, "rec")):
                continue
            if not self.node.leases.take(lease_name(task_id)):
                continue
            self.node.metrics.lease_takeovers.inc()
            log.warning("cdn lease taken over task=%s member=%s", task_id, self.node.member_id)
            with self._lock:
                self._busy.add(task_id)
            taken.append(task_id)
            threading.Thread(target=self._resume, args=(task_id,), name=f"takeover-{task_id[:8]}",
                             daemon=True).start()
        return taken

    def _resume(self, task_id: str) -> None:
        try:
            with self.state.lock:
                task = self.records.sync(task_id)
            if task is None or task.cdn_status == SUCCESS or task.piece_size <= 0:
                self.node.leases.release(lease_name(task_id))
                return
            seeded = self.seed(task)
            log.info("cdn take-over resumes task=%s with %d pieces copied from peers", task_id, seeded)
            self.cdn.resume(task)
        except REDIS_ERRORS as e:
            self.node.outage.failed("cdn take-over", e)
            self.node.leases.release(lease_name(task_id))
        except Exception:
            log.exception("cdn take-over failed task=%s", task_id)
            self.node.leases.release(lease_name(task_id))
        finally:
            with self._lock:
                self._busy.discard(task_id)

    def seed(self, task) -> int:
        """Copy every piece the cluster recorded from peers holding it; returns how many were copied."""
        md5s = self.node.redis.hgetall(self.node.keys.task(task.id, "md5"))
        storage, ps = self.cdn.inner.storage, task.piece_size
        writer = storage.open_writer(data_key(task.id), truncate=True)
        copied: set[str] = set()
        try:
            for n in sorted(md5s, key=int):
                body = self._from_holders(task, int(n), md5s[n])
                if body is not None:
                    writer.write_at(int(n) * ps, body)
                    copied.add(n)
        finally:
            writer.close()
        gone = [p for p in md5s if p not in copied]     # recorded by the dead holder, on no member's disk now
        if gone:
            self.node.redis.hdel(self.node.keys.task(task.id, "md5"), *gone)
        rec = self.node.redis.hgetall(self.node.keys.task(task.id, "rec"))
        self.cdn.inner.metas.write(FileMeta(
            taskID=task.id, url=task.task_url, pieceSize=ps, httpFileLen=task.source_length, bizId=task.identifier,
            md5=task.md5, accessTime=now_ms(), lastModified=int(rec.get("last_modified", 0) or 0),
            eTag=rec.get("etag", "")))
        return len(copied)

    def _path_of(self, pid: str, task_id: str) -> str | None:
        """The file path of peer ``pid``'s copy: its dfget task's, or (a client that moved to another member
        registers again under a new peer id and the same cid) that of a registration on the same upload server."""
        st = self.state
        cid = st.dfget_tasks.cid_of(pid, task_id)
        dt = st.dfget_tasks.get(cid, task_id) if cid else None
        if dt is not None:
            return dt.path
        peer = st.peers.get(pid)
        for other in st.dfget_tasks.for_task(task_id):
            op = st.peers.get(other.peer_id)
            if op is not None and peer is not None and (op.ip, op.port) == (peer.ip, peer.port):
                return other.path
        return None

    def _from_holders(self, task, piece: int, md5: str) -> bytes | None:
        st, ps = self.state, task.piece_size
        for pid in sorted(self.state.progress.holders(task.id, piece)):
            peer, path = st.peers.get(pid), self._path_of(pid, task.id)
            if peer is None or path is None or not peer.port:
                continue
            url = f"{getattr(peer, 'scheme', 'http')}://{peer.ip}:{peer.port}{path}"
            try:
                resp = self.session.get(url, headers={"Range": f"bytes={piece * ps}-{piece * ps + ps - 1}",
                                                      "pieceNum": str(piece), "pieceSize": str(ps)})
            except Exception as e:
                log.info("take-over piece fetch failed task=%s piece=%d peer=%s: %s", task.id, piece, pid, e)
                continue
            if resp.status_code in (200, 206) and pieces.piece_md5(resp.content) == md5:
                return resp.content
        return None
