"""Patch the standard library for gevent once per process, before sockets, threads or ssl are used."""
from __future__ import annotations


def patch() -> None:
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()
