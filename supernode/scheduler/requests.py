"""Typed requests of the peer protocol, built by the API layer from parsed parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

# /peer/task status and result codes sent by dfget
TASK_STARTED, TASK_RUNNING, TASK_FINISHED = 700, 701, 702
RESULT_FAIL, RESULT_SUC, RESULT_INVALID, RESULT_SEMISUC = 500, 501, 502, 503


@dataclass
class RegisterRequest:
    raw_url: str
    cid: str
    ip: str
    host_name: str
    port: int
    path: str
    task_url: str = ""
    version: str = ""
    md5: str = ""
    identifier: str = ""
    call_system: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    dfdaemon: bool = False
    insecure: bool = False
    root_cas: list[bytes] = field(default_factory=list)
    super_node_ip: str = ""
    pattern: str = "p2p"
    upload_scheme: str = ""            # our addition: "https" when the upload server speaks TLS
    location: str = ""                 # our addition: where the host is, "region|zone|rack" (Dragonfly2's label)
    idc: str = ""                      # our addition: its data centre


@dataclass
class PullRequest:
    task_id: str
    src_cid: str
    status: int
    dst_cid: str = ""
    piece_range: str = ""
    result: int | None = None


@dataclass
class PieceErrorReport:
    task_id: str
    piece_range: str
    src_cid: str = ""
    dst_cid: str = ""
    dst_ip: str = ""
    real_md5: str = ""
    expected_md5: str = ""
    error_type: str = ""
