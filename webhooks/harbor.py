"""Harbor webhook payloads, Default format (``Content-Type: application/json``).

Only ``PUSH_ARTIFACT`` is acted on; every other type (pull, delete, scan, quota,
replication, retention) is counted as ignored. Rules kept from Harbor's payload builder:
``resources`` holds one artifact; ``tag`` equals the digest when the push was by digest;
``resource_url`` is ``<external host>/<repo_full_name>:<tag>`` or ``…@<digest>`` without a
scheme, and its host part names the registry; ``repository.name`` is everything after
the project (``proj/a/b`` -> ``a/b``); ``operator`` may be empty or a robot name.
"""
from __future__ import annotations

from .events import ACTION_PUSH, SOURCE_HARBOR, ImageEvent, ParseResult
from . import validate as v

PUSH_TYPE = "PUSH_ARTIFACT"


def split_resource_url(url: str, where: str) -> tuple[str, str]:
    """``harbor.dev:8443/proj/a/b:v1`` -> (``harbor.dev:8443``, ``proj/a/b``)."""
    rest = url.split("://", 1)[1] if "://" in url else url
    host, sep, path = rest.partition("/")
    if not sep or not host or not path:
        raise v.bad(f"{where} has no <host>/<repository> form: {url[:120]!r}")
    if "@" in path:
        repo = path.split("@", 1)[0]
    else:
        last = path.rsplit("/", 1)
        tail = last[-1].split(":", 1)[0]
        repo = f"{last[0]}/{tail}" if len(last) == 2 else tail
    if not repo:
        raise v.bad(f"{where} has no repository: {url[:120]!r}")
    return host, repo


def repository_name(data: dict, where: str, fallback: str) -> str:
    """repo_full_name, else namespace + "/" + name, else the path of resource_url."""
    repo = data.get("repository")
    if repo is None:
        return fallback
    repo = v.mapping(repo, f"{where}.repository")
    full = v.optional_str(repo, "repo_full_name", f"{where}.repository")
    if full:
        return full
    namespace = v.optional_str(repo, "namespace", f"{where}.repository")
    name = v.optional_str(repo, "name", f"{where}.repository")
    if namespace and name:
        return f"{namespace}/{name}"
    return fallback


def parse_push_data(data, where: str, *, operator: str, occurred_at: float, source: str,
                    event_id: str = "") -> list[ImageEvent]:
    """ImageEvents from a push's ``event_data`` (Default) or ``data`` (CloudEvents)."""
    data = v.mapping(data, where)
    resources = v.non_empty_list(data, "resources", where)
    events = []
    for i, res in enumerate(resources):
        rwhere = f"{where}.resources[{i}]"
        res = v.mapping(res, rwhere)
        digest = v.digest_field(res, "digest", rwhere)
        tag = v.optional_str(res, "tag", rwhere)
        url = v.required_str(res, "resource_url", rwhere)
        host, url_repo = split_resource_url(url, f"{rwhere}.resource_url")
        repository = repository_name(data, where, url_repo)
        events.append(ImageEvent(
            action=ACTION_PUSH, registry=host, repository=repository, tag=tag, digest=digest,
            media_type="", operator=operator, occurred_at=occurred_at, source=source,
            event_id=event_id, extra={"repo_type": _repo_type(data)}))
    return events


def _repo_type(data: dict) -> str:
    repo = data.get("repository")
    if isinstance(repo, dict) and isinstance(repo.get("repo_type"), str):
        return repo["repo_type"]
    return ""


def parse_default(payload) -> ParseResult:
    """Parse one Harbor Default delivery; raise DfError(INVALID_PARAM) naming what is wrong."""
    body = v.mapping(payload, "body")
    etype = v.required_str(body, "type", "body")
    if etype != PUSH_TYPE:
        return ParseResult(ignored=1)
    operator = v.optional_str(body, "operator", "body")
    occurred_at = v.unix_seconds(body, "occur_at", "body")
    data = v.field_map(body, "event_data", "body")
    events = parse_push_data(data, "body.event_data", operator=operator,
                             occurred_at=occurred_at, source=SOURCE_HARBOR)
    return ParseResult(events=events)


def looks_like_default(payload) -> bool:
    return isinstance(payload, dict) and "specversion" not in payload and (
        "event_data" in payload or "type" in payload)
