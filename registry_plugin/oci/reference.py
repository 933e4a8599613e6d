"""Image references: ``[registry/]repository[:tag][@digest]`` with Docker Hub normalisation.

The first path component is a registry when it contains ``.`` or ``:`` or is ``localhost``; otherwise the
image lives on Docker Hub (``docker.io``) and one-component names get the ``library/`` prefix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from dfcommon.digest import is_digest
from dfcommon.errors import DfError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
DOMAIN_RE = re.compile(rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$")
MAX_NAME = 255


def valid_repository(name: str) -> bool:
    return bool(name) and len(name) <= MAX_NAME and bool(REPOSITORY_RE.match(name))


def check_repository(name: str) -> str:
    """Return ``name`` when it follows the repository grammar; raise NAME_INVALID otherwise."""
    if not valid_repository(name):
        raise DfError("NAME_INVALID", f"invalid repository name {name!r}")
    return name


def valid_tag(tag: str) -> bool:
    return bool(TAG_RE.match(tag or ""))


def normalize_registry(host: str) -> str:
    h = host.lower()
    return DOCKER_HUB if h in _HUB_ALIASES else h


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        """What to put after ``/manifests/``: the digest when pinned, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """Host serving the /v2/ API (Docker Hub's API host differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def _split_registry(rest: str, default_registry: str) -> tuple[str, str]:
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not DOMAIN_RE.match(first):
            raise DfError("NAME_INVALID", f"invalid registry host {first!r}")
        return normalize_registry(first), remainder
    return normalize_registry(default_registry), rest


def parse_reference(text: str, default_registry: str = DOCKER_HUB) -> Reference:
    """Parse and normalise an image reference; raise NAME_INVALID / INVALID_PARAM on bad input."""
    if not text or not isinstance(text, str) or text != text.strip():
        raise DfError("NAME_INVALID", f"invalid image reference {text!r}")
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not is_digest(digest):
            raise DfError("DIGEST_INVALID", f"invalid digest {digest!r} in reference {text!r}")
    registry, path = _split_registry(rest, default_registry)
    tag = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
        if not valid_tag(tag):
            raise DfError("INVALID_PARAM", f"invalid tag {tag!r} in reference {text!r}")
    if registry == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    check_repository(path)
    if len(f"{registry}/{path}") > MAX_NAME:
        raise DfError("NAME_INVALID", f"reference name too long in {text!r}")
    return Reference(registry, path, tag, digest)
