"""Running a policy: find the matching images, preheat each, wait, and record what happened.

Images come from the registry (``/v2/_catalog`` when the repository filter is a glob, then ``tags/list``)
or, for event runs, from the pushed image itself. Each image is preheated through the preheat engine's
``create('image', url, {}, filter, identifier, platforms, credentials=(user, password))`` (the engine runs
the registry's token flow with them; no secret travels in headers or ids) and followed with ``get(id)``
until its record is final; children (one per layer) give the per-layer outcome.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from dfcommon.errors import DfError
from registry_plugin.oci import BasicCredentials, RegistryClient

from .matcher import glob_match, has_magic, registry_host
from .models import (RUN_FAILED, RUN_MISSED, RUN_PARTIAL, RUN_RUNNING, RUN_SUCCEEDED, Run, new_id)
from .store import PolicyStore

log = logging.getLogger(__name__)
FINAL_OK, FINAL_FAILED = "SUCCESS", "FAILED"


class Preheat(Protocol):
    """The preheat engine seam (``supernode.preheat.engine.PreheatService``)."""

    def create(self, type: str, url: str, headers: dict, filter: str, identifier: str, platforms=None,
               credentials=None): ...

    def get(self, record_id: str): ...


def _attr(rec, name: str, default=None):
    if isinstance(rec, dict):
        return rec.get(name, default)
    return getattr(rec, name, default)


def credentials_from(entry) -> BasicCredentials | None:
    """A ``policies.credentials`` entry: ``{username, password}`` or ``"user:password"``."""
    if isinstance(entry, dict):
        return BasicCredentials(str(entry.get("username", "")), str(entry.get("password", "")))
    if isinstance(entry, str) and ":" in entry:
        user, _, pw = entry.partition(":")
        return BasicCredentials(user, pw)
    return None


def iter_repositories(client: RegistryClient, page: int = 1000):
    """Every repository of the registry (``/v2/_catalog`` with ``Link`` pagination)."""
    path, params = "/v2/_catalog", {"n": page}
    for _ in range(100000):
        resp = client._request("GET", path, None, "NOT_FOUND", "repository catalog", params=params)
        try:
            doc = resp.json()
        except ValueError:
            raise DfError("UPSTREAM_ERROR", "repository catalog: registry sent invalid JSON") from None
        finally:
            resp.close()
        yield from (doc.get("repositories") or []) if isinstance(doc, dict) else []
        nxt = resp.links.get("next", {}).get("url")
        if not nxt:
            return
        full = urlsplit(urljoin(client.base_url + path, nxt))
        if full.netloc and full.netloc != client.host:
            raise DfError("UPSTREAM_ERROR", "repository catalog: pagination link leaves the registry")
        path, params = full.path + (f"?{full.query}" if full.query else ""), None


class PolicyRunner:
    """Executes runs. ``preheat`` is the engine, or a callable returning it (resolved at run time)."""

    def __init__(self, store: PolicyStore, preheat, credentials: dict | None = None, poll_interval: float = 2.0,
                 image_timeout: float = 1800.0, max_parallel: int = 4, max_images: int = 1000,
                 timeout=(5.0, 30.0), clock=time.time, member: str = ""):
        """``member``: the cluster member id written into each run ("" for a supernode alone)."""
        self.store = store
        self.member = member
        self._preheat = preheat
        self.credentials = dict(credentials or {})
        self.poll_interval = poll_interval
        self.image_timeout = image_timeout
        self.max_parallel = max(1, max_parallel)
        self.max_images = max_images
        self.timeout = timeout
        self.clock = clock
        self._stop = threading.Event()

    # ------------------------------------------------------------------ entry points
    def start(self, policy_id: str, trigger: str, images=None) -> Run:
        """Record a run and execute it in the background; returns the (running) record."""
        policy = self.store.require(policy_id)
        run = self._new_run(policy, trigger)
        threading.Thread(target=self._execute, args=(policy, run, images), daemon=True,
                         name=f"policy-run-{run.id}").start()
        return run

    def run(self, policy_id: str, trigger: str, images=None, scheduled_at: float | None = None) -> Run | None:
        """Execute a run to the end in the calling thread (scheduled jobs)."""
        policy = self.store.get(policy_id)
        if policy is None:
            log.warning("policy run skipped: policy deleted policy=%s trigger=%s", policy_id, trigger)
            return None
        run = self._new_run(policy, trigger, scheduled_at)
        return self._execute(policy, run, images)

    def record_missed(self, policy_id: str, scheduled_at: float | None, reason: str) -> Run | None:
        policy = self.store.get(policy_id)
        if policy is None:
            return None
        now = self.clock()
        run = Run(new_id(), policy.id, policy.name, "cron", RUN_MISSED, started_at=now, finished_at=now,
                  scheduled_at=scheduled_at, error=reason, member=self.member)
        log.warning("policy run missed policy=%s scheduled=%s reason=%s", policy.id, scheduled_at, reason)
        return self.store.add_run(run)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: a run ending now was cut short by the stop."""
        return self._stop.is_set()

    # ------------------------------------------------------------------ one run
    def _new_run(self, policy, trigger: str, scheduled_at: float | None = None) -> Run:
        run = Run(new_id(), policy.id, policy.name, trigger, RUN_RUNNING, started_at=self.clock(),
                  scheduled_at=scheduled_at, member=self.member)
        return self.store.add_run(run)

    def _execute(self, policy, run: Run, images=None) -> Run:
        log.info("policy run started policy=%s run=%s trigger=%s", policy.id, run.id, run.trigger)
        try:
            preheat = self._engine()
            creds = None
            if policy.credentials:
                creds = credentials_from(self.credentials.get(policy.credentials))
                if creds is None:
                    raise DfError("INVALID_PARAM", f"credentials {policy.credentials!r} are not configured")
            targets = list(images) if images is not None else self._discover(policy, creds)
            run.images = [self._image_entry(policy, repo, tag) for repo, tag in targets]
            self.store.save_run(run)
            self._preheat_all(preheat, policy, run, creds)
            states = {img["status"] for img in run.images}
            run.status = (RUN_SUCCEEDED if states <= {RUN_SUCCEEDED} else
                          RUN_FAILED if states == {RUN_FAILED} else RUN_PARTIAL)
        except DfError as e:
            run.status, run.error = RUN_FAILED, e.message
        except Exception:                                   # noqa: BLE001 - a run never kills its thread
            log.exception("policy run crashed policy=%s run=%s", policy.id, run.id)
            run.status, run.error = RUN_FAILED, "internal error"
        if self._stop.is_set() and run.status != RUN_SUCCEEDED:
            run.error = run.error or "interrupted by shutdown"
        run.bytes = sum(int(img.get("bytes") or 0) for img in run.images)
        run.finished_at = self.clock()
        self.store.save_run(run)
        log.info("policy run finished policy=%s run=%s status=%s images=%d bytes=%d", policy.id, run.id,
                 run.status, len(run.images), run.bytes)
        return run

    def _engine(self):
        engine = self._preheat
        if engine is not None and not hasattr(engine, "create") and callable(engine):
            engine = engine()
        if engine is None:
            raise DfError("UNAVAILABLE", "the preheat engine is not available")
        return engine

    def _discover(self, policy, creds) -> list[tuple[str, str]]:
        client = RegistryClient(policy.registry, credentials=creds, timeout=self.timeout)
        repos = (sorted(r for r in iter_repositories(client) if glob_match(policy.repository, r))
                 if has_magic(policy.repository) else [policy.repository])
        out = []
        for repo in repos:
            try:
                tags = list(client.iter_tags(repo))
            except DfError as e:
                if e.code != "NAME_UNKNOWN" or not has_magic(policy.repository):
                    raise
                log.info("policy run skips a vanished repository policy=%s repository=%s", policy.id, repo)
                continue
            out.extend((repo, tag) for tag in tags if glob_match(policy.tag, tag))
            if len(out) > self.max_images:
                raise DfError("INVALID_PARAM", f"more than {self.max_images} images match; "
                                               "narrow the repository or tag filter")
        return out

    @staticmethod
    def _image_entry(policy, repo: str, tag: str) -> dict:
        return {"image": f"{registry_host(policy.registry)}/{repo}:{tag}", "repository": repo, "tag": tag,
                "url": f"{policy.registry}/v2/{repo}/manifests/{tag}", "preheat_id": "", "status": RUN_RUNNING,
                "bytes": 0, "layers": [], "error": ""}

    # ------------------------------------------------------------------ preheat + wait
    def _preheat_all(self, preheat, policy, run: Run, creds) -> None:
        extra = {"credentials": (creds.username, creds.password)} if creds else {}
        pending = list(run.images)
        inflight: dict[str, tuple[dict, float]] = {}
        while pending or inflight:
            while pending and len(inflight) < self.max_parallel:
                img = pending.pop(0)
                try:
                    rec, _created = preheat.create("image", img["url"], {}, "", "",
                                                   platforms=list(policy.platforms) or None, **extra)
                    img["preheat_id"] = str(_attr(rec, "id"))
                    inflight[img["preheat_id"]] = (img, self.clock())
                except DfError as e:
                    img["status"], img["error"] = RUN_FAILED, e.message
            for rec_id, (img, started) in list(inflight.items()):
                rec = preheat.get(rec_id)
                status = str(_attr(rec, "status", "")).upper() if rec is not None else FINAL_FAILED
                if status in (FINAL_OK, FINAL_FAILED):
                    self._finish_image(preheat, img, rec, status)
                elif self._stop.is_set() or self.clock() - started > self.image_timeout:
                    img["status"] = RUN_FAILED
                    img["error"] = "interrupted by shutdown" if self._stop.is_set() else \
                        f"not finished after {self.image_timeout:.0f}s"
                else:
                    continue
                del inflight[rec_id]
                self.store.save_run(run)
            if self._stop.is_set():
                for img in pending:
                    img["status"], img["error"] = RUN_FAILED, "interrupted by shutdown"
                pending = []
            if inflight:
                self._stop.wait(self.poll_interval)

    def _finish_image(self, preheat, img: dict, rec, status: str) -> None:
        layers = []
        for child in (_attr(rec, "children") or []) if rec is not None else []:
            child_rec = preheat.get(child) if isinstance(child, str) else child
            if child_rec is None:
                continue
            layers.append({"id": str(_attr(child_rec, "id", "")), "url": _attr(child_rec, "url", ""),
                           "status": RUN_SUCCEEDED if str(_attr(child_rec, "status", "")).upper() == FINAL_OK
                           else RUN_FAILED, "bytes": int(_attr(child_rec, "bytes", 0) or 0),
                           "error": _attr(child_rec, "error", "") or ""})
        img["layers"] = layers
        img["bytes"] = int(_attr(rec, "bytes", 0) or 0) or \
            sum(layer["bytes"] for layer in layers if layer["status"] == RUN_SUCCEEDED)
        if rec is None:
            img["status"], img["error"] = RUN_FAILED, "preheat record vanished"
        else:
            img["status"] = RUN_SUCCEEDED if status == FINAL_OK else RUN_FAILED
            img["error"] = "" if status == FINAL_OK else (_attr(rec, "error", "") or "preheat failed")
