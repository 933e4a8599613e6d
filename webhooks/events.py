"""The one domain event the receivers produce: an image (manifest) was pushed somewhere.

Harbor Default payloads, Harbor CloudEvents and registry:2 notifications are all turned
into :class:`ImageEvent`. The work queue stores it as JSON and the dispatcher hands it to
the preheat seam (:class:`webhooks.dispatcher.PreheatSink`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from dfcommon.digest import is_digest

SOURCE_HARBOR = "harbor"
SOURCE_HARBOR_CLOUDEVENTS = "harbor-cloudevents"
SOURCE_REGISTRY = "registry"

ACTION_PUSH = "push"

MANIFEST_MEDIA_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
})


@dataclass(frozen=True)
class ImageEvent:
    """A manifest pushed to ``registry/repository`` (by ``tag`` or, when ``tag`` is empty, by digest).

    ``registry`` is a host[:port] without scheme; ``digest`` is the manifest digest;
    ``media_type`` is empty when the source does not say (Harbor); ``operator`` may be
    empty; ``occurred_at`` is Unix seconds; ``event_id`` is empty when the source has none.
    """

    action: str
    registry: str
    repository: str
    tag: str
    digest: str
    media_type: str = ""
    operator: str = ""
    occurred_at: float = 0.0
    source: str = ""
    event_id: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        # A push by digest is not a tag: Harbor reports tag == digest in that case.
        if self.tag and (self.tag == self.digest or is_digest(self.tag)):
            object.__setattr__(self, "tag", "")

    @property
    def reference(self) -> str:
        """The reference to pull: the tag when there is one, else the digest."""
        return self.tag or self.digest

    @property
    def image(self) -> str:
        """``registry/repository:tag`` or ``registry/repository@digest``."""
        sep = ":" if self.tag else "@"
        return f"{self.registry}/{self.repository}{sep}{self.reference}"

    def dedup_key(self) -> str:
        """Stable key of "the same push": action, registry, repository, digest and tag.

        Redeliveries (Harbor retries, registry resends, the same push reported twice)
        share it; a new tag on the same digest, or a child of a multi-arch index, does not.
        Source, operator, time and event id are left out on purpose.
        """
        parts = (self.action, self.registry.lower(), self.repository, self.digest, self.tag)
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> "ImageEvent":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "ImageEvent":
        return cls.from_dict(json.loads(text))


@dataclass
class ParseResult:
    """What a parser found in one delivery: events to act on and how many it ignored."""

    events: list = field(default_factory=list)
    ignored: int = 0

    def extend(self, other: "ParseResult") -> None:
        self.events.extend(other.events)
        self.ignored += other.ignored
