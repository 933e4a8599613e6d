"""Putting a finished file at the output path atomically, and the helpers around it.

The output path only ever sees a complete, verified file: the bytes go to a temp file in
the target directory (a hard link to the data file when possible, a copy otherwise) that
``os.replace`` then moves over the output in one step.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from .result import DownloadError, ErrorCode

BLOCK = 1 << 20


def file_md5(path: str, length: int | None = None) -> str:
    h = hashlib.md5()
    left = length
    with open(path, "rb") as fh:
        while left is None or left > 0:
            block = fh.read(BLOCK if left is None else min(BLOCK, left))
            if not block:
                break
            h.update(block)
            if left is not None:
                left -= len(block)
    return h.hexdigest()


def check_output(output: str) -> str:
    """Validate the output path before any download; return its absolute form."""
    path = os.path.abspath(os.path.expanduser(output))
    if os.path.isdir(path):
        raise DownloadError(ErrorCode.PREPARE, f"output {output} is a directory")
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise DownloadError(ErrorCode.PREPARE, f"cannot create the directory of {output}: {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise DownloadError(ErrorCode.PREPARE, f"directory {parent} is not writable")
    return path


def place(src: str, output: str, prefix: str, keep_src: bool) -> None:
    """Put ``src`` at ``output`` atomically; keep ``src`` (hard link or copy) when it must stay served."""
    if not keep_src:
        try:
            os.replace(src, output)
            return
        except OSError:
            pass                      # another file system: copy below
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=os.path.dirname(output))
    os.close(fd)
    try:
        try:
            os.unlink(tmp)
            os.link(src, tmp)
        except OSError:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, BLOCK)
        os.replace(tmp, output)
    except OSError as e:
        remove(tmp)
        raise DownloadError(ErrorCode.DOWNLOAD, f"cannot write {output}: {e.strerror}") from None
    if not keep_src:
        remove(src)


def remove(path: str | None) -> None:
    if not path:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass
