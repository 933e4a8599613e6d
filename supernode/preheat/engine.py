"""PreheatService: Dragonfly 1.x preheat (image and file) run in-process against the supernode's CDN.

- ``file``: the URL is warmed into the CDN (:mod:`.warmer`), at most ``concurrency`` at a time.
- ``image``: the manifest is fetched with the given headers (Harbor's token is used as is, never
  exchanged), indexes are walked (all platforms unless filtered), and one ``file`` child per blob
  is created with the same headers; the parent succeeds when every child did and fails on the
  first failed child with ``"<url> <errmsg>"``.
Ids follow :func:`dfcommon.task_id.preheat_id`; a running or successful record with the same id
is returned instead of a new run (the API turns a finished one into 208).
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

from dfcommon import task_id as tid
from dfcommon.errors import DfError
from registry_plugin.oci import RegistryClient

from .config import PreheatConfig, registry_for
from .image import ImageError, blob_authorization, list_blobs, parse_image_url
from .models import FAILED, FILE, IMAGE, RUNNING, SUCCESS, TYPES, PreheatRecord
from .store import PreheatStore
from .warmer import WarmError, Warmer

log = logging.getLogger(__name__)


class PreheatFailure(Exception):
    pass


def default_client_factory(base_url: str, credentials=None, insecure: bool = False) -> RegistryClient:
    return RegistryClient(base_url, credentials=credentials, insecure=insecure, timeout=(5.0, 30.0))


def guarded_client_factory(policy):
    """Registry clients whose requests (manifests, blobs, token realms, every redirect) obey ``policy``."""
    from dfcommon.http import make_session
    from dfcommon.ssrf import guard_session

    def factory(base_url: str, credentials=None, insecure: bool = False) -> RegistryClient:
        session = guard_session(make_session(timeout=(5.0, 30.0), user_agent="dragonfly-supernode"), policy)
        return RegistryClient(base_url, credentials=credentials, insecure=insecure, timeout=(5.0, 30.0),
                              session=session)
    return factory


def _has_auth(headers: dict) -> bool:
    return any(k.lower() == "authorization" for k in headers)


def check_request(type_: str, url: str, headers) -> dict:
    if type_ not in TYPES:
        raise DfError("INVALID_PARAM", f"unknown preheat type {type_!r}: expected image or file")
    if not isinstance(url, str) or len(url) < 3:
        raise DfError("INVALID_PARAM", "url is required (at least 3 characters)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DfError("INVALID_PARAM", "url must be an http or https URL")
    if type_ == IMAGE:
        parse_image_url(url)
    headers = headers or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise DfError("INVALID_PARAM", "headers must be an object of string values")
    return dict(headers)


class PreheatService:
    def __init__(self, conf: PreheatConfig, store: PreheatStore, warmer: Warmer, client_factory=None,
                 clock=time.time, fetch_policy=None):
        self.conf = conf
        self.store = store
        self.warmer = warmer
        self.fetch_policy = fetch_policy        # refuses URLs at create time (the sessions check every hop)
        self.on_limit = None                    # f(kind) when preheat.max_pending refuses a preheat
        if client_factory is None:
            client_factory = guarded_client_factory(fetch_policy) if fetch_policy is not None else default_client_factory
        self.client_factory = client_factory
        self.clock = clock
        self._slots = threading.BoundedSemaphore(max(1, conf.concurrency))
        self._lock = threading.RLock()
        self._changed = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._expirer: threading.Thread | None = None

    # -- public API ------------------------------------------------------------------------------
    def create(self, type: str, url: str, headers: dict | None = None, filter: str = "", identifier: str = "",
               platforms=None, credentials=None, _child: bool = False) -> tuple[PreheatRecord, bool]:
        """Start a preheat (or find the running / successful one with the same id): (record, created)."""
        headers = check_request(type, url, headers)
        self._check_destination(type, url)
        filter, identifier = filter or "", identifier or ""
        rec_id = tid.preheat_id(url, tid.split_filter(filter), identifier, headers)
        with self._lock:
            old = self.store.get(rec_id)
            if old is not None and old.status != FAILED:
                return old, False
            cap = getattr(self.conf, "max_pending", 0)
            if cap and not _child and len(self._threads) >= cap:
                if self.on_limit is not None:
                    self.on_limit("preheat_queue")
                raise DfError("UNAVAILABLE", f"{cap} preheats are waiting or running (preheat.max_pending): "
                                             f"retry later")
            now = self.clock()
            rec = PreheatRecord(id=rec_id, type=type, url=url, filter=filter, identifier=identifier,
                                headers=headers, platforms=list(platforms or []), created=now)
            self.store.put(rec)
            self._spawn(rec, credentials)
        log.info("preheat created id=%s type=%s url=%s", rec.id, type, url)
        return rec, True

    def _check_destination(self, type_: str, url: str) -> None:
        if self.fetch_policy is None:
            return
        from dfcommon.ssrf import FetchRefused
        try:
            self.fetch_policy.check_url(parse_image_url(url).base_url if type_ == IMAGE else url)
        except FetchRefused as e:
            raise DfError("FETCH_REFUSED", str(e)) from None

    def get(self, rec_id: str) -> PreheatRecord | None:
        return self.store.get(rec_id)

    def require(self, rec_id: str) -> PreheatRecord:
        rec = self.store.get(rec_id)
        if rec is None:
            raise DfError("NOT_FOUND", f"{rec_id} doesn't exists")
        return rec

    def list(self) -> list[PreheatRecord]:
        return self.store.list()

    def delete(self, rec_id: str) -> bool:
        return self.store.delete(rec_id)

    def wait(self, rec_id: str, timeout: float | None = None) -> PreheatRecord | None:
        """Block until the record is finished (or ``timeout``); returns it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                rec = self.store.get(rec_id)
                if rec is None or rec.finished or self._stop.is_set():
                    return rec
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    return rec
                self._changed.wait(left)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "PreheatService":
        if self._expirer is None:
            self._stop.clear()
            self._expirer = threading.Thread(target=self._expire_loop, name="preheat-expire", daemon=True)
            self._expirer.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._notify()
        deadline = time.monotonic() + timeout
        for t in list(self._threads) + ([self._expirer] if self._expirer else []):
            t.join(max(0.0, deadline - time.monotonic()))
        self._expirer = None

    def _expire_loop(self) -> None:
        interval = max(1.0, min(60.0, self.conf.ttl / 10))
        while not self._stop.wait(interval):
            try:
                self.store.expire()
            except Exception:
                log.exception("preheat expiry failed")

    # -- running ---------------------------------------------------------------------------------
    def _spawn(self, rec: PreheatRecord, credentials) -> None:
        t = threading.Thread(target=self._run, args=(rec, credentials), name=f"preheat-{rec.id[:8]}", daemon=True)
        self._threads.add(t)
        t.start()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _set(self, rec: PreheatRecord, status: str, error: str = "") -> None:
        now = self.clock()
        rec.status, rec.error = status, error
        if status == RUNNING and not rec.start_time:
            rec.start_time = now
        if status in (SUCCESS, FAILED):
            rec.finish_time = now
        self.store.save(rec)
        self._notify()

    def _run(self, rec: PreheatRecord, credentials) -> None:
        try:
            self._set(rec, RUNNING)
            if rec.type == FILE:
                self._run_file(rec)
            else:
                self._run_image(rec, credentials)
            self._set(rec, SUCCESS)
            log.info("preheat success id=%s type=%s bytes=%d", rec.id, rec.type, rec.bytes)
        except (PreheatFailure, WarmError, ImageError) as e:
            self._set(rec, FAILED, str(e))
            log.warning("preheat failed id=%s type=%s url=%s error=%s", rec.id, rec.type, rec.url, e)
        except Exception as e:
            log.exception("preheat crashed id=%s", rec.id)
            self._set(rec, FAILED, f"internal error: {type(e).__name__}")
        finally:
            self._threads.discard(threading.current_thread())

    def _insecure(self, host: str) -> bool:
        reg = registry_for(self.conf, host)
        return bool(reg and reg.insecure)

    def _run_file(self, rec: PreheatRecord) -> None:
        with self._slots:
            if self._stop.is_set():
                raise PreheatFailure("the supernode is stopping")
            result = self.warmer.warm(rec.url, rec.headers, tid.split_filter(rec.filter), rec.identifier,
                                      self._insecure(urlsplit(rec.url).netloc), self.conf.timeout)
        rec.task_id, rec.bytes = result.task_id, max(0, result.length)

    def _run_image(self, rec: PreheatRecord, credentials) -> None:
        ref = parse_image_url(rec.url)
        reg = registry_for(self.conf, ref.host)
        if credentials is None and reg is not None and reg.username and not _has_auth(rec.headers):
            credentials = (reg.username, reg.password)
        client = self.client_factory(ref.base_url, credentials, bool(reg and reg.insecure))
        blobs = list_blobs(client, ref, rec.headers, rec.platforms or self.conf.platforms)
        child_headers = dict(rec.headers)
        if not _has_auth(child_headers):
            auth = blob_authorization(client, ref)
            if auth:
                child_headers["Authorization"] = auth
        log.info("preheat image id=%s url=%s blobs=%d", rec.id, rec.url, len(blobs))
        # one blob after another, in manifest order: the origin link carries the blob clients ask for
        # first at its full speed (many pull layers one by one), and a blob a client asks for meanwhile
        # starts at once through the peer protocol anyway
        for url in blobs:
            child, _ = self.create(FILE, url, child_headers, _child=True)
            if not child.parent_id:
                child.parent_id = rec.id
                self.store.save(child)
            rec.children.append(child.id)
            self.store.save(rec)
            self._wait_children(rec)
        self.store.save(rec)

    def _wait_children(self, rec: PreheatRecord) -> None:
        with self._changed:
            while True:
                done, total = 0, 0
                for cid in rec.children:
                    child = self.store.get(cid)
                    if child is None:
                        raise PreheatFailure(f"child preheat {cid} was deleted")
                    if child.status == FAILED:
                        raise PreheatFailure(f"{child.url} {child.error}")
                    if child.status == SUCCESS:
                        done += 1
                        total += child.bytes
                if done == len(rec.children):
                    rec.bytes = total
                    return
                if self._stop.is_set():
                    raise PreheatFailure("the supernode is stopping")
                self._changed.wait(1.0)


def job_state(rec: PreheatRecord | None) -> str:
    """Dragonfly 2 job state as Harbor reads it: PENDING, SUCCESS or FAILURE."""
    if rec is None or rec.status == FAILED:
        return "FAILURE"
    return "SUCCESS" if rec.status == SUCCESS else "PENDING"


__all__ = ["PreheatService", "PreheatFailure", "check_request", "job_state", "default_client_factory"]
