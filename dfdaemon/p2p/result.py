"""Outcome of a download: protocol codes, back-to-source reasons, dfget error and exit codes.

Every number the downloader and the ``dfget`` command line speak lives here, so the CLI,
the dfdaemon and the tests agree on one table.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Supernode result codes (Dragonfly 1.x pkg/constants/dfget_super_code.go)
CODE_SUCCESS = 200
CODE_SYSTEM_ERROR = 500
CODE_PEER_FINISH = 600
CODE_PEER_CONTINUE = 601
CODE_PEER_WAIT = 602
CODE_PEER_LIMITED = 603
CODE_URL_NOT_REACHABLE = 607
CODE_NEED_AUTH = 608
CODE_WAIT_AUTH = 609
CODE_SOURCE_ERROR = 610
CODE_PIECE_REPORTED = 611
CODE_PEER_DOWN = 612
CODE_HTTP_ERROR = -100            # dfget side: the call itself failed

# task status sent with /peer/task
STATUS_STARTED = 700
STATUS_RUNNING = 701
STATUS_FINISHED = 702

# piece result sent with /peer/task
RESULT_FAIL = 500
RESULT_SUC = 501
RESULT_INVALID = 502
RESULT_SEMISUC = 503

# /peer/piece/error types
ERROR_FILE_NOT_EXIST = "FILE_NOT_EXIST"
ERROR_MD5_NOT_MATCH = "FILE_MD5_NOT_MATCH"


class BackSourceReason(enum.IntEnum):
    """Why dfget fell back to a direct download of the source (Dragonfly 1.x values)."""
    NONE = 0
    REGISTER_FAIL = 1
    MD5_NOT_MATCH = 2
    DOWNLOAD_ERROR = 3
    NO_SPACE = 4
    INIT_ERROR = 5
    WRITE_ERROR = 6
    HOST_SYS_ERROR = 7
    NODE_EMPTY = 8
    SOURCE_ERROR = 10
    USER_SPECIFIED = 100


NO_BACK_SOURCE_OFFSET = 1000      # --notbs adds this to the reason of a failed download


class ErrorCode(enum.IntEnum):
    """dfget error codes; the process exit status is the code truncated to a byte."""
    OK = 0
    PREPARE = 1101
    REGISTER = 1103
    DOWNLOAD = 1104


EXIT_OK = 0
EXIT_USAGE = 1
EXIT_PREPARE = ErrorCode.PREPARE & 0xFF      # 77
EXIT_REGISTER = ErrorCode.REGISTER & 0xFF    # 79
EXIT_DOWNLOAD = ErrorCode.DOWNLOAD & 0xFF    # 80

EXIT_CODES_HELP = (
    "exit codes:\n"
    f"  {EXIT_OK:<3} the file was downloaded and verified\n"
    f"  {EXIT_USAGE:<3} bad usage: unknown flag, missing or invalid value\n"
    f"  {EXIT_PREPARE:<3} prepare error (1101): bad output path, work home or config\n"
    f"  {EXIT_REGISTER:<3} register error (1103): no supernode accepted the task and the source\n"
    "      was not tried (--notbs) or asks for authentication; also when a supernode with auth on\n"
    "      refuses the token (HTTP 401: none or expired, 403: wrong role), never retried at the source\n"
    f"  {EXIT_DOWNLOAD:<3} download error (1104): P2P and back-to-source both failed, md5 mismatch,\n"
    "      source error (e.g. 404) or timeout\n"
)


def exit_code(code: int) -> int:
    """The process exit status for a dfget error code (the OS keeps the low byte)."""
    return int(code) & 0xFF


class DownloadError(Exception):
    """A failed download: the dfget error code, the back-source reason and a message."""

    def __init__(self, code: int, message: str, reason: int = 0, status: int | None = None):
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.reason = int(reason)
        self.status = status          # source HTTP status when the source refused


class Cancelled(Exception):
    """The consumer closed the stream or the process is stopping."""


@dataclass
class Result:
    """What :meth:`Downloader.download` returns (it never raises for download failures)."""
    success: bool
    url: str
    output: str | None = None
    length: int = 0
    cost: float = 0.0
    code: int = ErrorCode.OK               # dfget error code (0, 1101, 1103, 1104)
    reason: int = BackSourceReason.NONE    # back-source reason (+1000 with --notbs)
    message: str = ""
    task_id: str = ""
    node: str = ""
    md5: str = ""                          # whole-file md5 when known: given (--md5), computed, or the
                                           # supernode's; "" when every piece passed our supernode's fast
                                           # digest and nobody computed one (lazy md5)
    back_source: bool = False
    status: int | None = None              # source HTTP status when the source refused
    nodes_tried: list = field(default_factory=list)
    bytes_from: dict = field(default_factory=dict)   # peers / supernode / origin -> bytes obtained from each
    pieces_checked: dict = field(default_factory=dict)   # digest name (xxh3-128, md5) -> pieces checked with it
    pieces_stalled: int = 0                # piece fetches dropped because their source sent nothing for a while

    @property
    def exit_code(self) -> int:
        return exit_code(self.code)
