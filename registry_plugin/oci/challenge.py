"""WWW-Authenticate parsing (RFC 7235): Bearer and Basic challenges, quoted params, several challenges.

A header value may carry several challenges separated by commas, and a response may carry several
``WWW-Authenticate`` lines; :func:`parse_challenges` accepts either a string or a list of strings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68_CHARS = _TOKEN_CHARS | set("/=")


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: a lower-cased scheme and its parameters (keys lower-cased)."""

    scheme: str
    params: dict = field(default_factory=dict)
    token68: str | None = None

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    def __hash__(self):
        return hash((self.scheme, tuple(sorted(self.params.items())), self.token68))


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def skip_ws_commas(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t,":
            self.i += 1

    def eof(self) -> bool:
        return self.i >= len(self.s)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def token(self, chars=_TOKEN_CHARS) -> str:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1
        return self.s[start:self.i]

    def bare(self) -> str:
        """An unquoted value, leniently: everything up to a comma or whitespace."""
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in ", \t":
            self.i += 1
        return self.s[start:self.i]

    def quoted(self) -> str:
        # at the opening quote
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        return "".join(out)  # unterminated: be lenient, take the rest


def _looks_like_param(sc: _Scanner) -> bool:
    """True when the scanner is at ``name =`` (an auth-param) rather than at a new scheme."""
    save = sc.i
    name = sc.token()
    sc.skip_ws()
    ok = bool(name) and sc.peek() == "=" and not sc.s.startswith("==", sc.i)
    sc.i = save
    return ok


def _parse_one(text: str) -> list[Challenge]:
    sc = _Scanner(text)
    out: list[Challenge] = []
    while True:
        sc.skip_ws_commas()
        if sc.eof():
            return out
        scheme = sc.token()
        if not scheme:
            sc.i += 1  # garbage character: skip it
            continue
        params: dict = {}
        token68 = None
        sc.skip_ws()
        if not _looks_like_param(sc) and sc.peek() not in ("", ","):
            t68 = sc.token(_TOKEN68_CHARS)
            if t68:
                token68 = t68
        while True:
            sc.skip_ws_commas()
            if sc.eof() or not _looks_like_param(sc):
                break
            name = sc.token().lower()
            sc.skip_ws()
            sc.i += 1  # '='
            sc.skip_ws()
            value = sc.quoted() if sc.peek() == '"' else sc.bare()
            params.setdefault(name, value)
        out.append(Challenge(scheme.lower(), params, token68))


def parse_challenges(headers) -> list[Challenge]:
    """Parse one header value or a list of header values into challenges, in order."""
    if headers is None:
        return []
    if isinstance(headers, str):
        headers = [headers]
    out: list[Challenge] = []
    for h in headers:
        out.extend(_parse_one(h or ""))
    return out


def response_challenges(response) -> list[Challenge]:
    """Challenges of a ``requests`` response, keeping repeated WWW-Authenticate lines apart."""
    raw = getattr(response, "raw", None)
    lines = None
    if raw is not None and getattr(raw, "headers", None) is not None and hasattr(raw.headers, "getlist"):
        lines = raw.headers.getlist("WWW-Authenticate")
    if not lines:
        value = response.headers.get("WWW-Authenticate")
        lines = [value] if value else []
    return parse_challenges(lines)


def pick(challenges: list[Challenge]) -> Challenge | None:
    """The challenge a registry client answers: Bearer (with a realm) first, then Basic."""
    for c in challenges:
        if c.scheme == "bearer" and c.realm:
            return c
    for c in challenges:
        if c.scheme == "basic":
            return c
    return None
