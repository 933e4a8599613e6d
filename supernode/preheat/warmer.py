"""Warm one URL into the CDN in-process: a peerless scheduler task, then wait for the CDN's verdict.

The task is registered through :meth:`TaskManager.warm`, so its id is the one a dfget or dfdaemon
computes for the same URL, and a later download is served from the CDN. The CDN's single-flight
and its shared back-to-source bandwidth limit apply as for any task.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from dfcommon.errors import DfError
from supernode.cdn.types import FAILED, SOURCE_ERROR, SUCCESS

log = logging.getLogger(__name__)


class WarmError(Exception):
    """The warm failed; the message says why in words an operator can act on."""


@dataclass
class WarmResult:
    task_id: str
    length: int             # source bytes (-1 when unknown)


class Warmer(Protocol):
    def warm(self, url: str, headers: dict, filters=(), identifier: str = "", insecure: bool = False,
             timeout: float = 1800.0) -> WarmResult:
        """Cache ``url`` in the CDN and return when it is complete; raise WarmError when it cannot be."""


def explain_source_error(e: DfError) -> str:
    if e.code == "SOURCE_AUTH":
        return f"the origin refused the request ({e.message}): the token is missing, expired or lacks pull access"
    if e.code == "URL_NOT_REACHABLE":
        return f"not found at the origin (404): {e.message}"
    if e.code == "SOURCE_ERROR":
        return f"origin unreachable: {e.message}"
    if e.code == "TASK_CONFLICT":
        return f"task conflict: {e.message}"
    return f"{e.code}: {e.message}"


class CdnWarmer:
    """The :class:`Warmer` of one supernode (its task manager and CDN)."""

    def __init__(self, manager, poll_interval: float = 0.1, clock=None, sleep=None):
        self.manager = manager
        self.poll_interval = poll_interval
        self.clock = clock or time.monotonic
        self.sleep = sleep or (lambda s: time.sleep(s))     # looked up late: gevent may patch it

    def warm(self, url: str, headers: dict, filters=(), identifier: str = "", insecure: bool = False,
             timeout: float = 1800.0) -> WarmResult:
        try:
            task = self.manager.warm(url, list((headers or {}).items()), filters, identifier, insecure)
        except DfError as e:
            raise WarmError(explain_source_error(e)) from None
        deadline = self.clock() + timeout
        tasks = self.manager.state.tasks
        while True:
            status = task.cdn_status
            if status == SUCCESS:
                return WarmResult(task.id, task.source_length)
            if status in (FAILED, SOURCE_ERROR):
                raise WarmError(f"cdn download failed: {task.cdn_reason or status}")
            if tasks.get(task.id) is not task:
                raise WarmError("the task was removed from the supernode while it was being cached")
            if self.clock() > deadline:
                raise WarmError(f"not cached within {timeout:.0f}s")
            self.sleep(self.poll_interval)
