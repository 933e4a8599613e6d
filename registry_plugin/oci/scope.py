"""Token scope grammar: ``type:name:action[,action]``, space-separated lists.

``name`` may contain ``:`` only in a registry host-port part (``repository:host:5000/app:pull``), so the
actions are what follows the last colon and the type what precedes the first one.
"""
from __future__ import annotations

from dataclasses import dataclass

from dfcommon.errors import DfError


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def covers(self, other: "Scope") -> bool:
        if (self.type, self.name) != (other.type, other.name):
            return False
        return "*" in self.actions or set(other.actions) <= set(self.actions)


def parse_scope(text: str) -> Scope:
    """Parse one ``type:name:actions`` scope; raise INVALID_PARAM on a malformed one."""
    text = (text or "").strip()
    first = text.find(":")
    last = text.rfind(":")
    if first <= 0 or last == first:
        raise DfError("INVALID_PARAM", f"invalid scope {text!r}: expected type:name:actions")
    typ, name, acts = text[:first], text[first + 1:last], text[last + 1:]
    if not name:
        raise DfError("INVALID_PARAM", f"invalid scope {text!r}: empty name")
    actions = tuple(a for a in acts.split(",") if a)
    return Scope(typ, name, actions)


def parse_scopes(text: str | list | None) -> list[Scope]:
    """Parse a space-separated scope list (or a list of such strings)."""
    if not text:
        return []
    parts = text if isinstance(text, (list, tuple)) else [text]
    out = []
    for p in parts:
        out.extend(parse_scope(s) for s in str(p).split() if s)
    return out


def repository_scope(repo: str, *actions: str) -> Scope:
    return Scope("repository", repo, tuple(actions or ("pull",)))


def merge_scopes(scopes) -> list[Scope]:
    """Merge scopes with the same type and name, union of actions, in first-seen order."""
    merged: dict = {}
    for s in scopes:
        key = (s.type, s.name)
        acts = merged.get(key, ())
        merged[key] = acts + tuple(a for a in s.actions if a not in acts)
    return [Scope(t, n, a) for (t, n), a in merged.items()]


def scope_key(scopes) -> str:
    """A stable string for a scope set, for cache keys."""
    return " ".join(sorted(str(Scope(s.type, s.name, tuple(sorted(s.actions)))) for s in merge_scopes(scopes)))
