"""Where a task's files live in the store (Dragonfly's ``repo/download/<id[:3]>/<id>`` layout)."""
from __future__ import annotations

import re

from dfcommon.errors import DfError

DOWNLOAD = "download"
_TASK_ID_RE = re.compile(r"^[0-9a-f]{64}$")


def check_task_id(task_id: str) -> str:
    if not isinstance(task_id, str) or not _TASK_ID_RE.match(task_id):
        raise DfError("INVALID_PARAM", f"invalid task id {task_id!r}")
    return task_id


def data_key(task_id: str) -> str:
    return f"{DOWNLOAD}/{check_task_id(task_id)[:3]}/{task_id}"


def meta_key(task_id: str) -> str:
    return data_key(task_id) + ".meta"


def md5_key(task_id: str) -> str:
    return data_key(task_id) + ".md5"


def download_path(task_id: str) -> str:
    """The HTTP path peers fetch pieces from on the download port."""
    return "/" + data_key(task_id)


def task_id_of_key(key: str) -> str | None:
    """The task id a store key belongs to (data, .meta or .md5), or None for other keys."""
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return name if _TASK_ID_RE.match(name) and key.startswith(DOWNLOAD + "/") else None
