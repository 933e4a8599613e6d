"""Under gevent, a flight's producer gives its readers a turn after every block it writes.

The dfdaemon runs every request and its blob download as greenlets on one hub. A producer whose
bytes are all there already (a fast upstream, a finished P2P file) never blocks, so without a yield
it would write the whole blob before any client received its first byte. The check runs in a child
interpreter with gevent's monkey patching, as the dfdaemon process does.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import hashlib, os, sys, tempfile
    import gevent
    from dfdaemon.mirror.cache import BlobCache
    from dfdaemon.mirror.flight import Flight

    blocks = [os.urandom(1 << 20) for _ in range(32)]
    digest = "sha256:" + hashlib.sha256(b"".join(blocks)).hexdigest()
    cache = BlobCache(tempfile.mkdtemp(), 1 << 30)
    flight = Flight(digest, cache.writer(digest), stall_timeout=10)
    flight.set_size(sum(map(len, blocks)))
    seen = {}

    def read():
        got = 0
        for data in flight.body(flight.open(), 0, None):
            seen.setdefault("first_at", flight.written)
            got += len(data)
        seen["got"] = got

    def produce():
        for b in blocks:
            flight.write(b)
        flight.finish()

    reader = gevent.spawn(read)
    gevent.sleep(0)                 # the reader is waiting for bytes
    gevent.joinall([gevent.spawn(produce), reader], raise_error=True)
    print(seen["first_at"], seen["got"], flight.state)
""")


def test_reader_gets_bytes_while_the_producer_still_writes(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    first_at, got, state = out.stdout.split()
    assert state == "done" and int(got) == 32 << 20
    assert int(first_at) < 32 << 20            # the first block went out before the last one was written
    assert int(first_at) <= 4 << 20
