"""A response body over a running :class:`~.flight.Flight` that the data-path server can send with os.sendfile.

Iterated (TLS, other servers, tests) it yields the flight's blocks as they land, exactly as
:meth:`Flight.body` does. Through :class:`dfcommon.wsgi_server.SendfileHandler` it sends each
1 MiB block straight from the flight's file with ``os.sendfile`` once the flight has written it
(the spec's ``pace`` waits for it), so the bytes never pass through Python. The block holding
the response's last byte still waits for the blob's digest check; a failed flight raises
:class:`~.flight.StreamAborted` and the server drops the connection.
"""
from __future__ import annotations

import os

from dfcommon.wsgi_server import SendfileSpec

from .flight import Flight


class FlightRange:
    """Bytes ``[start, end)`` of a flight's blob; owns and closes ``fd`` (a descriptor on the flight's file)."""

    def __init__(self, flight: Flight, fd: int, start: int, end: int, sent=None, on_close=None):
        self.flight, self.fd, self.start, self.end, self.sent = flight, fd, start, end, sent
        self.on_close = on_close            # called once when the server is done with the body
        self._pos = start
        self._gen = None

    def __iter__(self):
        # the generator closes its own descriptor; ours is closed by close()
        self._gen = self.flight.body(os.dup(self.fd), self.start, self.end, self.sent)
        return self._gen

    def sendfile_spec(self) -> SendfileSpec:
        return SendfileSpec(self.fd, self.start, self.end - self.start, pace=self._pace, sent=self.sent)

    def wait_first_block(self) -> None:
        """Called by the server before the headers: they go out once the first bytes are there, as when
        iterated (a failure before that drops the connection without a status line)."""
        self.flight.wait_readable(min(self.start + 1, self.end), self.end)

    def _pace(self, n: int) -> None:
        """Called by the server before each block of ``n`` bytes: wait until the flight has them."""
        self._pos += n
        self.flight.wait_readable(self._pos, self.end)

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
            if self.on_close is not None:
                self.on_close()
