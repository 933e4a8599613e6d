"""Result objects of the registry client: manifests, descriptors from HEAD, and streaming blobs."""
from __future__ import annotations

from dataclasses import dataclass, field

BLOCK = 1 << 20


@dataclass
class ManifestResponse:
    content: bytes             # the exact bytes the registry sent; never re-serialised
    media_type: str
    digest: str                # sha256 of content
    header_digest: str | None  # Docker-Content-Digest as sent (informative only)
    headers: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class ContentInfo:
    """What a HEAD (or a resolve) tells about a manifest or blob."""
    media_type: str
    digest: str | None
    size: int | None


class BlobStream:
    """A blob reply being streamed: iterate 1 MiB blocks of the exact bytes, then close.

    The raw bytes are read without Content-Encoding decoding so they hash to the blob digest.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, response, digest: str):
        self.response = response
        self.digest = digest
        self.status_code = response.status_code
        self.headers = response.headers

    @property
    def size(self) -> int | None:
        """Content-Length of this reply (the range length for a 206)."""
        v = self.headers.get("Content-Length")
        return int(v) if v and v.isdigit() else None

    @property
    def total_size(self) -> int | None:
        """Size of the whole blob: from Content-Range on a 206, else Content-Length."""
        cr = self.headers.get("Content-Range")
        if cr and "/" in cr:
            total = cr.rsplit("/", 1)[1].strip()
            return int(total) if total.isdigit() else None
        return self.size

    @property
    def content_range(self) -> tuple[int, int] | None:
        cr = self.headers.get("Content-Range", "")
        if not cr.startswith("bytes ") or "-" not in cr:
            return None
        span = cr[6:].split("/", 1)[0]
        a, _, b = span.partition("-")
        return (int(a), int(b)) if a.isdigit() and b.isdigit() else None

    @property
    def partial(self) -> bool:
        return self.status_code == 206

    def iter_chunks(self, block: int = BLOCK):
        if getattr(self.response, "_content_consumed", False):
            data = self.response.content or b""
            for i in range(0, len(data), block):
                yield data[i:i + block]
            return
        try:
            yield from self.response.raw.stream(block, decode_content=False)
        finally:
            self.close()

    def __iter__(self):
        return self.iter_chunks()

    def read(self, n: int = -1) -> bytes:
        if getattr(self.response, "_content_consumed", False):
            return self.response.content or b""
        return self.response.raw.read(None if n < 0 else n, decode_content=False)

    def close(self) -> None:
        self.response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
