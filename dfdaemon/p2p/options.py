"""Settings of the P2P downloader and of one download call, and the client version.

Standard library only, so that ``dfget``'s flag parsing and ``--version`` do not load the HTTP
stack (see :mod:`dfdaemon.p2p.downloader` for the downloader itself).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .version import VERSION

__all__ = ["VERSION", "PATTERNS", "DownloaderOptions", "DownloadRequest"]
PATTERNS = ("p2p", "cdn", "source")


@dataclass
class DownloaderOptions:
    """Per-process settings (dfget.yml + flags, or the dfdaemon's config)."""
    work_home: str = os.path.expanduser("~/.small-dragonfly")
    nodes: list = field(default_factory=lambda: ["127.0.0.1:8002=1"])
    local_limit: int = 0               # bytes/s for pieces and back-source; 0 = unlimited (default)
    local_limit_source: str = "default"  # where local_limit was set, named in the limit-bound log line
    min_rate: int = 64 << 10           # drives timeouts only
    total_limit: int = 0               # host upload limit handed to the upload server
    client_queue_size: int = 6         # pieces fetched at once
    stall_timeout: float = 10.0        # a piece source silent this long is dropped for the piece (0 = off)
    ip: str = ""                       # peer IP ("" = the local address that reaches the supernode)
    port: int = 0                      # upload server port (0 = any)
    alive_time: float = 300.0
    expire_time: float = 180.0
    supernode_timeout: float = 5.0
    supernode_token: str | None = None
    supernode_tls: bool = False        # https to the supernode (implied by supernode_ca)
    supernode_ca: list = field(default_factory=list)   # CA files for the supernode and https peers
    upload_tls_cert: str = ""          # TLS of the upload server this downloader starts (dfget server)
    upload_tls_key: str = ""
    upload_scheme: str = ""            # "https" when the host's upload server speaks TLS ("" = from the above)
    trust_keys: bool = True            # store the supernode's token keys for the upload server

    @property
    def supernode_scheme(self) -> str:
        return "https" if self.supernode_tls or self.supernode_ca else "http"

    @property
    def served_scheme(self) -> str:
        return self.upload_scheme or ("https" if self.upload_tls_cert else "")


@dataclass
class DownloadRequest:
    """One call: what to fetch and how."""
    url: str
    output: str | None = None
    headers: list = field(default_factory=list)     # [(key, value)], repeated keys kept
    md5: str = ""
    identifier: str = ""
    filters: list = field(default_factory=list)
    pattern: str = "p2p"
    notbs: bool = False
    nodes: list | None = None
    local_limit: int | None = None
    timeout: float | None = None
    insecure: bool = False
    cacerts: list = field(default_factory=list)
    call_system: str = ""
    dfdaemon: bool = False
    console: object = None                            # callable(line) for dfget's console lines
    digest_verified: bool = False                     # the caller checks a digest (sha256) of the bytes itself
