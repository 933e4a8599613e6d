"""Authorization check of webhook deliveries.

Harbor sends its target's ``auth_header`` verbatim as ``Authorization`` (no scheme added)
and registry:2 sends the static ``headers`` of its endpoint, so the receiver compares the
whole header value with the configured ones. Comparison is constant-time and every
configured value is compared, so timing says nothing about which one nearly matched.
"""
from __future__ import annotations

import hmac
import logging
from typing import Iterable, Protocol

from dfcommon.errors import DfError

log = logging.getLogger(__name__)


class Authorizer(Protocol):
    def check(self, authorization: str | None) -> None:
        """Return when the delivery is allowed, raise DfError(UNAUTHORIZED) otherwise."""


class HeaderAuthorizer:
    """Accepts a delivery whose Authorization equals one of ``accepted``; none configured = open."""

    def __init__(self, accepted: Iterable[str], receiver: str, on_refused=None):
        self._accepted = [a.strip().encode("utf-8") for a in accepted if a and a.strip()]
        self.receiver = receiver
        self.on_refused = on_refused          # f(receiver, reason) per refused delivery (a metric)

    @property
    def enabled(self) -> bool:
        return bool(self._accepted)

    def check(self, authorization: str | None) -> None:
        if not self._accepted:
            return
        given = (authorization or "").strip().encode("utf-8", "surrogateescape")
        ok = False
        for expected in self._accepted:
            ok |= hmac.compare_digest(given, expected)
        if not ok:
            # never log the value itself
            reason = "missing-authorization" if not given else "wrong-authorization"
            log.warning("webhook rejected receiver=%s reason=%s", self.receiver, reason)
            if self.on_refused is not None:
                self.on_refused(self.receiver, reason.split("-", 1)[0])
            raise DfError("UNAUTHORIZED", f"{self.receiver} webhook: missing or wrong Authorization header")
