"""The contract between the CDN and the scheduler.

The scheduler (task manager) builds a :class:`SourceRequest` when a peer registers, asks the
CDN to :meth:`Cdn.probe` the source (length, range support, reachability) and to
:meth:`Cdn.trigger` the download. The CDN reports progress through a :class:`CdnListener`:
``on_piece`` for every piece the moment it is written and servable (also replayed for every
piece on a full cache hit), then exactly one of ``on_success`` / ``on_failure``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# cdn status values of a task (Dragonfly's cdnStatus)
WAITING, RUNNING, SUCCESS, FAILED, SOURCE_ERROR = "WAITING", "RUNNING", "SUCCESS", "FAILED", "SOURCE_ERROR"


@dataclass
class SourceRequest:
    task_id: str
    raw_url: str
    task_url: str
    headers: list[tuple[str, str]] = field(default_factory=list)   # user headers; repeated keys kept in order
    md5: str = ""
    identifier: str = ""
    insecure: bool = False
    root_cas: list[bytes] = field(default_factory=list)             # PEM bytes sent by dfget as rootCAs


@dataclass
class SourceInfo:
    status: int              # HTTP status of the probe request
    length: int              # source Content-Length, -1 if unknown
    supports_range: bool


class CdnListener(Protocol):
    def on_piece(self, task_id: str, piece_num: int, piece_md5: str) -> None:
        """Piece ``piece_num`` is written and servable; ``piece_md5`` is ``md5hex:wrappedLen``."""

    def on_success(self, task_id: str, file_length: int, real_md5: str, source_length: int) -> None:
        """The whole task is cached. ``file_length`` is the wrapped CDN length; ``real_md5`` the source md5."""

    def on_failure(self, task_id: str, reason: str, source_error: bool) -> None:
        """The download failed; ``source_error`` is True when the source answered badly (4xx/5xx)."""


class Cdn(Protocol):
    def set_listener(self, listener: CdnListener) -> None: ...

    def probe(self, req: SourceRequest) -> SourceInfo:
        """HEAD/GET the source for its length (4 s timeout). Raises DfError URL_NOT_REACHABLE on 404 (and for
        fail_access_interval afterwards), SOURCE_AUTH on 401/407, SOURCE_ERROR when it cannot be reached."""

    def trigger(self, req: SourceRequest, piece_size: int, source_length: int) -> None:
        """Start (single-flight) caching of the task and return at once; idempotent while running or done."""

    def status(self, task_id: str) -> str:
        """WAITING / RUNNING / SUCCESS / FAILED / SOURCE_ERROR."""

    def piece_md5(self, task_id: str, piece_num: int) -> str | None: ...

    def piece_path(self, task_id: str, raw_url: str = "") -> str:
        """Path a peer fetches pieces from: ``/download/<id[:3]>/<id>`` on the download port (local pattern),
        or the raw URL itself for the ``source`` pattern."""

    def check_piece(self, task_id: str, piece_num: int, expected_md5: str) -> bool:
        """Re-read a piece from the store and compare md5s (piece error handling); full GC of the task if bad."""

    def delete(self, task_id: str, full: bool) -> None:
        """Forget a task: ``full`` also deletes its files from the store."""

    def disk_gc(self, in_use: set[str]) -> int:
        """Young/full GC by free space, never touching ``in_use`` tasks; returns how many tasks were deleted."""
