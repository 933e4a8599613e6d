"""The host's link speed from ``/sys/class/net/*/speed``, and the upload limit ``auto`` derives from it.

``total_limit`` / ``totalLimit`` / ``--totallimit`` (the host's upload limit: what all peers together may
take from this host's upload server) accept ``auto``: :data:`UPLOAD_SHARE` of the fastest physical link
that is up. Peers then cannot fill the uplink: the rest stays for the host's own traffic (its downloads'
ACKs, its services). Only interfaces backed by a device count (``/sys/class/net/<if>/device`` exists):
loopback, bridges, veth pairs and tunnels report no speed or a nominal one. Where no speed can be read
(a virtual NIC reports -1, no sysfs) ``auto`` means unlimited, and says so in the log. ``0`` stays
unlimited and a size (``100M``) is used as given, as in Dragonfly 1.x.
"""
from __future__ import annotations

import logging
import os

from .units import parse_size

log = logging.getLogger(__name__)

SYS_NET = "/sys/class/net"
UPLOAD_SHARE = 0.8


def link_speeds(root: str = SYS_NET) -> dict[str, int]:
    """``{interface: bits per second}`` of the physical interfaces that are up and report a speed."""
    out: dict[str, int] = {}
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        base = os.path.join(root, name)
        if not os.path.exists(os.path.join(base, "device")):
            continue
        try:
            with open(os.path.join(base, "operstate"), encoding="ascii") as f:
                if f.read().strip() not in ("up", "unknown"):
                    continue
            with open(os.path.join(base, "speed"), encoding="ascii") as f:
                mbps = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if mbps > 0:
            out[name] = mbps * 1_000_000
    return out


def auto_upload_limit(root: str = SYS_NET, share: float = UPLOAD_SHARE) -> int:
    """Bytes/s for ``auto``: ``share`` of the fastest link; 0 (unlimited) when no speed can be read."""
    speeds = link_speeds(root)
    if not speeds:
        log.info("host upload limit auto: no link speed in %s, upload unlimited", root)
        return 0
    name, bps = max(speeds.items(), key=lambda kv: kv[1])
    limit = int(bps / 8 * share)
    log.info("host upload limit auto: %s at %d Mbit/s, limit=%d B/s (%d%% of the link)", name, bps // 1_000_000,
             limit, round(share * 100))
    return limit


def parse_host_limit(value, root: str = SYS_NET) -> int:
    """A host upload limit: ``auto`` (see the module docstring), else a size or rate as :func:`parse_size`."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return auto_upload_limit(root)
    return parse_size(value)
