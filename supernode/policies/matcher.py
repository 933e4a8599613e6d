"""Glob matching for policy filters: doublestar-like ``*``/``**`` on ``/``-separated path segments.

``*``, ``?`` and ``[...]`` match inside one segment (``fnmatch`` on the segment), ``**`` as a whole segment
matches zero or more segments, and ``{a,b}`` alternatives expand before matching. ``library/*`` matches
``library/nginx`` but not ``library/a/b``; ``library/**`` matches both and ``library`` itself.
"""
from __future__ import annotations

import fnmatch
from functools import lru_cache
from urllib.parse import urlsplit

from dfcommon.errors import DfError

MAX_GLOB = 255
MAX_ALTERNATIVES = 64


def _split_braces(body: str) -> list[str]:
    """Split the inside of ``{...}`` on top-level commas."""
    parts, depth, cur = [], 0, []
    for ch in body:
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def expand_braces(pattern: str) -> list[str]:
    """``v{1,2}.*`` -> ``["v1.*", "v2.*"]`` (nested braces expand too)."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    for i in range(start, len(pattern)):
        depth += pattern[i] == "{"
        depth -= pattern[i] == "}"
        if depth == 0:
            end = i
            break
    else:
        raise ValueError("unbalanced '{'")
    head, body, tail = pattern[:start], pattern[start + 1:end], pattern[end + 1:]
    out = []
    for alt in _split_braces(body):
        for rest in expand_braces(head + alt + tail):
            out.append(rest)
            if len(out) > MAX_ALTERNATIVES:
                raise ValueError(f"more than {MAX_ALTERNATIVES} alternatives")
    return out


def validate_glob(pattern, what: str, multi_segment: bool = True) -> str:
    """Return ``pattern`` or raise ``DfError(INVALID_PARAM)`` naming ``what`` and the problem."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise DfError("INVALID_PARAM", f"{what}: a non-empty glob is required")
    pattern = pattern.strip()
    if len(pattern) > MAX_GLOB:
        raise DfError("INVALID_PARAM", f"{what}: glob longer than {MAX_GLOB} characters")
    if any(ord(c) < 32 for c in pattern):
        raise DfError("INVALID_PARAM", f"{what}: control characters are not allowed")
    if pattern.count("}") != pattern.count("{"):
        raise DfError("INVALID_PARAM", f"{what}: unbalanced braces in {pattern!r}")
    try:
        alternatives = expand_braces(pattern)
    except ValueError as e:
        raise DfError("INVALID_PARAM", f"{what}: {e} in {pattern!r}") from None
    for alt in alternatives:
        segments = alt.split("/")
        if not multi_segment and len(segments) > 1:
            raise DfError("INVALID_PARAM", f"{what}: '/' is not allowed in {pattern!r}")
        for seg in segments:
            if seg == "":
                raise DfError("INVALID_PARAM", f"{what}: empty path segment in {pattern!r}")
            if "**" in seg and seg != "**":
                raise DfError("INVALID_PARAM", f"{what}: '**' must be a whole path segment in {pattern!r}")
            if _unbalanced_bracket(seg):
                raise DfError("INVALID_PARAM", f"{what}: unbalanced '[' in {pattern!r}")
    return pattern


def _unbalanced_bracket(seg: str) -> bool:
    i = 0
    while i < len(seg):
        if seg[i] == "[":
            close = seg.find("]", i + 2 if seg[i + 1:i + 2] in ("!", "]") else i + 1)
            if close < 0:
                return True
            i = close
        i += 1
    return False


def _match_segments(pat: tuple, path: tuple) -> bool:
    if not pat:
        return not path
    head = pat[0]
    if head == "**":
        return any(_match_segments(pat[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _match_segments(pat[1:], path[1:])


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> tuple:
    return tuple(tuple(alt.split("/")) for alt in expand_braces(pattern))


def glob_match(pattern: str, value: str) -> bool:
    """True when ``value`` (a repository or a tag) matches the doublestar glob ``pattern``."""
    path = tuple(value.split("/"))
    return any(_match_segments(alt, path) for alt in _compiled(pattern))


def has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[{")


def registry_host(registry: str) -> str:
    """``https://Reg.example:443/`` -> ``reg.example:443``; ``reg.example`` -> ``reg.example``."""
    text = registry if "://" in registry else "//" + registry
    return urlsplit(text).netloc.lower()


def policy_matches(policy, registry: str, repository: str, tag: str) -> bool:
    """Does a pushed ``registry/repository:tag`` fall under ``policy``'s filters?"""
    if registry and registry_host(policy.registry) != registry_host(registry):
        return False
    return glob_match(policy.repository, repository) and glob_match(policy.tag, tag)
