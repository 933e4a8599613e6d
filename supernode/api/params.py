"""Request parsing for the supernode API: case-insensitive keys, JSON or form bodies, typed getters.

Dragonfly's Go server decodes JSON case-insensitively (``rawUrl`` = ``rawURL``, ``cid`` = ``cID``)
and also accepts ``application/x-www-form-urlencoded`` register bodies; so do we. Every getter
raises DfError INVALID_PARAM with a message naming the key.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from urllib.parse import urlsplit

from dfcommon import task_id as tid
from dfcommon.errors import DfError

MAX_STR = 4096


class Params:
    def __init__(self, data: dict, lists: dict | None = None):
        self._data = {str(k).lower(): v for k, v in data.items()}
        self._lists = {str(k).lower(): v for k, v in (lists or {}).items()}

    @classmethod
    def from_lists(cls, lists) -> "Params":
        """From (name, [values]) pairs in one pass: each name's first value, and all of them."""
        self = cls.__new__(cls)
        self._lists = {str(k).lower(): v for k, v in lists}
        self._data = {k: v[0] for k, v in self._lists.items() if v}
        return self

    def has(self, name: str) -> bool:
        return name.lower() in self._data

    def raw(self, name: str, default=None):
        return self._data.get(name.lower(), default)

    def str(self, name: str, required: bool = False, default: str = "", max_len: int = MAX_STR) -> str:
        v = self.raw(name)
        if v is None or v == "":
            if required:
                raise DfError("INVALID_PARAM", f"{name} is required")
            return default
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise DfError("INVALID_PARAM", f"{name} must be a string")
        v = str(v)
        if len(v) > max_len:
            raise DfError("INVALID_PARAM", f"{name} is too long (max {max_len} characters)")
        return v

    def int(self, name: str, required: bool = False, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int | None:
        v = self.raw(name)
        if v is None or v == "":
            if required:
                raise DfError("INVALID_PARAM", f"{name} is required")
            return default
        if isinstance(v, bool) or isinstance(v, float) and not v.is_integer():
            raise DfError("INVALID_PARAM", f"{name} must be an integer")
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise DfError("INVALID_PARAM", f"{name} must be an integer, got {str(v)[:64]!r}") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise DfError("INVALID_PARAM", f"{name} must be between {lo} and {hi}")
        return n

    def float(self, name: str, default: float = 0.0) -> float:
        v = self.raw(name)
        if v is None or v == "":
            return default
        try:
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        except (TypeError, ValueError):
            raise DfError("INVALID_PARAM", f"{name} must be a number") from None

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.raw(name)
        if v is None or v == "":
            return default
        if isinstance(v, bool):
            return v
        if str(v).lower() in ("true", "1", "yes", "on"):
            return True
        if str(v).lower() in ("false", "0", "no", "off"):
            return False
        raise DfError("INVALID_PARAM", f"{name} must be true or false")

    def list(self, name: str, max_items: int = 256) -> list[str]:
        v = self._lists.get(name.lower())
        if v is None:
            v = self.raw(name)
        if v is None or v == "":
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise DfError("INVALID_PARAM", f"{name} must be a list of strings")
        if len(v) > max_items:
            raise DfError("INVALID_PARAM", f"{name} has too many items (max {max_items})")
        return v


def body_params(request) -> Params:
    """A JSON object body, or a form when the content type says so (as Dragonfly decides)."""
    if request.mimetype == "application/x-www-form-urlencoded":
        form = request.form
        return Params(form.to_dict(), {k: form.getlist(k) for k in form.keys()})
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise DfError("INVALID_PARAM", "request body is empty")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DfError("INVALID_PARAM", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise DfError("INVALID_PARAM", "request body must be a JSON object")
    return Params(data)


def query_params(request) -> Params:
    return Params.from_lists(request.args.lists())


def check_task_id(value: str) -> str:
    if not tid.is_task_id(value or ""):
        raise DfError("INVALID_PARAM", "taskId must be 64 lowercase hex characters")
    return value


def check_url(value: str, name: str = "rawUrl") -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DfError("INVALID_PARAM", f"{name} must be an http or https URL")
    return value


def check_ip(value: str, name: str = "ip") -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise DfError("INVALID_PARAM", f"{name} must be an IP address") from None
    return value


def parse_headers(items: list[str]) -> list[tuple[str, str]]:
    """``["Key:Value", ...]`` to pairs (split on the first colon, both sides trimmed); repeats kept."""
    out = []
    for item in items:
        if ":" not in item:
            raise DfError("INVALID_PARAM", "headers entries must look like 'Key:Value'")
        k, v = item.split(":", 1)
        if not k.strip():
            raise DfError("INVALID_PARAM", "headers entries need a key")
        out.append((k.strip(), v.strip()))
    return out


def parse_root_cas(items: list[str]) -> list[bytes]:
    """rootCAs arrive as base64 (Go encodes []byte so)."""
    try:
        return [base64.b64decode(x, validate=True) for x in items]
    except (binascii.Error, ValueError):
        raise DfError("INVALID_PARAM", "rootCAs must be base64-encoded PEM") from None
