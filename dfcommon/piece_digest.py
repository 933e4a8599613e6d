"""The fast piece digest our components agree on, next to the protocol's piece md5.

Dragonfly 1.x checks every wrapped piece with ``md5(header|content|tail):len`` (``pieceMd5``). Between our
own dfget/dfdaemon and our supernode a piece may instead carry ``pieceDigest: "xxh3-128:<32 hex>"``, the
128-bit XXH3 of the same wrapped bytes (xxhash package; about 30x md5's speed here). It is negotiated:

- the client offers it in its ``/peer/registry`` body (``pieceDigests: "xxh3-128"``, a key Dragonfly 1.x's
  supernode ignores);
- our supernode, when its ``fast_digest`` setting is on, answers ``pieceDigest: "xxh3-128"`` in the
  registration data and adds ``pieceDigest`` to the 601 piece entries of that client whose digest it knows;
- a Dragonfly 1.x dfget (which offers nothing) gets exactly the protocol's ``pieceMd5``, and a piece without
  a fast digest is checked with md5 as before. Our supernode computes md5s lazily (only for the clients that
  need them, :mod:`supernode.cdn.lazy_md5`), so an entry with ``pieceDigest`` may carry ``pieceMd5: ""``, and
  the 600 reply to such a client may carry no whole-file md5.

XXH3 is not a cryptographic hash: it guards against corruption in transit and on disk, as the protocol's
md5 does; the whole-blob sha256 of registry layers still guards the content against a peer that lies.
"""
from __future__ import annotations

ALGO = "xxh3-128"


def available() -> bool:
    """Whether this process can compute the fast digest (the xxhash package is installed)."""
    try:
        import xxhash    # noqa: F401
    except ImportError:
        return False
    return True


def new_hasher():
    """A running XXH3-128 (``update``/``hexdigest``)."""
    import xxhash
    return xxhash.xxh3_128()


def encode(hasher) -> str:
    """``"xxh3-128:<hex>"`` of a running hasher."""
    return f"{ALGO}:{hasher.hexdigest()}"


def of(data) -> str:
    """The digest string of a whole wrapped piece."""
    h = new_hasher()
    h.update(data)
    return encode(h)


def parse(value: str) -> str:
    """The hex part of a ``pieceDigest`` this process can check, else "" (unknown algorithm, malformed)."""
    algo, _, hexpart = (value or "").partition(":")
    if algo.lower() != ALGO or len(hexpart) != 32:
        return ""
    try:
        int(hexpart, 16)
    except ValueError:
        return ""
    return hexpart.lower()


def offered(value: str) -> bool:
    """Whether a client's ``pieceDigests`` offer (comma-separated names) includes ours."""
    return ALGO in {v.strip().lower() for v in (value or "").split(",")}
